"""The 10-class moving-digit set: a digit (of the held-out digit images for val / test) bouncing on a
16x16 canvas for 8 frames, an occluding shape in half the clips, pixel noise; videos of 2 clips for
video-level Hit@k. Every model through the engine in one run, one table with accuracy, parameters,
GMACs (the CNN zoo's counter), compile and train-step time (one SGD step at batch 32, measured in the same
run, so the timings are comparable with each other). Sized so the nine models finish in about 15-20
minutes on the loaded 2-core CPU: Adam 1e-3, batch 32, 150 steps each (one evaluation, at the end),
1,000 training clips, 100 validation and 300 test videos of 2 clips; the ConvGRU with a per-frame stem
(8, 16) and one recurrent layer of 16 on the 4x4 map, the transformer at dim 32 (E1's sizes).

Command: cs231n-jax train --config experiments/configs/video/moving_digits.py --workdir workdirs/video_digits
Expected: test Video Hit@1 on 300 videos (chance 0.10): single_frame 0.300, early_fusion 0.190, late_fusion 0.253,
  slow_fusion 0.190, c3d_tiny 0.130, two_stream 0.257, lrcn 0.453, conv_gru 0.180, video_transformer 0.150: every
  model still far from trained at 150 steps (training-set Video Hit@1 0.12-0.52); 23 min for the nine on CPU-2 at
  load ~18 (measured on CPU-2; table in docs/results.md)
"""

from cs231n_jax.tasks.video import base_config


def get_config():
  c = base_config()
  c.runner = "cs231n_jax.studies.video:run_table"
  c.data.kind = "digits"
  c.data.frames = 8
  c.data.size = 16
  c.data.clips_per_video = 2
  c.data.num_train = 1000
  c.data.num_val = 100
  c.data.num_test = 300
  c.train.num_steps = 150
  c.train.eval_every = 150
  c.train.progress = False
  c.study = {"models": ("single_frame", "early_fusion", "late_fusion", "slow_fusion", "c3d_tiny", "two_stream", "lrcn",
                        "conv_gru", "video_transformer"),
             "model_kwargs": {"conv_gru": {"stem": (8, 16), "widths": (16,)},
                              "video_transformer": {"dim": 32, "mlp_dim": 64}},
             "flow": "ground_truth", "timing_batch": 32}
  return c
