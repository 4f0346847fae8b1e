"""U-Net (skip connections by concatenation) on 56x56 scenes of 1-6 occluding shapes.

Per-pixel cross-entropy, 4 classes (background, circle, square, triangle); mIoU over the classes.
Command: cs231n-jax train --config experiments/configs/segmentation/unet.py --workdir workdirs/seg_unet
Expected: test mIoU 0.929 (foreground 0.905), pixel accuracy 0.992; val mIoU 0.919 (seed 0, 600 steps, CPU-2 under load). Goal 0.85: met.
"""

from cs231n_jax.tasks.segmentation import scenes_config


def get_config():
  return scenes_config("unet", widths=(16, 32, 64))
