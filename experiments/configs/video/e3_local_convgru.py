"""E3 (order of events; the data of e3_order.py: 32 frames at 16x16, two 2-frame events at least 8 frames
apart and 6 from the ends, 2,000 training clips, 1,000 test clips) for the two models that did not finish
in e3_order.py's run on the loaded CPU-2: the local 3-D CNN (temporal receptive field 5, scores averaged
over time; chance by construction) at half width (8, 16), and the ConvGRU (GRU-RCN) with a per-frame
stem of 3x3 convolutions (8, 16; 2x2 max pooling: a 4x4 map) under one recurrent layer of 16 whose
update-gate bias starts at -3 (the state starts kept: the GRU's forget-gate-bias trick); Adam 1e-3,
batch 32, 150 steps (LRCN trained 300).

Command: cs231n-jax train --config experiments/configs/video/e3_local_convgru.py --workdir workdirs/video_e3_local_convgru
Expected: local_3d_cnn test Video Hit@1 0.4970 on 1,000 clips (within 3 sigma of chance) after 40 steps on
  1,000 training clips, with --config.train.num_steps=40 --config.train.eval_every=40 --config.data.num_train=1000
  "--config.study.models=('local_3d_cnn',)" (measured on CPU-2, load ~20);
  conv_gru test Video Hit@1 1.0000 on 1,000 clips (best validation at step 375; 0.790 at step 250), with
  --config.train.num_steps=500 --config.train.eval_every=125 --config.data.num_train=1000
  "--config.study.models=('conv_gru',)" (measured on CPU-2, load ~20; run as 250 steps, then resumed to 500)
"""

import importlib.util
from pathlib import Path


def _e3():
  spec = importlib.util.spec_from_file_location("e3_order", Path(__file__).with_name("e3_order.py"))
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module.get_config()


def get_config():
  c = _e3()
  c.train.num_steps = 150
  c.train.eval_every = 50
  c.study.models = ("local_3d_cnn", "conv_gru")
  c.study.model_kwargs = {"local_3d_cnn": {"widths": (8, 16)}, "conv_gru": {"stem": (8, 16), "widths": (16,), "update_bias": -3.0}}
  return c
