"""Where the CPU goal's remaining time goes: each 3x3 convolution of the CIFAR ResNets and small_vgg at batch
128 -- forward, input gradient, weight gradient -- as the library's XLA convolution and as PyTorch eager (oneDNN).

Command: cs231n-jax train --config experiments/configs/bench/conv_kernels.py --workdir bench_out/conv_kernels
Expected: on an idle CPU-2 (2026-11-21, 14 s) XLA / PyTorch = 0.74-1.93x for the forward and input gradient and
1.63-3.76x for the weight gradient (16 -> 16 channels at 32x32: 15.8 vs 4.2 ms). Table: docs/benchmarks.md, "The CPU goal".
"""

import ml_collections


def get_config():
  c = ml_collections.ConfigDict()
  c.runner = "cs231n_jax.bench.cli:run_config"
  c.study = "conv_kernels"
  c.quick = False  # --config.quick=true: one shape, batch 8, few runs (a smoke run)
  return c
