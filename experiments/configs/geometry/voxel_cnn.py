"""A 3-D CNN (three 3x3x3 convolutions with max-pooling, an MLP) classifying the 12-class 3-D shape
set from 16³ surface voxels (the 512-point clouds voxelized, lecture 11's voxelization); test
accuracy, and under point dropout and noise (the corrupted clouds voxelized again).

A small run sized for a shared 2-core CPU: 20 shapes per class for training, 5 for validation, 10
for test; Adam 1e-3, batch 16, 12 epochs.
Command: cs231n-jax train --config experiments/configs/geometry/voxel_cnn.py --workdir workdirs/voxel_cnn
Expected: test accuracy 0.433 (chance 0.083), under dropout 0.5 / 0.9: 0.392 / 0.358, noise 0.01 / 0.03: 0.417 / 0.450;
  CPU-2 shared (load ~40), 271 s; docs/results.md
"""

from cs231n_jax.tasks import point_cloud


def get_config():
  c = point_cloud.base_config()
  c.data.update(representation="surface_voxels", num_points=512, resolution=16, train_per_class=20, val_per_class=5,
                test_per_class=10)
  c.model = point_cloud.ml_collections.ConfigDict({"name": "voxel_cnn", "features": (16, 32), "hidden": 64,
                                                   "dropout": 0.3})
  c.train.update(batch_size=16, num_epochs=12, eval_batch_size=120, log_every=15, checkpoint_every=0, keep_checkpoints=1)
  return c
