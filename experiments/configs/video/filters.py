"""First-layer spatio-temporal filters (Karpathy et al. 2014's figure; lecture 14): an early-fusion model
whose first layer is 16 filters of 5x5 over 4 frames, trained on E1 (motion) and on E2 (appearance),
filters drawn as frame strips with a direction-selectivity index (DSI, cs231n_jax.studies.video).
A model trained on motion should have more direction-selective filters. Adam 1e-3, batch 32, 300 steps.

Command: cs231n-jax train --config experiments/configs/video/filters.py --workdir workdirs/video_filters
Expected: mean DSI 0.689 (13/16 filters > 0.5) trained on E1 vs 0.485 (8/16) on E2, random filters 0.514; test Video
  Hit@1 1.000 / 0.952 (measured on CPU-2); figure docs/figures/video_filters.png
"""

from cs231n_jax.tasks.video import base_config


def get_config():
  c = base_config()
  c.runner = "cs231n_jax.studies.video:run_filters"
  c.data.frames = 8
  c.data.size = 16
  c.data.num_train = 2000
  c.data.num_val = 250
  c.data.num_test = 500
  c.train.num_steps = 300
  c.train.eval_every = 100
  c.train.progress = False
  c.study = {"filter_model": "early_fusion", "model_kwargs": {"early_fusion": {"fusion_frames": 4, "first_kernel": (5, 5)}},
             "flow": "", "timing_batch": 32, "figure": "docs/figures/video_filters.png"}
  return c
