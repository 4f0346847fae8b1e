"""Network in Network (Lin, Chen, Yan, ICLR 2014).

"Mlpconv layer with 'micronetwork' within each conv layer to compute more abstract features for
local patches. Micronetwork uses multilayer perceptron (FC, i.e. 1x1 conv layers)" (lecture 9,
14043-14064). Each mlpconv block is a spatial conv followed by two 1x1 convs ("cccp" layers in the
authors' Caffe models), all with ReLU. There are no FC layers: the last block outputs one map per
class and global average pooling turns the maps into scores.

- ``nin_cifar``: the authors' CIFAR-10 model (``cifar10_nin``): mlpconv blocks of 192-160-96
  (5x5), 192-192-192 (5x5), 192-192-10 (3x3), 3x3 stride-2 max / average pools with Caffe's ceil
  rounding (32 -> 16 -> 8), dropout 0.5 after the first two blocks; 966,986 parameters.
- ``nin_imagenet``: the Caffe model zoo's ImageNet NiN: 96-96-96 (11x11 stride 4), 256-256-256
  (5x5), 384-384-384 (3x3), dropout, 1024-1024-1000 (3x3); 7,595,176 parameters.
"""

from __future__ import annotations

from typing import Sequence

import flax.linen as nn
import jax.numpy as jnp

from cs231n_jax.models import cnn_layers as L
from cs231n_jax.models.registry import register

# A block: (spatial conv (features, kernel, stride, pad), cccp widths, pool after ("max" | "avg" | None),
# dropout after). ``None`` in a cccp width means num_classes.
Block = tuple[tuple[int, int, int, int], tuple[int | None, int | None], str | None, bool]
CIFAR_BLOCKS: tuple[Block, ...] = (
    ((192, 5, 1, 2), (160, 96), "max", True),
    ((192, 5, 1, 2), (192, 192), "avg", True),
    ((192, 3, 1, 1), (192, None), None, False),
)
IMAGENET_BLOCKS: tuple[Block, ...] = (
    ((96, 11, 4, 0), (96, 96), "max", False),
    ((256, 5, 1, 2), (256, 256), "max", False),
    ((384, 3, 1, 1), (384, 384), "max", True),
    ((1024, 3, 1, 1), (1024, None), None, False),
)
POOL_WINDOW, POOL_STRIDE = 3, 2
DROPOUT_RATE = 0.5


def avg_pool_ceil(x: jnp.ndarray, window: int, stride: int) -> jnp.ndarray:
  """Caffe's average pool with ceil rounding: a window hanging over the edge averages only the
  pixels it covers."""
  pads = []
  for size in x.shape[1:3]:
    out = L.pool_output_size(size, window, stride, 0, ceil_mode=True)
    pads.append((0, max((out - 1) * stride + window - size, 0)))
  return nn.avg_pool(x, (window, window), strides=(stride, stride), padding=tuple(pads), count_include_pad=False)


class MlpConv(nn.Module):
  """A spatial conv followed by two 1x1 convs (the "micro network"), each with ReLU."""

  conv: tuple[int, int, int, int]
  cccp: Sequence[int]
  dtype: L.Dtype = jnp.float32
  param_dtype: L.Dtype = jnp.float32

  @nn.compact
  def __call__(self, x: jnp.ndarray) -> jnp.ndarray:
    features, kernel, stride, pad = self.conv
    x = nn.relu(L.conv(self, features, kernel, "conv", strides=stride, padding=pad)(x))
    for i, width in enumerate(self.cccp, start=1):
      x = nn.relu(L.conv(self, width, 1, f"cccp{i}")(x))
    return x


class NiN(nn.Module):
  """Network in Network: mlpconv blocks, pools, dropout, global average pooling of the class maps."""

  blocks: Sequence[Block] = CIFAR_BLOCKS
  num_classes: int = 10
  dropout_rate: float = DROPOUT_RATE
  dtype: L.Dtype = jnp.float32
  param_dtype: L.Dtype = jnp.float32

  @nn.compact
  def __call__(self, x: jnp.ndarray, *, train: bool = False) -> jnp.ndarray:
    L.check_images(x, "NiN")
    L.check_probability("dropout_rate", self.dropout_rate)
    x = x.astype(self.dtype)
    for b, (spatial, cccp, pool, dropout) in enumerate(self.blocks, start=1):
      widths = tuple(self.num_classes if w is None else w for w in cccp)
      x = MlpConv(spatial, widths, self.dtype, self.param_dtype, name=f"mlpconv{b}")(x)
      if pool == "max":
        x = L.MaxPool(POOL_WINDOW, POOL_STRIDE, ceil_mode=True, name=f"pool{b}")(x)
      elif pool == "avg":
        x = avg_pool_ceil(x, POOL_WINDOW, POOL_STRIDE)
      if dropout:
        x = nn.Dropout(self.dropout_rate, deterministic=not train)(x)
    return L.logits_f32(L.global_avg_pool(x))


@register("nin_cifar", input_shape=(32, 32, 3))
class NiNCifar(NiN):
  """Network in Network for CIFAR-10 (Lin et al. 2014; the authors' cifar10_nin model)."""

  blocks: Sequence[Block] = CIFAR_BLOCKS
  num_classes: int = 10


@register("nin_imagenet", input_shape=(224, 224, 3))
class NiNImageNet(NiN):
  """Network in Network for ImageNet (the Caffe model zoo's NIN-ImageNet)."""

  blocks: Sequence[Block] = IMAGENET_BLOCKS
  num_classes: int = 1000
