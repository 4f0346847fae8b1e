"""PixelRNN: Row LSTM and Diagonal BiLSTM layers, their recurrences written as ``lax.scan``.

The 2017 lecture (seed @9859): PixelRNN "generate[s] image pixels starting from [the] corner", with
the "dependency on previous pixels modeled using an RNN (LSTM)", proceeding along the diagonal. The
two layer types are those of van den Oord, Kalchbrenner, Kavukcuoglu, "Pixel Recurrent Neural
Networks" (ICML 2016), section 3:

- **Row LSTM** (section 3.1): the image is processed row by row, top to bottom (``lax.scan`` over
  ``H`` rows). A whole row's gates are computed at once: the input-to-state part is a ``1 x k``
  mask-B convolution over the row (precomputed for all rows in parallel), the state-to-state part a
  1-D convolution of kernel ``k`` over the previous row's hidden states. Its receptive field is a
  triangle above the pixel: it does not see all of the context.
- **Diagonal BiLSTM** (section 3.2): the input map is *skewed* (row ``r`` shifted right by ``r``,
  :func:`skew`), so the diagonals of the image become columns; an LSTM scans those ``H + W - 1``
  columns left to right (``lax.scan``) with a 2x1 state-to-state convolution (the pixel to the left
  and the pixel above), and the result is *unskewed* (:func:`unskew`). A second LSTM does the same on
  the mirrored map (right to left); its output is shifted down one row before being added, so that no
  pixel sees its own row's future. The receptive field is the whole context.

The network: a ``k x k`` mask-A convolution, ``num_layers`` LSTM layers with residual connections
(a 1x1 convolution from the LSTM's ``hidden`` states back to ``2 * hidden`` features, added), and the
PixelCNN's 1x1 output head — the paper's architecture at a digits-sized scale. Grey images only.
"""

from __future__ import annotations

from typing import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from cs231n_jax.generative.autoregressive import check_input_shape, embed_levels, logits_to_output
from cs231n_jax.models.registry import register
from cs231n_jax.nn.masked import MaskedConv, down_shift

PIXEL_RNN_KINDS = ("row", "diagonal")


def skew(x: jax.Array) -> jax.Array:
  """``(N, H, W, C) -> (N, H, W + H - 1, C)``: row ``r`` moved right by ``r`` (zeros elsewhere).

  Column ``j`` of the result holds the image diagonal ``{(r, j - r)}``; every pixel's left and upper
  neighbours sit in column ``j - 1``."""
  n, h, w, c = x.shape
  rows = jnp.arange(h)[:, None]
  cols = jnp.arange(w + h - 1)[None, :] - rows  # source column of each skewed position
  valid = (cols >= 0) & (cols < w)
  gathered = x[:, rows, jnp.clip(cols, 0, w - 1)]  # (N, H, W + H - 1, C)
  return jnp.where(valid[None, :, :, None], gathered, 0.0)


def unskew(x: jax.Array, width: int) -> jax.Array:
  """The inverse of :func:`skew`: ``(N, H, W + H - 1, C) -> (N, H, W, C)``."""
  h = x.shape[1]
  rows = jnp.arange(h)[:, None]
  cols = jnp.arange(width)[None, :] + rows
  return x[:, rows, cols]


def lstm_update(gates: jax.Array, c: jax.Array) -> tuple[jax.Array, jax.Array]:
  """The LSTM cell given pre-activation gates ``[i, f, o, g]``: ``(h, c)``."""
  i, f, o, g = jnp.split(gates, 4, axis=-1)
  c = nn.sigmoid(f) * c + nn.sigmoid(i) * jnp.tanh(g)
  return nn.sigmoid(o) * jnp.tanh(c), c


