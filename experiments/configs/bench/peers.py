"""The CPU goal: Flax/JAX vs PyTorch eager training steps at batch 128 (course convnet, VGG-style, CIFAR ResNets).

Command: cs231n-jax train --config experiments/configs/bench/peers.py --workdir bench_out/peers
Expected: the table in docs/benchmarks.md (measured ratios on CPU-2; timings depend on the machine).
"""

import ml_collections


def get_config():
  c = ml_collections.ConfigDict()
  c.runner = "cs231n_jax.bench.cli:run_config"
  c.study = "peers"
  c.quick = False  # --config.quick=true: small sizes and few runs (a smoke run)
  return c
