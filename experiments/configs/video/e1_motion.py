"""E1, motion only: a digit or shape moves left or right on a wrapping 16x16 canvas, 8 frames; every
single frame has the same distribution under both classes (cs231n_jax.data.clips), so the single-frame
model must sit at chance while models that see time separate the classes. Eight models through the
engine, Adam 1e-3, batch 32, 300 steps, 2,000 training clips, 1,000 test clips; one table.

Command: cs231n-jax train --config experiments/configs/video/e1_motion.py --workdir workdirs/video_e1
Expected: test Video Hit@1 on 1,000 clips: single_frame 0.5030 (within 3 sigma of chance), early_fusion 1.0000,
  late_fusion 0.9930, slow_fusion 1.0000, c3d_tiny 1.0000, two_stream 1.0000 (measured on CPU-2); conv_gru and
  video_transformer did not finish in this run on the loaded machine: see e1_recurrent.py (conv_gru 1.0000
  at 150 steps, the transformer 1.0000 at 600)
"""

from cs231n_jax.tasks.video import base_config


def get_config():
  c = base_config()
  c.runner = "cs231n_jax.studies.video:run_table"
  c.data.kind = "motion"
  c.data.frames = 8
  c.data.size = 16
  c.data.num_train = 2000
  c.data.num_val = 250
  c.data.num_test = 1000
  c.train.num_steps = 300
  c.train.eval_every = 100
  c.train.progress = False
  c.study = {"models": ("single_frame", "early_fusion", "late_fusion", "slow_fusion", "c3d_tiny", "two_stream", "conv_gru",
                        "video_transformer"),
             "model_kwargs": {}, "flow": "ground_truth", "timing_batch": 32}
  return c
