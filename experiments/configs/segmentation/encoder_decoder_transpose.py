"""Encoder-decoder FCN, transpose-convolution upsampling (3x3, stride 2, pad 1) on 56x56 scenes of 1-6 occluding shapes.

Per-pixel cross-entropy, 4 classes (background, circle, square, triangle); mIoU over the classes.
Command: cs231n-jax train --config experiments/configs/segmentation/encoder_decoder_transpose.py --workdir workdirs/seg_ed_transpose
Expected: test mIoU 0.869 (foreground 0.828), pixel accuracy 0.983; val mIoU 0.866 (seed 0, CPU-2; wall time not
  representative: the machine was shared by ~20 jobs).
"""

from cs231n_jax.tasks.segmentation import scenes_config


def get_config():
  return scenes_config("encoder_decoder", upsample="transpose", widths=(16, 32, 64))
