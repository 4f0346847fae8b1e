"""Fully convolutional net without downsampling (six 3x3 convs at full resolution) on 56x56 scenes of 1-6 occluding shapes.

Per-pixel cross-entropy, 4 classes (background, circle, square, triangle); mIoU over the classes.
Command: cs231n-jax train --config experiments/configs/segmentation/fcn_flat.py --workdir workdirs/seg_fcn_flat
Expected: not yet measured.
"""

from cs231n_jax.tasks.segmentation import scenes_config


def get_config():
  return scenes_config("fcn_flat", width=32, depth=6)
