"""A 3-D CNN (two 3x3x3 convolutions with max-pooling, an MLP) classifying the 12-class 3-D shape set
from 16³ surface voxels (512-point clouds voxelized: lecture 11's voxelization); test accuracy, and
under point dropout and noise (the corrupted clouds voxelized again).

As for PointNet (experiments/configs/geometry/pointnet.py), every training cloud is rotated at random
at every step (data.rotate = "so3"), so the data are clouds and the step voxelizes them on the device.
60 shapes per class for training, 10 for validation, 20 for test; Adam 1e-3 with a cosine schedule,
batch 32, 1,000 steps.
Command: cs231n-jax train --config experiments/configs/geometry/voxel_cnn.py --workdir workdirs/voxel_cnn
Expected: test accuracy 0.792 (chance 0.083; best val 0.775 at step 750, whose parameters are tested; train 0.829), under
  dropout 0.5 / 0.9: 0.800 / 0.558, noise 0.01 / 0.03: 0.821 / 0.771 (240 test shapes: one shape is 0.004); step 982 ms,
  compile 22.2 s; CPU-2 shared (load ~20), 21 min with the data; docs/results.md
"""

from cs231n_jax.tasks import point_cloud


def get_config():
  c = point_cloud.base_config()
  c.data.update(representation="surface_voxels", num_points=512, resolution=16, train_per_class=60, val_per_class=10,
                test_per_class=20, rotate="so3")
  c.model = point_cloud.ml_collections.ConfigDict({"name": "voxel_cnn", "features": (16, 32), "hidden": 64,
                                                   "dropout": 0.3})
  c.optimizer.schedule.name = "cosine"
  c.train.update(batch_size=32, num_epochs=0, num_steps=1000, eval_every=250, eval_batch_size=240, log_every=50,
                 checkpoint_every=0, keep_checkpoints=1)
  return c
