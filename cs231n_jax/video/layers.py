"""Spatio-temporal convolution and 3-D pooling on NTHWC clips (batch, frames, height, width, channels).

"Extend the filters in time" (lecture 14): an ``kt x kh x kw`` filter slides over time as well as
space, so a layer's output is an activation *volume*, with weights shared over time too. Temporal
padding is chosen separately from spatial padding: ``"SAME"`` (zeros), ``"VALID"`` (none: early
fusion's filter spanning the whole clip), or ``"REPLICATE"`` (the edge frames repeated, so a
constant clip stays constant over time: what an inflated network needs).
"""

from __future__ import annotations

from typing import Any, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

from cs231n_jax.errors import ConfigError

TEMPORAL_PADDINGS = ("SAME", "VALID", "REPLICATE")


def check_clips(x: jax.Array, min_frames: int = 1, model: str = "model") -> None:
  """One-line errors for clips of the wrong rank or too few frames for ``model``'s temporal extent."""
  if x.ndim != 5:
    raise ConfigError(f"clips: {model} expects rank-5 clips (batch, frames, height, width, channels), got shape {tuple(x.shape)}")
  if x.shape[1] < min_frames:
    raise ConfigError(f"clips.frames: {model} needs at least {min_frames} frames (its temporal extent), got {x.shape[1]}")


def same_pads(size: int, kernel: int, stride: int) -> tuple[int, int]:
  """XLA's / TensorFlow's "SAME" padding of one axis: the output is ceil(size / stride)."""
  out = -(-size // stride)
  total = max((out - 1) * stride + kernel - size, 0)
  return total // 2, total - total // 2


def temporal_pad(x: jax.Array, kernel: int, mode: str) -> jax.Array:
  """Pad axis 1 (time) of ``x`` for a ``kernel``-frame filter at stride 1."""
  if mode not in TEMPORAL_PADDINGS:
    raise ConfigError(f"temporal_padding: expected one of {TEMPORAL_PADDINGS}, got {mode!r}")
  if mode == "VALID" or kernel == 1:
    return x
  widths = [(0, 0)] * x.ndim
  widths[1] = ((kernel - 1) // 2, kernel // 2)
  return jnp.pad(x, widths, mode="edge" if mode == "REPLICATE" else "constant")


class SpatioTemporalConv(nn.Module):
  """A 3-D convolution over (time, height, width); ``padding`` is the spatial padding ("SAME",
  "VALID" or (low, high) pairs), ``temporal_padding`` the temporal one (see the module docstring)."""

  features: int
  kernel_size: Sequence[int] = (3, 3, 3)
  strides: Sequence[int] = (1, 1, 1)
  padding: Any = "SAME"
  temporal_padding: str = "SAME"
  use_bias: bool = True
  dtype: Any = None
  kernel_init: Any = nn.initializers.lecun_normal()

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    check_clips(x, self.kernel_size[0] if self.temporal_padding == "VALID" else 1, "SpatioTemporalConv")
    kt, kh, kw = self.kernel_size
    st, sh, sw = self.strides
    if self.temporal_padding != "VALID" and st != 1:
      raise ConfigError("strides: a padded temporal axis needs temporal stride 1; use temporal_padding='VALID'")
    x = temporal_pad(x, kt, self.temporal_padding)
    if isinstance(self.padding, str):
      if self.padding == "SAME":
        spatial = [same_pads(x.shape[2], kh, sh), same_pads(x.shape[3], kw, sw)]
      elif self.padding == "VALID":
        spatial = [(0, 0), (0, 0)]
      else:
        raise ConfigError(f"padding: expected 'SAME', 'VALID' or (low, high) pairs, got {self.padding!r}")
    else:
      spatial = [tuple(p) for p in self.padding]
    return nn.Conv(self.features, (kt, kh, kw), (st, sh, sw), padding=[(0, 0), *spatial], use_bias=self.use_bias,
                   dtype=self.dtype, kernel_init=self.kernel_init, name="conv")(x)


def pool3d(x: jax.Array, window: Sequence[int] = (2, 2, 2), strides: Sequence[int] | None = None,
           padding: str = "SAME") -> jax.Array:
  """3-D max pooling over (time, height, width); C3D's pool1 is ``window=(1, 2, 2)``. "SAME" rounds
  the output up (Caffe's ceil mode, which C3D's pool5 relies on: 7 -> 4)."""
  return nn.max_pool(x, tuple(window), tuple(strides or window), padding=padding)


def fold_time(x: jax.Array) -> tuple[jax.Array, int]:
  """(B, T, ...) -> (B * T, ...), and T."""
  return x.reshape(x.shape[0] * x.shape[1], *x.shape[2:]), x.shape[1]


def unfold_time(x: jax.Array, frames: int) -> jax.Array:
  return x.reshape(x.shape[0] // frames, frames, *x.shape[1:])


class FrameTower(nn.Module):
  """The small 2-D CNN the video models share per frame: [3x3 conv - ReLU - 2x2 max pool] per width,
  then flatten and a ReLU dense layer of ``hidden`` units (``hidden=0``: global average pooling)."""

  widths: Sequence[int] = (16, 32)
  hidden: int = 64
  first_layer_done: bool = False  # the first width's conv was applied already (early fusion)

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    for i, w in enumerate(self.widths):
      if not (i == 0 and self.first_layer_done):
        x = nn.Conv(w, (3, 3), padding="SAME", name=f"conv{i}")(x)
      x = nn.max_pool(nn.relu(x), (2, 2), (2, 2), padding="SAME")
    if self.hidden:
      return nn.relu(nn.Dense(self.hidden, name="fc")(x.reshape(x.shape[0], -1)))
    return x.mean(axis=(1, 2))
