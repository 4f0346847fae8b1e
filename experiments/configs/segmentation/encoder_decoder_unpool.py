"""Encoder-decoder FCN, max unpooling at the pooling switches on 56x56 scenes of 1-6 occluding shapes.

Per-pixel cross-entropy, 4 classes (background, circle, square, triangle); mIoU over the classes.
Command: cs231n-jax train --config experiments/configs/segmentation/encoder_decoder_unpool.py --workdir workdirs/seg_ed_unpool
Expected: test mIoU 0.818 (foreground 0.759), pixel accuracy 0.976; val mIoU 0.812 (seed 0, 600 steps, CPU-2 under load). Goal 0.85: not met
  at 600 steps (the transpose-convolution variant reaches 0.869 with the same steps); the loss was still falling.
"""

from cs231n_jax.tasks.segmentation import scenes_config


def get_config():
  return scenes_config("encoder_decoder", upsample="unpool", widths=(16, 32, 64))
