"""Persistent compilation cache: first step of a cold process vs a warm one (CIFAR ResNet-20).

Command: cs231n-jax train --config experiments/configs/bench/compile_cache.py --workdir bench_out/compile_cache
Expected: the table in docs/benchmarks.md (measured ratios on CPU-2; timings depend on the machine).
"""

import ml_collections


def get_config():
  c = ml_collections.ConfigDict()
  c.runner = "cs231n_jax.bench.cli:run_config"
  c.study = "compile_cache"
  c.quick = False  # --config.quick=true: small sizes and few runs (a smoke run)
  return c
