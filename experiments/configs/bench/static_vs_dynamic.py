"""Lecture 8's two-layer network: NumPy by hand, JAX op-by-op, JAX jit, PyTorch eager, torch.compile.

Command: cs231n-jax train --config experiments/configs/bench/static_vs_dynamic.py --workdir bench_out/static_vs_dynamic
Expected: the table in docs/benchmarks.md (measured ratios on CPU-2; timings depend on the machine).
"""

import ml_collections


def get_config():
  c = ml_collections.ConfigDict()
  c.runner = "cs231n_jax.bench.cli:run_config"
  c.study = "static_vs_dynamic"
  c.quick = False  # --config.quick=true: small sizes and few runs (a smoke run)
  return c
