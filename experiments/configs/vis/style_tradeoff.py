"""Neural style transfer (lecture 13 V27-V28; Gatys et al. 2016) on MobileNetV2's ImageNet features:
astronaut (content, block_6) in the style of immunohistochemistry (Grams at block_1/3/6/10), from the
content image at 64x64, 150 Adam steps on the pixels, at content weights 0.1, 1, 10 (style weight 1e6); goal: the final
content loss falls and the style loss rises as the content weight grows (monotone). A last run
blends two styles (immunohistochemistry, coffee) by averaged Grams.
Command: cs231n-jax train --config experiments/configs/vis/style_tradeoff.py --workdir workdirs/style_tradeoff
Expected: content loss 2653 / 1792 / 714 and style loss 0.00112 / 0.00155 / 0.00499 at content weights
  0.1 / 1 / 10 (monotone); CPU-2 (shared, load ~45), 17 min wall; docs/results.md.
"""

import ml_collections


def get_config():
  c = ml_collections.ConfigDict()
  c.runner = "cs231n_jax.studies.style_transfer:run_algorithm"
  c.algorithm = "style"
  c.features = ml_collections.ConfigDict({
      "name": "mobilenet_v2", "channels": (), "seed": 0, "content_layers": {"block_6": 1.0},
      "style_layers": {"block_1": 1.0, "block_3": 1.0, "block_6": 1.0, "block_10": 1.0}})
  c.content = "astronaut"
  c.styles = ("photo:immunohistochemistry", "photo:coffee")
  c.size = 64
  c.style_size = 64
  c.content_weights = (0.1, 1.0, 10.0)
  c.style_weight = 1e6
  c.tv_weight = 0.0
  c.num_steps = 150
  c.learning_rate = 0.02
  return c
