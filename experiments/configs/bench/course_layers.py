"""The course's NumPy layers (naive loops, im2col) vs the compiled course layers: ThreeLayerConvNet loss and gradients.

Command: cs231n-jax train --config experiments/configs/bench/course_layers.py --workdir bench_out/course_layers
Expected: the table in docs/benchmarks.md (measured ratios on CPU-2; timings depend on the machine).
"""

import ml_collections


def get_config():
  c = ml_collections.ConfigDict()
  c.runner = "cs231n_jax.bench.cli:run_config"
  c.study = "course_layers"
  c.quick = False  # --config.quick=true: small sizes and few runs (a smoke run)
  return c
