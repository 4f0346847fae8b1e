"""DeepDream (lecture 13 V18-V19) exactly as the lecture's make_step: jitter up to 32 px by roll /
unroll, the L1-normalised step 1.5 / mean|g| (0-255 pixel units), clipping; plus 2 octaves (scale 1.4).
MobileNetV2 (ImageNet) at block_10 and block_1, chelsea at 224x224; goal: sum f^2 at the layer after 20 steps
>= 10x before.
Command: cs231n-jax train --config experiments/configs/vis/deepdream.py --workdir workdirs/vis_deepdream3
Expected: block_10 4,519 -> 16,799 (3.72x, short of 10x); block_1 38,147 -> 525,696 (13.8x, goal reached),
  19.2x with 2 octaves (scale 1.4); CPU-2 (shared, load ~24), 130 s wall; docs/results.md
  (deeper blocks stay at 2.4-3.8x).
"""

import ml_collections


def get_config():
  c = ml_collections.ConfigDict()
  c.runner = "cs231n_jax.studies.style_transfer:run_algorithm"
  c.algorithm = "deepdream"
  c.features = ml_collections.ConfigDict({"name": "mobilenet_v2", "channels": (), "seed": 0})
  c.image = "chelsea"
  c.size = 224
  c.layers = ("block_10", "block_1")  # octaves at the last
  c.num_steps = 20
  c.step_size = 1.5
  c.jitter = 32
  c.octaves = 2
  c.octave_scale = 1.4
  return c
