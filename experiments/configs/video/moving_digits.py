"""The 10-class moving-digit set: a digit (of the held-out digit images for val / test) bouncing on a
16x16 canvas for 8 frames, an occluding shape in half the clips, pixel noise; videos of 2 clips for
video-level Hit@k. Every model through the engine in one run, one table with accuracy, parameters,
GMACs, compile and train-step time (CPU-2, batch 32). Adam 1e-3, batch 32, 600 steps, 3,000 clips.

Command: cs231n-jax train --config experiments/configs/video/moving_digits.py --workdir workdirs/video_digits
Expected: not yet measured (not run on CPU-2 before the deadline; docs/results.md)
"""

from cs231n_jax.tasks.video import base_config


def get_config():
  c = base_config()
  c.runner = "cs231n_jax.studies.video:run_table"
  c.data.kind = "digits"
  c.data.frames = 8
  c.data.size = 16
  c.data.clips_per_video = 2
  c.data.num_train = 3000
  c.data.num_val = 200
  c.data.num_test = 500
  c.train.num_steps = 600
  c.train.eval_every = 200
  c.train.progress = False
  c.study = {"models": ("single_frame", "early_fusion", "late_fusion", "slow_fusion", "c3d_tiny", "two_stream", "lrcn",
                        "conv_gru", "video_transformer"),
             "model_kwargs": {}, "flow": "ground_truth", "timing_batch": 32}
  return c
