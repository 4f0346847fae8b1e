"""The CPU goal: Flax/JAX vs PyTorch eager training steps at batch 128 (course convnet, VGG-style, CIFAR ResNets).

Command: cs231n-jax train --config experiments/configs/bench/peers.py --workdir bench_out/peers
Expected: on CPU-2 (2026-11-21 21:49, 330 s, no other jobs) our step / PyTorch eager's = 0.71x (ThreeLayerConvNet:
41.2 vs 58.3 ms), 0.76x (small_vgg: 188 vs 246 ms) -- the goal reached -- and 1.13x (ResNet-20: 296 vs 262 ms), 1.08x
(ResNet-56: 909 vs 839 ms) -- still slower, in the 16-channel convolutions; the library's CPU kernels (convolutions,
batch norm with its residual add and ReLU) cut each step by 27-44% against the same step without them, and ours is
2.9-4.4x faster than the same step with XLA's defaults.
Full table: docs/benchmarks.md, "The CPU goal".
"""

import ml_collections


def get_config():
  c = ml_collections.ConfigDict()
  c.runner = "cs231n_jax.bench.cli:run_config"
  c.study = "peers"
  c.quick = False  # --config.quick=true: small sizes and few runs (a smoke run)
  return c
