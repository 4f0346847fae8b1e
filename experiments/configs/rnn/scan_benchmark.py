"""Benchmark: LSTM loss+gradient as lax.scan vs a Python-unrolled loop (compile and step time), and the course LSTM's hand-written backward vs autodiff.

Batch 32, 64 inputs, 256 units, T = 16, 64, 128; medians of 20 steps; ratios between peers of the same run.
Command: cs231n-jax train --config experiments/configs/rnn/scan_benchmark.py --workdir workdirs/scan_benchmark
Expected: unrolled compile time grows with T while scan's stays flat; measured ratios in docs/benchmarks.md ("Recurrent (issue 6)").
"""

from cs231n_jax.text.scan_benchmark import default_config


def get_config():
  return default_config()
