"""E4's two streams with *estimated* optical flow: the temporal stream reads scikit-image's iterative
Lucas-Kanade flow (optical_flow_ilk, computed per pair of frames of the noisy clips; a substitute for the
lecture's Brox-Malik flow, which has no offline implementation) instead of the generator's ground truth.
The training of e4_two_stream.py (E1's left / right clips, 8 frames at 16x16; Adam 1e-3, batch 32, 100
steps) on fewer clips (500 training, 100 validation, 500 test: scikit-image's iLK takes ~15 ms per pair of
frames under load, 7 pairs per clip), the spatial and temporal streams fused by averaged softmax and by a
linear SVM on the validation scores; no small-data sweep.

Command: cs231n-jax train --config experiments/configs/video/e4_estimated_flow.py --workdir workdirs/video_e4_ilk
Expected: test Video Hit@1 on 500 clips: spatial 0.5060, temporal (iLK flow) 1.0000, fusion by averaged softmax
  1.0000, by linear SVM 1.0000 (measured on CPU-2)
"""

import importlib.util
from pathlib import Path


def _e4():
  spec = importlib.util.spec_from_file_location("e4_two_stream", Path(__file__).with_name("e4_two_stream.py"))
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module.get_config()


def get_config():
  c = _e4()
  c.data.flow = "ilk"
  c.study.flow = "ilk"
  c.study.train_sizes = ()
  c.data.num_train = 500
  c.data.num_val = 100
  c.data.num_test = 500
  return c
