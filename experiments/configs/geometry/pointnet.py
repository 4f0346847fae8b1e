"""PointNet (input transform, shared MLP 64-128-256, max-pool, MLP head) classifying the 12-class 3-D
shape set from 256 surface points; test accuracy, and under point dropout and Gaussian point noise.

The shapes are at a uniformly random 3-D rotation (max_tilt = pi), so every training cloud is rotated
again at random on the device at every step (data.rotate = "so3": the same pose distribution, an
endless stream of new poses; PointNet is not rotation invariant and 60 shapes per class alone do not
teach it). 60 shapes per class for training, 10 for validation, 20 for test; Adam 1e-3 with a cosine
schedule, batch 32, 1,500 steps; the best val accuracy's parameters are tested.
Command: cs231n-jax train --config experiments/configs/geometry/pointnet.py --workdir workdirs/pointnet
Expected: test accuracy 0.750 (chance 0.083; best val 0.733 at step 1,000; train 0.744: under-, not over-fitted),
  under dropout 0.5 / 0.9: 0.713 / 0.192, noise 0.01 / 0.03: 0.746 / 0.717; CPU-2 shared (load ~25), 11.5 min with the
  data (396 s of training); docs/results.md
"""

from cs231n_jax.tasks import point_cloud


def get_config():
  c = point_cloud.base_config()
  c.data.update(representation="points", num_points=256, train_per_class=60, val_per_class=10, test_per_class=20,
                rotate="so3")
  c.model = point_cloud.ml_collections.ConfigDict({"name": "pointnet", "features": (64, 128, 256), "head": (128, 64),
                                                   "input_transform": True, "dropout": 0.3})
  c.optimizer.schedule.name = "cosine"
  c.train.update(batch_size=32, num_epochs=0, num_steps=1500, eval_every=250, eval_batch_size=240, log_every=50,
                 checkpoint_every=0, keep_checkpoints=1)
  return c
