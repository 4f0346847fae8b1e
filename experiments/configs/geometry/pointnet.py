"""PointNet (input transform, shared MLP, max-pool) classifying the 12-class 3-D shape set from 512
surface points; test accuracy, and under point dropout and Gaussian point noise.

80 shapes per class for training (random rotation, scale, shift), 20 for validation, 40 for test;
Adam 1e-3, batch 32, 20 epochs; the best val accuracy's parameters are tested.
Command: cs231n-jax train --config experiments/configs/geometry/pointnet.py --workdir workdirs/pointnet
Expected: not yet measured
"""

from cs231n_jax.tasks import point_cloud


def get_config():
  c = point_cloud.base_config()
  c.data.update(representation="points", num_points=512)
  c.model = point_cloud.ml_collections.ConfigDict({"name": "pointnet", "features": (64, 128, 256), "head": (128, 64),
                                                   "input_transform": True, "dropout": 0.3})
  c.train.update(batch_size=32, num_epochs=20, eval_batch_size=240, log_every=30, checkpoint_every=0, keep_checkpoints=1)
  return c
