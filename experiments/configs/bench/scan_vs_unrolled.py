"""lax.scan vs a Python-unrolled loop for the course RNN / LSTM cells, T = 8 ... 512: compile and step time.

Command: cs231n-jax train --config experiments/configs/bench/scan_vs_unrolled.py --workdir bench_out/scan_vs_unrolled
Expected: the table in docs/benchmarks.md (measured ratios on CPU-2; timings depend on the machine).
"""

import ml_collections


def get_config():
  c = ml_collections.ConfigDict()
  c.runner = "cs231n_jax.bench.cli:run_config"
  c.study = "scan_vs_unrolled"
  c.quick = False  # --config.quick=true: small sizes and few runs (a smoke run)
  return c
