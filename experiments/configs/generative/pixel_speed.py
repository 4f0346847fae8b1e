"""PixelCNN vs PixelRNN speed: training-step time (parallel vs sequential) and sampling time per image, as ratios.

Each model at about the same parameter count (PixelCNN ~ gated ~ Row LSTM ~ Diagonal BiLSTM, within 20%), on
random 17-level images of 8x8 and 16x16, batch 64, in one process; the sampler's cost in units of one batched
forward pass shows the H*W sequential steps of generation.
Command: cs231n-jax train --config experiments/configs/generative/pixel_speed.py --workdir workdirs/pixel_speed
Expected: measured on CPU-2 in 147 s (docs/benchmarks.md, "Generative"): train step relative to PixelCNN
  gated 1.96x / 1.70x, Row LSTM 1.22x / 2.24x, Diagonal BiLSTM 4.00x / 4.12x at 8x8 / 16x16; sampling a batch costs
  57-103 (8x8, 64 steps) and 231-252 (16x16, 256 steps) forward passes of it.
"""

import ml_collections


def get_config():
  c = ml_collections.ConfigDict()
  c.runner = "cs231n_jax.studies.generative_evaluation:run_pixel_speed"
  c.sizes = (8, 16)
  c.num_levels = 17
  c.batch_size = 64
  c.sample_batch = 16
  c.repeats = 10
  c.models = ml_collections.ConfigDict({
      "pixelcnn": {"features": 32, "num_layers": 4, "first_kernel": 7, "head_features": 64},
      "gated_pixelcnn": {"features": 24, "num_layers": 4, "first_kernel": 5, "head_features": 64},
      "row_lstm": {"hidden": 24, "num_layers": 2, "first_kernel": 7, "head_features": 64},
      "diagonal_bilstm": {"hidden": 24, "num_layers": 2, "first_kernel": 7, "head_features": 64},
  })
  c.order = ("pixelcnn", "gated_pixelcnn", "row_lstm", "diagonal_bilstm")  # ratios are to the first
  return c
