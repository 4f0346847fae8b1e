"""Feature inversion with the total-variation regulariser (lecture 13 V20-V22) from four depths of
MobileNetV2 (ImageNet): block_1, block_3, block_6, block_13; coffee at 96x96, from uniform noise,
300 Adam steps on the pixels with the step cosine-decayed from 0.05 to 0, TV weight 1e-4. Goals: the
feature loss falls >= 100x; is the reconstruction classified (top-1) as the source image?
Command: cs231n-jax train --config experiments/configs/vis/inversion.py --workdir workdirs/vis_inversion3
Expected: feature loss down 309x from block_1 (reconstruction classified 967 espresso, as the source), 70.1x
  from block_3 (749), 47.2x from block_6 (513), 24.2x from block_13 (749): the 100x goal and the class are
  reached from block_1 only; CPU-2 (shared, load ~24), 213 s wall; docs/results.md.
"""

import ml_collections


def get_config():
  c = ml_collections.ConfigDict()
  c.runner = "cs231n_jax.studies.style_transfer:run_algorithm"
  c.algorithm = "inversion"
  c.features = ml_collections.ConfigDict({"name": "mobilenet_v2", "channels": (), "seed": 0})
  c.image = "coffee"
  c.size = 96
  c.layers = ("block_1", "block_3", "block_6", "block_13")
  c.tv_weight = 1e-4
  c.num_steps = 300
  c.learning_rate = 0.05
  c.schedule = "cosine"  # Adam's step decays to 0 (the constant 0.02 of the first run plateaued the same)
  return c
