"""Encoder-decoder FCN, max unpooling at the pooling switches on 56x56 scenes of 1-6 occluding shapes.

Per-pixel cross-entropy, 4 classes (background, circle, square, triangle); mIoU over the classes. Each decoder
level: a 1x1 conv to the pooled layer's width, max unpooling at that pooling layer's switches (the sparse map:
one value per 2x2 block), then two 3x3 convs that fill the block (as SegNet's decoder convolves the unpooled map).
1500 steps of 16 (the shared setting's 600 stopped while val mIoU was still rising: 0.558 / 0.768 / 0.812 at
steps 200 / 400 / 600); the cosine decay spans the 1500 steps.
Command: cs231n-jax train --config experiments/configs/segmentation/encoder_decoder_unpool.py --workdir workdirs/seg_ed_unpool
Expected: test mIoU 0.925 (foreground 0.900), pixel accuracy 0.991; val mIoU 0.925 (best at step 1250; seed 0,
  1500 steps, 7.5 min wall on CPU-2 under load). Goal 0.85: met. At 600 steps it gave 0.818. Transpose convolution at the
  same steps: 0.869 at 600, 0.933 at 1500 (encoder_decoder_transpose.py with --config.train.num_steps=1500).
"""

from cs231n_jax.tasks.segmentation import scenes_config


def get_config():
  c = scenes_config("encoder_decoder", upsample="unpool", widths=(16, 32, 64))
  c.train.update({"num_steps": 1500, "eval_every": 250})
  return c
