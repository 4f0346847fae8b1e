"""The CPU goal: Flax/JAX vs PyTorch eager training steps at batch 128 (course convnet, VGG-style, CIFAR ResNets).

Command: cs231n-jax train --config experiments/configs/bench/peers.py --workdir bench_out/peers
Expected: on CPU-2 (2026-11-22 00:45, 237 s, no other jobs) our step / PyTorch eager's = 0.63x (ThreeLayerConvNet:
25.7 vs 40.8 ms), 0.91x (small_vgg: 142 vs 156 ms), 0.81x (ResNet-20: 188 vs 234 ms), 0.88x (ResNet-56: 582 vs 664 ms)
-- the goal reached for all four, p10-p90 ranges apart; the library's CPU kernels (convolutions, batch norm with its
residual add and ReLU) cut each step by 35-52% against the same step without them, and ours is 3.1-4.9x faster than
the same step with XLA's defaults.
Full table: docs/benchmarks.md, "The CPU goal".
"""

import ml_collections


def get_config():
  c = ml_collections.ConfigDict()
  c.runner = "cs231n_jax.bench.cli:run_config"
  c.study = "peers"
  c.quick = False  # --config.quick=true: small sizes and few runs (a smoke run)
  return c