def conv1d_same(h: jax.Array, kernel: jax.Array) -> jax.Array:
  """``(N, L, Cin) * (k, Cin, Cout) -> (N, L, Cout)``, zero-padded to keep ``L`` (k odd).

  Written as one matmul over ``k`` shifted copies: inside a ``lax.scan`` body on the CPU this is
  several times faster than XLA's convolution."""
  k, length = kernel.shape[0], h.shape[1]
  padded = jnp.pad(h, ((0, 0), (k // 2, k // 2), (0, 0)))
  windows = jnp.concatenate([padded[:, i:i + length] for i in range(k)], axis=-1)  # (N, L, k * Cin)
  return windows @ kernel.reshape(-1, kernel.shape[-1])


class RowLSTM(nn.Module):
  """Row LSTM layer: ``(N, H, W, F) -> (N, H, W, hidden)``, a ``lax.scan`` over the ``H`` rows."""

  hidden: int
  input_kernel: int = 3
  state_kernel: int = 3

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    n, h, w, _ = x.shape
    # Input-to-state for every row at once: a 1 x k mask-B convolution (sees columns <= c).
    x_gates = MaskedConv(4 * self.hidden, (1, self.input_kernel), "B", name="input_to_state")(x)
    k_ss = self.param("state_to_state", nn.initializers.lecun_normal(),
                      (self.state_kernel, self.hidden, 4 * self.hidden))

    def row_step(carry, gates_row):
      h_prev, c_prev = carry  # (N, W, hidden): the previous row
      # The 1-D convolution over the previous row: (r, c) sees (r - 1, c - k//2 .. c + k//2).
      h_row, c_row = lstm_update(gates_row + conv1d_same(h_prev, k_ss), c_prev)
      return (h_row, c_row), h_row

    zeros = jnp.zeros((n, w, self.hidden), x.dtype)
    _, rows = jax.lax.scan(row_step, (zeros, zeros), jnp.swapaxes(x_gates, 0, 1))
    return jnp.swapaxes(rows, 0, 1)


class DiagonalLSTM(nn.Module):
  """One direction of the Diagonal BiLSTM, left to right: a ``lax.scan`` over the skewed columns."""

  hidden: int

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    n, h, w, _ = x.shape
    # Input-to-state: a 1x1 mask-B convolution, then skewed so diagonals become columns.
    x_gates = skew(MaskedConv(4 * self.hidden, (1, 1), "B", name="input_to_state")(x))
    # State-to-state: a 2 x 1 convolution over the previous column: the same row (= the pixel to the
    # left in the image) and the row above (= the pixel above in the image).
    k_same = self.param("state_same_row", nn.initializers.lecun_normal(), (self.hidden, 4 * self.hidden))
    k_above = self.param("state_row_above", nn.initializers.lecun_normal(), (self.hidden, 4 * self.hidden))

    def column_step(carry, gates_col):
      h_prev, c_prev = carry  # (N, H, hidden): the previous skewed column
      h_above = jnp.pad(h_prev, ((0, 0), (1, 0), (0, 0)))[:, :h]
      gates = gates_col + h_prev @ k_same + h_above @ k_above
      h_col, c_col = lstm_update(gates, c_prev)
      return (h_col, c_col), h_col

    zeros = jnp.zeros((n, h, self.hidden), x.dtype)
    _, cols = jax.lax.scan(column_step, (zeros, zeros), jnp.moveaxis(x_gates, 2, 0))
    return unskew(jnp.moveaxis(cols, 0, 2), w)


class DiagonalBiLSTM(nn.Module):
  """Diagonal BiLSTM layer: left-to-right plus right-to-left (shifted down a row), summed."""

  hidden: int

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    forward = DiagonalLSTM(self.hidden, name="left_to_right")(x)
    backward = jnp.flip(DiagonalLSTM(self.hidden, name="right_to_left")(jnp.flip(x, axis=2)), axis=2)
    # The right-to-left pass at (r, c) has seen row r to the right of c; moved down one row it only
    # carries rows < r, which every pixel of row r may see.
    return forward + down_shift(backward)


class PixelRNN(nn.Module):
  """PixelRNN with Row LSTM (``kind="row"``) or Diagonal BiLSTM (``kind="diagonal"``) layers."""

  num_levels: int = 17
  image_shape: Sequence[int] = (8, 8, 1)
  kind: str = "diagonal"
  hidden: int = 32
  num_layers: int = 2
  first_kernel: int = 7
  head_features: int = 128
  dropout: float = 0.0  # on each LSTM layer's residual branch, in training

  @nn.compact
  def __call__(self, images: jax.Array, train: bool = False) -> jax.Array:
    check_input_shape(self, images)
    if self.kind not in PIXEL_RNN_KINDS:
      raise ValueError(f"kind: expected one of {PIXEL_RNN_KINDS}, got {self.kind!r}")
    if self.image_shape[-1] != 1:
      raise ValueError(f"image_shape: PixelRNN is built for one channel, got {tuple(self.image_shape)}")
    features = 2 * self.hidden
    x = embed_levels(images, self.num_levels)
    h = MaskedConv(features, (self.first_kernel,) * 2, "A", name="conv_a")(x)
    layer = RowLSTM if self.kind == "row" else DiagonalBiLSTM
    for i in range(self.num_layers):
      out = layer(self.hidden, name=f"lstm{i}")(h)
      out = MaskedConv(features, (1, 1), "B", name=f"residual{i}")(out)
      h = h + nn.Dropout(self.dropout, deterministic=not train)(out)
    h = nn.Conv(self.head_features, (1, 1), name="head_1x1")(nn.relu(h))
    logits = nn.Conv(self.num_levels, (1, 1), name="logits")(nn.relu(h))
    return logits_to_output(logits, self.image_shape, self.num_levels)


@register("row_lstm", input_shape=(8, 8, 1), family="pixel")
class RowLSTMPixelRNN(PixelRNN):
  """PixelRNN with Row LSTM layers (paper section 3.1): triangular receptive field, ``H`` scan steps."""

  kind: str = "row"


@register("diagonal_bilstm", input_shape=(8, 8, 1), family="pixel")
class DiagonalBiLSTMPixelRNN(PixelRNN):
  """PixelRNN with Diagonal BiLSTM layers (paper section 3.2): the whole context, ``H + W - 1`` steps."""

  kind: str = "diagonal"


def scan_lengths(model: PixelRNN) -> int:
  """Sequential recurrence steps per LSTM layer: ``H`` rows (Row LSTM) or ``H + W - 1`` diagonals."""
  h, w, _ = model.image_shape
  return h if model.kind == "row" else h + w - 1


def count_params(variables) -> int:
  return int(sum(np.size(x) for x in jax.tree.leaves(variables)))
