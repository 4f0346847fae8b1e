"""The CPU goal: Flax/JAX vs PyTorch eager training steps at batch 128 (course convnet, VGG-style, CIFAR ResNets).

Command: cs231n-jax train --config experiments/configs/bench/peers.py --workdir bench_out/peers
Expected: on CPU-2 (2026-11-21 19:16, 424 s, no other jobs) our step / PyTorch eager's = 0.83x (ThreeLayerConvNet:
56.6 vs 68.4 ms), 0.96x (small_vgg: 212 vs 220 ms) -- the goal reached -- and 1.44x (ResNet-20), 1.54x (ResNet-56)
-- slower, in batch norm and element-wise work; the library's CPU convolution kernels cut each step by 18-39% against
XLA's convolutions, and ours is 3.1-3.5x faster than the same step with XLA's defaults.
Full table: docs/benchmarks.md, "The CPU goal".
"""

import ml_collections


def get_config():
  c = ml_collections.ConfigDict()
  c.runner = "cs231n_jax.bench.cli:run_config"
  c.study = "peers"
  c.quick = False  # --config.quick=true: small sizes and few runs (a smoke run)
  return c
