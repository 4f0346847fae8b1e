"""PointNet (input transform, shared MLP, max-pool) classifying the 12-class 3-D shape set from 256
surface points; test accuracy, and under point dropout and Gaussian point noise.

A small run sized for a shared 2-core CPU: 20 shapes per class for training (random rotation, scale,
shift), 5 for validation, 10 for test; Adam 1e-3, batch 16, 12 epochs; the best val accuracy's
parameters are tested.
Command: cs231n-jax train --config experiments/configs/geometry/pointnet.py --workdir workdirs/pointnet
Expected: test accuracy 0.233 (chance 0.083), under dropout 0.5 / 0.9: 0.233 / 0.242, noise 0.01 / 0.03: 0.225 / 0.167;
  CPU-2 shared (load ~40), 163 s; docs/results.md
"""

from cs231n_jax.tasks import point_cloud


def get_config():
  c = point_cloud.base_config()
  c.data.update(representation="points", num_points=256, train_per_class=20, val_per_class=5, test_per_class=10)
  c.model = point_cloud.ml_collections.ConfigDict({"name": "pointnet", "features": (32, 64, 128), "head": (64, 32),
                                                   "input_transform": True, "dropout": 0.3})
  c.train.update(batch_size=16, num_epochs=12, eval_batch_size=120, log_every=15, checkpoint_every=0, keep_checkpoints=1)
  return c
