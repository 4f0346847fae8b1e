"""Encoder-decoder FCN, transpose-convolution upsampling (3x3, stride 2, pad 1) on 56x56 scenes of 1-6 occluding shapes.

Per-pixel cross-entropy, 4 classes (background, circle, square, triangle); mIoU over the classes.
Command: cs231n-jax train --config experiments/configs/segmentation/encoder_decoder_transpose.py --workdir workdirs/seg_ed_transpose
Expected: not yet measured.
"""

from cs231n_jax.tasks.segmentation import scenes_config


def get_config():
  return scenes_config("encoder_decoder", upsample="transpose", widths=(16, 32, 64))
