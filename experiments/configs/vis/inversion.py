"""Feature inversion with the total-variation regulariser (lecture 13 V20-V22) from two depths of
MobileNetV2 (ImageNet): block_6 and block_13; coffee at 96x96, from uniform noise,
Adam on the pixels. Goals: the feature loss falls >= 100x; is the reconstruction classified (top-1)
as the source image?
Command: cs231n-jax train --config experiments/configs/vis/inversion.py --workdir workdirs/inversion
Expected: feature loss down 51.6x (block_6) and 29.2x (block_13), short of 100x; the reconstructions are
  classified 513 and 749, not the source's 967 (espresso); CPU-2 (shared, load ~45), 16 min wall; docs/results.md.
"""

import ml_collections


def get_config():
  c = ml_collections.ConfigDict()
  c.runner = "cs231n_jax.studies.style_transfer:run_algorithm"
  c.algorithm = "inversion"
  c.features = ml_collections.ConfigDict({"name": "mobilenet_v2", "channels": (), "seed": 0})
  c.image = "coffee"
  c.size = 96
  c.layers = ("block_6", "block_13")
  c.tv_weight = 1e-3
  c.num_steps = 300
  c.learning_rate = 0.02
  return c
