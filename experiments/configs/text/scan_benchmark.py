"""Benchmark: LSTM loss+gradient as lax.scan vs a Python-unrolled loop (compile and step time).

Also the course LSTM's hand-written backward vs autodiff.

Batch 32, 64 inputs, 256 units, T = 16, 64, 128; medians of 20 steps; ratios between peers of the same run.
Command: cs231n-jax train --config experiments/configs/text/scan_benchmark.py --workdir workdirs/scan_benchmark
Expected: compile unrolled/scan 3.8x (T=16), 85x (64), 313x (128), scan flat at 1.3-1.8 s; step unrolled/scan 1.1x, 4.8x, 15x;
  hand-written LSTM backward 0.87x autodiff (CPU-2, loaded, 13 min; docs/benchmarks.md "Recurrent").
"""

import ml_collections


def get_config():
  c = ml_collections.ConfigDict()
  c.runner = "cs231n_jax.text.scan_benchmark:run_scan_benchmark"
  c.seed = 0
  c.batch_size = 32
  c.input_dim = 64
  c.hidden_size = 256
  c.lengths = (16, 64, 128)
  c.repeats = 20
  return c
