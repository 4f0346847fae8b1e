"""DeepDream (lecture 13 V18-V19) exactly as the lecture's make_step: jitter up to 32 px by roll /
unroll, the L1-normalised step 1.5 / mean|g| (0-255 pixel units), clipping; plus 3 octaves (scale 1.4).
MobileNetV2 (ImageNet) at block_13 and block_16, chelsea at 224x224; goal: sum f^2 at the layer after 20 steps
>= 10x before.
Command: cs231n-jax train --config experiments/configs/vis/deepdream.py --workdir workdirs/deepdream
Expected: at block_10 (the earlier setting) sum f^2 rose 3.70x in 20 steps, 4.51x with 3 octaves,
  short of 10x; block_13 3.37x, block_16 3.37x, block_16 with 2 octaves 4.08x; CPU-2 (shared, load ~45), 8 min wall.
"""

import ml_collections


def get_config():
  c = ml_collections.ConfigDict()
  c.runner = "cs231n_jax.studies.style_transfer:run_algorithm"
  c.algorithm = "deepdream"
  c.features = ml_collections.ConfigDict({"name": "mobilenet_v2", "channels": (), "seed": 0})
  c.image = "chelsea"
  c.size = 224
  c.layers = ("block_13", "block_16")  # octaves at the last
  c.num_steps = 20
  c.step_size = 1.5
  c.jitter = 32
  c.octaves = 2
  c.octave_scale = 1.4
  return c
