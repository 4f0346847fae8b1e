"""Scan over residual blocks vs unrolled deep CIFAR ResNets (56, 110): compile and step time.

Command: cs231n-jax train --config experiments/configs/bench/scan_layers.py --workdir bench_out/scan_layers
Expected: the table in docs/benchmarks.md (measured ratios on CPU-2; timings depend on the machine).
"""

import ml_collections


def get_config():
  c = ml_collections.ConfigDict()
  c.runner = "cs231n_jax.bench.cli:run_config"
  c.study = "scan_layers"
  c.quick = False  # --config.quick=true: small sizes and few runs (a smoke run)
  return c
