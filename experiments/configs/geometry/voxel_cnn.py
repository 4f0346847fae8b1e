"""A 3-D CNN (three 3x3x3 convolutions with max-pooling, an MLP) classifying the 12-class 3-D shape
set from 24³ surface voxels (the 1,024-point clouds voxelized, lecture 11's voxelization); test
accuracy, and under point dropout and noise (the corrupted clouds voxelized again).

80 shapes per class for training, 20 for validation, 40 for test; Adam 1e-3, batch 32, 20 epochs.
Command: cs231n-jax train --config experiments/configs/geometry/voxel_cnn.py --workdir workdirs/voxel_cnn
Expected: not yet measured
"""

from cs231n_jax.tasks import point_cloud


def get_config():
  c = point_cloud.base_config()
  c.data.update(representation="surface_voxels", num_points=1024, resolution=24)
  c.model = point_cloud.ml_collections.ConfigDict({"name": "voxel_cnn", "features": (16, 32, 64), "hidden": 128,
                                                   "dropout": 0.3})
  c.train.update(batch_size=32, num_epochs=20, eval_batch_size=240, log_every=30, checkpoint_every=0, keep_checkpoints=1)
  return c
