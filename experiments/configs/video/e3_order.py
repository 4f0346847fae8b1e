"""E3, order of events: 32-frame 16x16 clips with two brief (2-frame) events at least 8 frames apart and 6
frames from the ends; the class is which came first. A local 3-D CNN (temporal receptive field 5 frames)
with temporal average pooling sees the same multiset of windows under both classes (chance by
construction); CNN+LSTM (LRCN) and the ConvGRU (GRU-RCN) can carry the first event to the second. Adam
1e-3, batch 32, 400 steps, 2,000 training clips, 1,000 test clips.

Command: cs231n-jax train --config experiments/configs/video/e3_order.py --workdir workdirs/video_e3
Expected: lrcn test Video Hit@1 0.9960 on 1,000 clips at 300 steps (measured on CPU-2, one run per model);
  local_3d_cnn and conv_gru: see e3_local_convgru.py (local 3-D CNN 0.4970, at chance; ConvGRU with a stem 1.0000)
"""

from cs231n_jax.tasks.video import base_config


def get_config():
  c = base_config()
  c.runner = "cs231n_jax.studies.video:run_table"
  c.data.kind = "order"
  c.data.frames = 32
  c.data.size = 16
  c.data.gap = 8
  c.data.margin = 6
  c.data.event_frames = 2
  c.data.num_train = 2000
  c.data.num_val = 250
  c.data.num_test = 1000
  c.train.num_steps = 400
  c.train.eval_every = 100
  c.train.progress = False
  c.study = {"models": ("local_3d_cnn", "lrcn", "conv_gru"), "model_kwargs": {}, "flow": "", "timing_batch": 32}
  return c
