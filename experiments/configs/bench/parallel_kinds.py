"""One-device jit vs jit with shardings vs pmap on 8 simulated CPU devices (ThreeLayerConvNet step).

Command: cs231n-jax train --config experiments/configs/bench/parallel_kinds.py --workdir bench_out/parallel_kinds
Expected: the table in docs/benchmarks.md (measured ratios on CPU-2; timings depend on the machine).
"""

import ml_collections


def get_config():
  c = ml_collections.ConfigDict()
  c.runner = "cs231n_jax.bench.cli:run_config"
  c.study = "parallel_kinds"
  c.quick = False  # --config.quick=true: small sizes and few runs (a smoke run)
  return c
