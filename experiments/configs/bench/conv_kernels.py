"""Each 3x3 convolution of the CIFAR ResNets and small_vgg at batch
128 -- forward, input gradient, weight gradient -- as the library's convolution (its CPU kernels) and as PyTorch eager (oneDNN).

Command: cs231n-jax train --config experiments/configs/bench/conv_kernels.py --workdir bench_out/conv_kernels
Expected: on CPU-2 (2026-11-21 18:59, 20 s) library / PyTorch = 0.50-1.21x for the forward, input and weight
gradients (the library's CPU kernels, 62-101% of the matmul peak; with XLA's Eigen convolutions the weight gradient
was 1.63-3.76x). Table: docs/benchmarks.md, "The CPU goal", item 11.
"""

import ml_collections


def get_config():
  c = ml_collections.ConfigDict()
  c.runner = "cs231n_jax.bench.cli:run_config"
  c.study = "conv_kernels"
  c.quick = False  # --config.quick=true: one shape, batch 8, few runs (a smoke run)
  return c
