"""Texture synthesis (lecture 13 V23-V25): Gram-matrix synthesis of scikit-image's brick, grass and gravel
textures on MobileNetV2's ImageNet features (the lecture uses VGG-19, which is not available
offline), and a nearest-neighbour scanline synthesis that copies input pixels.

From uniform noise, Adam on the pixels minimises sum_l w_l E_l over MobileNetV2's block_1, block_3,
block_6 and block_10; the goal is a Gram loss reduction >= 100x that ends below the Gram loss of a crop
of an unrelated texture (brick <- grass, grass <- gravel, gravel <- brick).
Command: cs231n-jax train --config experiments/configs/vis/texture_gram.py --workdir workdirs/vis_texture_gram3
Expected: brick Gram loss 0.604 -> 0.00378 (160x), below a grass crop's 0.0941; grass 0.498 -> 0.000518 (961x),
  below a gravel crop's 0.0394; gravel 0.545 -> 0.000471 (1155x), below a brick crop's 0.0734; the
  nearest-neighbour output copies input pixels only; CPU-2 (shared, load ~24), 120 s wall (one compilation
  for the three textures); docs/results.md.
"""

import ml_collections


def get_config():
  c = ml_collections.ConfigDict()
  c.runner = "cs231n_jax.studies.style_transfer:run_algorithm"
  c.algorithm = "texture"
  c.features = ml_collections.ConfigDict({
      "name": "mobilenet_v2", "channels": (), "seed": 0,
      "style_layers": {"block_1": 1.0, "block_3": 1.0, "block_6": 1.0, "block_10": 1.0}})
  c.textures = ("brick", "grass", "gravel")
  c.unrelated = {"brick": "grass", "grass": "gravel", "gravel": "brick"}
  c.size = 64
  c.offset = (64, 64)
  c.num_steps = 300
  c.learning_rate = 0.02
  c.nn_size = 24  # nearest-neighbour synthesis: a 24x24 crop grown to 48x48
  c.nn_radius = 2
  return c
