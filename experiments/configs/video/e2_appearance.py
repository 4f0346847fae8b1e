"""E2, appearance only: which of four shapes moves (bouncing, the motion independent of the class), 8
frames at 16x16. The single-frame model should be within a few points of slow fusion at fewer
parameters (the lecture's "motion didn't add all that much" on Sports-1M: 59.3% -> 60.9% Video Hit@1,
cited, not reproduced). Adam 1e-3, batch 32, 300 steps, 2,000 training clips, 1,000 test videos.

Command: cs231n-jax train --config experiments/configs/video/e2_appearance.py --workdir workdirs/video_e2
Expected: test Video Hit@1 single_frame 1.0000 (37,892 params), slow_fusion 0.9990 (42,116 params), 1,000 test
  videos; measured on CPU-2 (docs/results.md)
"""

from cs231n_jax.tasks.video import base_config


def get_config():
  c = base_config()
  c.runner = "cs231n_jax.studies.video:run_table"
  c.data.kind = "appearance"
  c.data.frames = 8
  c.data.size = 16
  c.data.num_train = 2000
  c.data.num_val = 250
  c.data.num_test = 1000
  c.train.num_steps = 300
  c.train.eval_every = 100
  c.train.progress = False
  c.study = {"models": ("single_frame", "slow_fusion"), "model_kwargs": {}, "flow": "", "timing_batch": 32}
  return c
