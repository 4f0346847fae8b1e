"""The CPU goal: Flax/JAX vs PyTorch eager training steps at batch 128 (course convnet, VGG-style, CIFAR ResNets).

Command: cs231n-jax train --config experiments/configs/bench/peers.py --workdir bench_out/peers
Expected: on an idle CPU-2 (2026-11-21 14:12, 277 s) our step / PyTorch eager's = 1.00x (ThreeLayerConvNet: 43.6 vs
43.5 ms, the goal reached), 1.26x (small_vgg), 1.57x (ResNet-20), 1.56x (ResNet-56) -- slower, bound by XLA:CPU's
convolution kernels (bench/conv_kernels.py); ours is 1.7-3.1x faster than the same step with XLA's defaults.
Full table: docs/benchmarks.md, "The CPU goal".
"""

import ml_collections


def get_config():
  c = ml_collections.ConfigDict()
  c.runner = "cs231n_jax.bench.cli:run_config"
  c.study = "peers"
  c.quick = False  # --config.quick=true: small sizes and few runs (a smoke run)
  return c
