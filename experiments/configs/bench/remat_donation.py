"""nn.remat and buffer donation on a CIFAR ResNet-56 step: XLA's memory analysis vs step time.

Command: cs231n-jax train --config experiments/configs/bench/remat_donation.py --workdir bench_out/remat_donation
Expected: the table in docs/benchmarks.md (measured ratios on CPU-2; timings depend on the machine).
"""

import ml_collections


def get_config():
  c = ml_collections.ConfigDict()
  c.runner = "cs231n_jax.bench.cli:run_config"
  c.study = "remat_donation"
  c.quick = False  # --config.quick=true: small sizes and few runs (a smoke run)
  return c
