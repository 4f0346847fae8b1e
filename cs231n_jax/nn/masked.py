"""Causal (masked) convolutions for autoregressive image models: PixelCNN, PixelRNN, gated PixelCNN.

An autoregressive image model factorises ``p(x) = prod_i p(x_i | x_<i)`` over pixels in raster order
(row by row from the top-left corner, as the lecture says; within a pixel, colour channel by colour
channel). Every layer that computes the features for pixel ``i`` may only see pixels before ``i``.
The lectures say only "a CNN over the context region that is already generated"; the masks here are
the ones of van den Oord, Kalchbrenner and Kavukcuoglu, "Pixel Recurrent Neural Networks" (ICML 2016,
section 3.4), and the vertical / horizontal stacks those of van den Oord et al., "Conditional Image
Generation with PixelCNN Decoders" (NeurIPS 2016, section 2.2):

- **Mask A** (first layer only): the kernel sees the rows above the centre and, on the centre row,
  the columns left of it; at the centre position itself, output colour group ``g`` sees input groups
  ``< g`` only — so a pixel never sees its own value.
- **Mask B** (every later layer): the same, but the centre connects groups ``<= g``: a feature at
  position ``i`` already depends only on pixels before ``i``, so it may pass its own position on.

With ``color_channels = C > 1`` the feature maps are split into ``C`` contiguous groups (R, G, B),
which gives the R -> G -> B order inside each pixel. Stacking ``k x k`` masked convolutions leaves a
*blind spot* (pixels above and to the right that never enter the receptive field); the vertical and
horizontal stacks (:class:`VerticalStackConv`, :class:`HorizontalStackConv` with :func:`down_shift` /
:func:`right_shift`) remove it.

All modules are NHWC.
"""

from __future__ import annotations

from typing import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

MASK_TYPES = ("A", "B")


def _check_kernel(kernel_size: Sequence[int]) -> tuple[int, int]:
  kernel = tuple(int(k) for k in kernel_size)
  if len(kernel) != 2 or any(k < 1 or k % 2 == 0 for k in kernel):
    raise ValueError(f"kernel_size: expected two odd positive sizes (the centre is the current pixel), got {kernel_size!r}")
  return kernel


def channel_groups(num_features: int, color_channels: int, name: str = "features") -> np.ndarray:
  """The colour group (0..C-1) of each of ``num_features`` feature maps (contiguous blocks)."""
  if color_channels < 1 or num_features % color_channels:
    raise ValueError(f"{name}: expected a multiple of color_channels={color_channels}, got {num_features}")
  return np.arange(num_features) // (num_features // color_channels)


def raster_mask(kernel_size: Sequence[int], in_features: int, out_features: int, mask_type: str,
                color_channels: int = 1) -> np.ndarray:
  """The ``(kh, kw, in_features, out_features)`` 0/1 mask of a raster-order causal convolution.

  Rows above the centre: all ones. Centre row: ones left of the centre. Centre position: input
  group ``< output group`` (mask A) or ``<=`` (mask B). Everything below or to the right: zero.
  """
  if mask_type not in MASK_TYPES:
    raise ValueError(f"mask_type: expected one of {MASK_TYPES}, got {mask_type!r}")
  kh, kw = _check_kernel(kernel_size)
  in_groups = channel_groups(in_features, color_channels, "in_features")
  out_groups = channel_groups(out_features, color_channels, "out_features")
  ch, cw = kh // 2, kw // 2
  mask = np.zeros((kh, kw, in_features, out_features), np.float32)
  mask[:ch] = 1.0
  mask[ch, :cw] = 1.0
  if mask_type == "A":
    mask[ch, cw] = in_groups[:, None] < out_groups[None, :]
  else:
    mask[ch, cw] = in_groups[:, None] <= out_groups[None, :]
  return mask


class MaskedConv(nn.Module):
  """A ``'SAME'``-padded convolution whose kernel is multiplied by :func:`raster_mask`."""

  features: int
  kernel_size: Sequence[int] = (3, 3)
  mask_type: str = "B"
  color_channels: int = 1
  use_bias: bool = True
  kernel_init: nn.initializers.Initializer = nn.initializers.lecun_normal()

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    mask = raster_mask(self.kernel_size, x.shape[-1], self.features, self.mask_type, self.color_channels)
    return nn.Conv(self.features, tuple(self.kernel_size), padding="SAME", use_bias=self.use_bias,
                   mask=jnp.asarray(mask), kernel_init=self.kernel_init, name="conv")(x)


def down_shift(x: jax.Array, rows: int = 1) -> jax.Array:
  """Move an NHWC map down by ``rows`` (zeros enter at the top): row r now holds row r - rows."""
  return jnp.pad(x, ((0, 0), (rows, 0), (0, 0), (0, 0)))[:, : x.shape[1]]


def right_shift(x: jax.Array, cols: int = 1) -> jax.Array:
  """Move an NHWC map right by ``cols`` (zeros enter at the left): column c now holds c - cols."""
  return jnp.pad(x, ((0, 0), (0, 0), (cols, 0), (0, 0)))[:, :, : x.shape[2]]


class VerticalStackConv(nn.Module):
  """The gated PixelCNN's vertical stack convolution: kernel ``(k//2 + 1, k)`` over the current row
  and the ``k//2`` rows above it, ``k//2`` columns either side, padded so the output keeps the input
  size. Output row ``r`` depends on input rows ``r - k//2 .. r`` only (never on rows below).

  Fed the image through :func:`down_shift` once (first layer), the whole stack then sees strictly the
  rows above each pixel — every column of them, hence no blind spot.
  """

  features: int
  kernel_size: int = 3

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    (k,) = _check_kernel((self.kernel_size, 1))[:1]
    kh, half = k // 2 + 1, k // 2
    x = jnp.pad(x, ((0, 0), (kh - 1, 0), (half, half), (0, 0)))
    return nn.Conv(self.features, (kh, k), padding="VALID", name="conv")(x)


class HorizontalStackConv(nn.Module):
  """The gated PixelCNN's horizontal stack convolution: kernel ``(1, k//2 + 1)`` over the current
  pixel and the ``k//2`` pixels to its left on the same row. The first layer applies
  :func:`right_shift` to its output, so it sees strictly the pixels to the left."""

  features: int
  kernel_size: int = 3

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    (k,) = _check_kernel((self.kernel_size, 1))[:1]
    kw = k // 2 + 1
    x = jnp.pad(x, ((0, 0), (0, 0), (kw - 1, 0), (0, 0)))
    return nn.Conv(self.features, (1, kw), padding="VALID", name="conv")(x)
