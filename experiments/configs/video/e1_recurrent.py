"""E1 (motion only; the data of e1_motion.py: 8 frames at 16x16, 2,000 training clips, 1,000 test clips)
for the two models that did not finish in e1_motion.py's run on the loaded CPU-2: the ConvGRU (GRU-RCN)
at half width (8, 16) and the divided space-time transformer at dim 32, depth 2; Adam 1e-3, batch 32,
150 steps (the other E1 models trained 300).

Command: cs231n-jax train --config experiments/configs/video/e1_recurrent.py --workdir workdirs/video_e1_recurrent
Expected: test Video Hit@1 on 1,000 clips: conv_gru 1.0000, video_transformer 0.7610 (still learning at 150 steps)
  (measured on CPU-2, load ~25). The transformer at 600 steps: 1.0000 (best validation at step 400), with
  cs231n-jax train --config experiments/configs/video/e1_recurrent.py --workdir workdirs/video_e1_vt600
  --config.train.num_steps=600 --config.train.eval_every=100 "--config.study.models=('video_transformer',)"
"""

import importlib.util
from pathlib import Path


def _e1():
  spec = importlib.util.spec_from_file_location("e1_motion", Path(__file__).with_name("e1_motion.py"))
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module.get_config()


def get_config():
  c = _e1()
  c.train.num_steps = 150
  c.train.eval_every = 50
  c.study.models = ("conv_gru", "video_transformer")
  c.study.model_kwargs = {"conv_gru": {"widths": (8, 16)}, "video_transformer": {"dim": 32, "mlp_dim": 64}}
  return c
