"""Each 3x3 convolution of the CIFAR ResNets and small_vgg at batch
128 -- forward, input gradient, weight gradient -- as the library's convolution (its CPU kernels) and as PyTorch eager (oneDNN).

Command: cs231n-jax train --config experiments/configs/bench/conv_kernels.py --workdir bench_out/conv_kernels
Expected: on CPU-2 (2026-11-22 01:19 and 01:20, 16 s each) library / PyTorch = 0.69-1.46x for the forward, input
and weight gradients: 0.70-1.06x on the larger operations, 64->64 at 8x8 slower (forward 1.4-1.5x), the small ones
swinging by up to 0.5x between runs (2026-11-21 18:59, before items 14-16: 0.50-1.21x; with XLA's Eigen
convolutions the weight gradient was 1.63-3.76x). Tables: docs/benchmarks.md, "The CPU goal", items 11 and 14.
"""

import ml_collections


def get_config():
  c = ml_collections.ConfigDict()
  c.runner = "cs231n_jax.bench.cli:run_config"
  c.study = "conv_kernels"
  c.quick = False  # --config.quick=true: one shape, batch 8, few runs (a smoke run)
  return c
