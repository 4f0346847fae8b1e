"""Semantic segmentation networks (lecture 11, notes chapter 9), registered in family "segment".

Every model maps images (N, H, W, 3) to per-pixel class scores (N, H, W, num_classes):

- ``sliding_window``: the lecture's first idea — classify the centre pixel of the ``patch`` x ``patch``
  crop around every pixel with a small CNN, one crop at a time ("very inefficient! not reusing shared
  features between overlapping patches"). The crops are extracted explicitly, so the cost is real.
- ``fcn_flat``: "a bunch of convolutional layers to make predictions for pixels all at once", without
  downsampling (every layer at full resolution — expensive).
- ``encoder_decoder``: downsampling by max pooling, upsampling by transpose convolution
  (``upsample="transpose"``, :func:`cs231n_jax.detection.ops.conv_transpose`, 3x3 stride 2 pad 1)
  or by max unpooling at the pooling layer's remembered switches (``upsample="unpool"``, the
  "corresponding pairs of downsampling and upsampling layers").
- ``unet``: the encoder–decoder with skip connections (Ronneberger et al. 2015): each decoder level
  concatenates the encoder's features of the same resolution.
"""

from __future__ import annotations

from typing import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

from cs231n_jax.detection import ops
from cs231n_jax.models.registry import register

UPSAMPLE = ("transpose", "unpool")


class TransposeConv(nn.Module):
  """A learnable ``kernel`` x ``kernel`` transpose convolution, stride ``stride``, padding ``padding``,
  whose output is ``stride`` times its input (the lecture's 3x3 / 2 / 1: 2x2 -> 4x4)."""

  features: int
  kernel: int = 3
  stride: int = 2
  padding: int = 1

  @nn.compact
  def __call__(self, x):
    fan_in = x.shape[-1] * self.kernel * self.kernel / (self.stride * self.stride)
    w = self.param("kernel", nn.initializers.normal(stddev=(2.0 / fan_in) ** 0.5),
                   (self.kernel, self.kernel, x.shape[-1], self.features))
    b = self.param("bias", nn.initializers.zeros, (self.features,))
    h, w_ = x.shape[1], x.shape[2]
    return ops.conv_transpose(x, w, self.stride, self.padding, (h * self.stride, w_ * self.stride)) + b


def conv_block(x, features: int, name: str, count: int = 2):
  for i in range(count):
    x = nn.relu(nn.Conv(features, (3, 3), name=f"{name}_{i}")(x))
  return x


@register("fcn_flat", input_shape=(64, 64, 3), family="segment")
class FlatFCN(nn.Module):
  """Fully convolutional net without downsampling: every layer at full resolution."""

  num_classes: int = 14
  width: int = 32
  depth: int = 6

  @nn.compact
  def __call__(self, x, train: bool = False):
    del train
    for i in range(self.depth):
      x = nn.relu(nn.Conv(self.width, (3, 3), name=f"conv_{i}")(x))
    return nn.Conv(self.num_classes, (1, 1), name="classifier")(x)


@register("encoder_decoder", input_shape=(64, 64, 3), family="segment")
class EncoderDecoder(nn.Module):
  """Encoder–decoder FCN: conv blocks and 2x2 max pooling down to H/2**L, then transpose
  convolution or max unpooling back up to H x W."""

  num_classes: int = 14
  widths: Sequence[int] = (32, 64, 128)
  upsample: str = "transpose"

  @nn.compact
  def __call__(self, x, train: bool = False):
    del train
    if self.upsample not in UPSAMPLE:
      raise ValueError(f"model.upsample: expected one of {UPSAMPLE}, got {self.upsample!r}")
    switches = []
    for i, f in enumerate(self.widths[:-1]):
      x = conv_block(x, f, f"down{i}")
      x, s = ops.max_pool_with_switches(x, 2)
      switches.append(s)
    x = conv_block(x, self.widths[-1], "bottom")
    for i in reversed(range(len(self.widths) - 1)):
      f = self.widths[i]
      if self.upsample == "transpose":
        x = nn.relu(TransposeConv(f, name=f"up{i}")(x))
      else:
        x = nn.Conv(f, (1, 1), name=f"squeeze{i}")(x)  # to the pooled layer's width, then unpool
        x = ops.max_unpool(x, switches[i], 2)
      x = conv_block(x, f, f"dec{i}")
    return nn.Conv(self.num_classes, (1, 1), name="classifier")(x)


@register("unet", input_shape=(64, 64, 3), family="segment")
class UNet(nn.Module):
  """U-Net: the encoder–decoder with the encoder's features concatenated at every decoder level."""

  num_classes: int = 14
  widths: Sequence[int] = (32, 64, 128)

  @nn.compact
  def __call__(self, x, train: bool = False):
    del train
    skips = []
    for i, f in enumerate(self.widths[:-1]):
      x = conv_block(x, f, f"down{i}")
      skips.append(x)
      x = nn.max_pool(x, (2, 2), (2, 2))
    x = conv_block(x, self.widths[-1], "bottom")
    for i in reversed(range(len(self.widths) - 1)):
      f = self.widths[i]
      x = nn.relu(TransposeConv(f, name=f"up{i}")(x))
      x = conv_block(jnp.concatenate([x, skips[i]], -1), f, f"dec{i}")
    return nn.Conv(self.num_classes, (1, 1), name="classifier")(x)


@register("sliding_window", input_shape=(32, 32, 3), family="segment")
class SlidingWindow(nn.Module):
  """Sliding-window segmentation: a CNN classifies the centre pixel of each ``patch`` x ``patch`` crop
  (zero padded at the border), crop by crop — H * W separate forward passes per image."""

  num_classes: int = 14
  patch: int = 13
  width: int = 32
  depth: int = 6

  @nn.compact
  def __call__(self, x, train: bool = False):
    del train
    n, h, w, c = x.shape
    r = self.patch // 2
    padded = jnp.pad(x, ((0, 0), (r, r), (r, r), (0, 0)))
    rows = jnp.arange(h)[:, None] + jnp.arange(self.patch)[None, :]
    cols = jnp.arange(w)[:, None] + jnp.arange(self.patch)[None, :]
    crops = padded[:, rows[:, None, :, None], cols[None, :, None, :]]  # (n, h, w, p, p, c)
    crops = crops.reshape(n * h * w, self.patch, self.patch, c)
    y = crops
    for i in range(self.depth):
      y = nn.relu(nn.Conv(self.width, (3, 3), padding="SAME", name=f"conv_{i}")(y))
    centre = y[:, r, r]  # the crop's centre pixel
    return nn.Dense(self.num_classes, name="classifier")(centre).reshape(n, h, w, self.num_classes)


def count_flops(model: nn.Module, params, shape: tuple[int, ...]) -> float:
  """XLA's cost analysis of one forward pass on zeros of ``shape`` (FLOPs)."""
  fn = jax.jit(lambda p, x: model.apply({"params": p}, x))
  cost = fn.lower(params, jnp.zeros(shape, jnp.float32)).compile().cost_analysis()
  if isinstance(cost, (list, tuple)):
    cost = cost[0]
  return float(cost.get("flops", 0.0))
