"""The course's ThreeLayerConvNet (assignment 2) as a Flax Linen module, NHWC."""

from __future__ import annotations

from typing import Any

import flax.linen as nn
import jax.numpy as jnp

from cs231n_jax.models.mlp import kernel_init
from cs231n_jax.models.registry import register
from cs231n_jax.nn.conv_pool import Conv, max_pool


@register("three_layer_convnet", input_shape=(8, 8, 1))
class ThreeLayerConvNet(nn.Module):
  """conv - relu - 2x2 max pool - affine - relu - affine.

  The convolution keeps the spatial size (stride 1, pad (F - 1) / 2), as in the course; the
  course's defaults are 32 filters of 7x7 and 100 hidden units.
  """

  num_filters: int = 32
  filter_size: int = 7
  hidden_dim: int = 100
  num_classes: int = 10
  weight_scale: float | None = None
  dtype: Any = jnp.float32  # compute dtype; parameters stay float32

  @nn.compact
  def __call__(self, x: jnp.ndarray, *, train: bool = False) -> jnp.ndarray:
    if x.ndim != 4:
      raise ValueError(f"images: ThreeLayerConvNet expects NHWC images, got shape {x.shape}")
    init = kernel_init(self.weight_scale)
    pad = (self.filter_size - 1) // 2
    x = Conv(self.num_filters, (self.filter_size, self.filter_size), padding=pad, kernel_init=init,
                dtype=self.dtype)(x)
    x = max_pool(nn.relu(x), (2, 2), strides=(2, 2))
    x = x.reshape(x.shape[0], -1)
    x = nn.relu(nn.Dense(self.hidden_dim, kernel_init=init, dtype=self.dtype)(x))
    return nn.Dense(self.num_classes, kernel_init=init, dtype=self.dtype)(x)


@register("small_vgg", input_shape=(32, 32, 3))
class SmallVGG(nn.Module):
  """VGG-style convnet for 32x32 inputs: [conv3x3 - relu] x 2 - 2x2 pool per stage, then affine.

  ``widths`` (32, 64, 128) gives six 3x3 convolutions 32-32-64-64-128-128 with a pool after each
  pair — the "plain VGG-style convnet" of the CPU benchmark (docs/benchmarks.md) — ending in one
  affine layer on the flattened 4x4x128 map.
  """

  widths: tuple[int, ...] = (32, 64, 128)
  convs_per_stage: int = 2
  num_classes: int = 10
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x: jnp.ndarray, *, train: bool = False) -> jnp.ndarray:
    for width in self.widths:
      for _ in range(self.convs_per_stage):
        x = nn.relu(Conv(width, (3, 3), padding=1, dtype=self.dtype)(x))
      x = max_pool(x, (2, 2), strides=(2, 2))
    x = x.reshape(x.shape[0], -1)
    return nn.Dense(self.num_classes, dtype=self.dtype)(x)
