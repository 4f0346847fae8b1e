"""DCGAN on 8x8 digits: project z to 2x2, stride-2 transposed convs with batch norm and ReLU, tanh output; a
strided-conv LeakyReLU discriminator with batch norm (Radford et al. 2016 guidelines), non-saturating loss.

Command: cs231n-jax train --config experiments/configs/generative/dcgan.py --workdir workdirs/dcgan
Expected: measured on CPU-2 (docs/results.md, "Lecture 13"): see the sample-quality table there.
"""

from cs231n_jax.generative.configs import gan_config


def get_config():
  c = gan_config("dcgan")
  # 32 base features (G: 2x2x64 -> 4x4x32 -> 8x8x1): at 64, XLA's CPU transposed convolutions make a step
  # 25x slower (339 vs 13 ms measured) for no gain on 8x8 images.
  c.model.base_features = 32
  return c
