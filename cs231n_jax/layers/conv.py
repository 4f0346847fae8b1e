"""Convolution and max pooling, naive versions: the sums of lecture 5, one output position at a time.

Layout is the course's NCHW: x (N, C, H, W), filters w (F, C, HH, WW), biases b (F,).

Output size (lecture 5): with filter size F, stride S and zero padding P on each side,

    W2 = (W1 - F + 2P) / S + 1,   H2 likewise;   pooling: W2 = (W1 - F) / S + 1.

The lecture's 7x7 input with a 3x3 filter and stride 3 gives (7 - 3)/3 + 1 = 2.33: "doesn't fit!".
Torch floors that to 2 and silently drops the last rows/columns; this library follows the lecture
and the course (which asserts divisibility) and raises a ``ValueError`` that shows the arithmetic.

The d-th output channel "is the result of performing a valid convolution of the d-th filter over
the input volume with a stride of S, and then offset by d-th bias" -- a cross-correlation (the
filter is not flipped), as in every deep-learning library.

"Naive" means the loops are over output positions, exactly as the formula reads; each position is
one small dot product vectorised over examples and filters. Both loops unroll at trace time, so
the functions are compiled (with the hyperparameters static) the first time a shape is seen. The
fast versions, which turn the whole layer into one matrix multiply, are in ``fast.py``.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp

from cs231n_jax.layers.checks import check_dout, shape_of
from cs231n_jax.layers.precision import follows_input_precision


def conv_output_size(size: int, filter_size: int, stride: int, pad: int, dim: str = "width",
                     context: str = "conv") -> int:
  """(size - filter + 2 pad) / stride + 1, or a ``ValueError`` when it is not a positive integer.

  ``context`` starts the error message; the layers pass their name and the shapes of x and w, so
  that the one line says which call did not fit.
  """
  if stride <= 0 or pad < 0 or filter_size <= 0:
    raise ValueError(f"{context}: need stride > 0, pad >= 0 and filter size > 0, got stride={stride}, pad={pad}, filter={filter_size}")
  span = size - filter_size + 2 * pad
  if span < 0:
    raise ValueError(f"{context}: filter {dim} {filter_size} is larger than the padded input {dim} {size} + 2*{pad}")
  if span % stride:
    raise ValueError(
        f"{context}: (W - F + 2P)/S + 1 = ({size} - {filter_size} + 2*{pad})/{stride} + 1 = {span / stride + 1:.4g} "
        f"is not an integer for input {dim} {size}, filter {filter_size}, stride {stride}, pad {pad}: the filter doesn't fit"
    )
  return span // stride + 1


def pool_output_size(size: int, pool_size: int, stride: int, dim: str = "width", context: str = "max_pool") -> int:
  """(size - pool) / stride + 1, or a ``ValueError`` when it is not a positive integer (``context``
  starts the message, as in ``conv_output_size``)."""
  if stride <= 0 or pool_size <= 0:
    raise ValueError(f"{context}: need stride > 0 and pool size > 0, got stride={stride}, pool={pool_size}")
  span = size - pool_size
  if span < 0:
    raise ValueError(f"{context}: pool {dim} {pool_size} is larger than the input {dim} {size}")
  if span % stride:
    raise ValueError(
        f"{context}: (W - F)/S + 1 = ({size} - {pool_size})/{stride} + 1 = {span / stride + 1:.4g} "
        f"is not an integer for input {dim} {size}, pool {pool_size}, stride {stride}"
    )
  return span // stride + 1


def conv_param_values(fn: str, conv_param: dict) -> tuple[int, int]:
  """(stride, pad) from the course's ``conv_param`` dict."""
  try:
    return int(conv_param["stride"]), int(conv_param["pad"])
  except (KeyError, TypeError):
    raise ValueError(f"{fn}: conv_param must be a dict with integer 'stride' and 'pad', got {conv_param!r}") from None


def pool_param_values(fn: str, pool_param: dict) -> tuple[int, int, int]:
  """(pool_height, pool_width, stride) from the course's ``pool_param`` dict."""
  try:
    return int(pool_param["pool_height"]), int(pool_param["pool_width"]), int(pool_param["stride"])
  except (KeyError, TypeError):
    raise ValueError(f"{fn}: pool_param must be a dict with integer 'pool_height', 'pool_width' and 'stride', got {pool_param!r}") from None


def conv_output_shape(fn: str, x_shape, w_shape, b_shape, stride: int, pad: int) -> tuple[int, int, int, int]:
  """Checks x / w / b against each other and returns the (N, F, H', W') output shape."""
  if len(x_shape) != 4:
    raise ValueError(f"{fn}: x must be (N, C, H, W), got shape {tuple(x_shape)}")
  if len(w_shape) != 4:
    raise ValueError(f"{fn}: w must be (F, C, HH, WW), got shape {tuple(w_shape)}")
  n, c, h, w = x_shape
  f, cw, hh, ww = w_shape
  if c != cw:
    raise ValueError(f"{fn}: x {tuple(x_shape)} has {c} channels but w {tuple(w_shape)} expects {cw}")
  if tuple(b_shape) != (f,):
    raise ValueError(f"{fn}: b must have shape ({f},) to match w {tuple(w_shape)}, got {tuple(b_shape)}")
  context = f"{fn}: x {tuple(x_shape)} with w {tuple(w_shape)}"
  return (n, f, conv_output_size(h, hh, stride, pad, "height", context),
          conv_output_size(w, ww, stride, pad, "width", context))


def pad_hw(x, pad: int):
  """Zero-pad the two spatial axes of an NCHW array by ``pad`` on each side."""
  return jnp.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))


# ---------------------------------------------------------------------------------------------
# Convolution.
# ---------------------------------------------------------------------------------------------


@functools.partial(jax.jit, static_argnames=("stride", "pad"))
def _conv_forward_naive(x, w, b, stride: int, pad: int):
  _, _, hh, ww = w.shape
  _, _, h_out, w_out = conv_output_shape("conv_forward_naive", x.shape, w.shape, b.shape, stride, pad)
  xp = pad_hw(x, pad)
  rows = []
  for i in range(h_out):
    row = []
    for j in range(w_out):
      window = xp[:, :, i * stride:i * stride + hh, j * stride:j * stride + ww]  # (N, C, HH, WW)
      row.append(jnp.einsum("nchw,fchw->nf", window, w) + b)  # one dot product per (example, filter)
    rows.append(jnp.stack(row, axis=-1))
  return jnp.stack(rows, axis=-2)  # (N, F, H', W')


@follows_input_precision
def conv_forward_naive(x, w, b, conv_param: dict):
  """Naive convolution layer.

  Args:
    x: (N, C, H, W) input; w: (F, C, HH, WW) filters; b: (F,) biases.
    conv_param: {'stride': S, 'pad': P}; zero padding of P on every side.

  Returns:
    out (N, F, H', W') with H' = 1 + (H + 2P - HH) / S, W' = 1 + (W + 2P - WW) / S, and
    cache (x, w, b, conv_param).
  """
  stride, pad = conv_param_values("conv_forward_naive", conv_param)
  conv_output_shape("conv_forward_naive", shape_of(x), shape_of(w), shape_of(b), stride, pad)
  return _conv_forward_naive(x, w, b, stride=stride, pad=pad), (x, w, b, conv_param)


@functools.partial(jax.jit, static_argnames=("stride", "pad"))
def _conv_backward_naive(dout, x, w, stride: int, pad: int):
  _, _, hh, ww = w.shape
  _, _, h_out, w_out = dout.shape
  xp = pad_hw(x, pad)
  dxp = jnp.zeros_like(xp)
  dw = jnp.zeros_like(w)
  for i in range(h_out):
    for j in range(w_out):
      rows = slice(i * stride, i * stride + hh)
      cols = slice(j * stride, j * stride + ww)
      g = dout[:, :, i, j]  # (N, F): upstream gradient of this position
      # out[n, f, i, j] = Σ_{c,h,w} window[n, c, h, w] w[f, c, h, w] + b[f]
      dxp = dxp.at[:, :, rows, cols].add(jnp.einsum("nf,fchw->nchw", g, w))
      dw = dw + jnp.einsum("nf,nchw->fchw", g, xp[:, :, rows, cols])
  db = jnp.sum(dout, axis=(0, 2, 3))
  dx = dxp[:, :, pad:pad + x.shape[2], pad:pad + x.shape[3]]
  return dx, dw, db


@follows_input_precision
def conv_backward_naive(dout, cache):
  """Backward pass of ``conv_forward_naive``: returns (dx, dw, db).

  Each output position is a dot product of one window with one filter, so its upstream gradient
  flows back to that window (scaled by the filter) and to the filter (scaled by the window); the
  windows overlap, so contributions to dx add up.
  """
  x, w, b, conv_param = cache
  stride, pad = conv_param_values("conv_backward_naive", conv_param)
  check_dout("conv_backward_naive", dout, conv_output_shape("conv_backward_naive", shape_of(x), shape_of(w), shape_of(b), stride, pad))
  return _conv_backward_naive(dout, x, w, stride=stride, pad=pad)


# ---------------------------------------------------------------------------------------------
# Max pooling.
# ---------------------------------------------------------------------------------------------


def pool_output_shape(fn: str, x_shape, ph: int, pw: int, stride: int) -> tuple[int, int, int, int]:
  if len(x_shape) != 4:
    raise ValueError(f"{fn}: x must be (N, C, H, W), got shape {tuple(x_shape)}")
  n, c, h, w = x_shape
  context = f"{fn}: x {tuple(x_shape)}"
  return n, c, pool_output_size(h, ph, stride, "height", context), pool_output_size(w, pw, stride, "width", context)


@functools.partial(jax.jit, static_argnames=("ph", "pw", "stride"))
def _max_pool_forward_naive(x, ph: int, pw: int, stride: int):
  _, _, h_out, w_out = pool_output_shape("max_pool_forward_naive", x.shape, ph, pw, stride)
  rows = []
  for i in range(h_out):
    row = [jnp.max(x[:, :, i * stride:i * stride + ph, j * stride:j * stride + pw], axis=(2, 3)) for j in range(w_out)]
    rows.append(jnp.stack(row, axis=-1))
  return jnp.stack(rows, axis=-2)


@follows_input_precision
def max_pool_forward_naive(x, pool_param: dict):
  """Naive max pooling over each activation map independently (no padding, no parameters).

  Args:
    x: (N, C, H, W); pool_param: {'pool_height', 'pool_width', 'stride'}.

  Returns:
    out (N, C, H', W') with H' = 1 + (H - pool_height) / stride, and cache (x, pool_param).
  """
  ph, pw, stride = pool_param_values("max_pool_forward_naive", pool_param)
  pool_output_shape("max_pool_forward_naive", shape_of(x), ph, pw, stride)
  return _max_pool_forward_naive(x, ph=ph, pw=pw, stride=stride), (x, pool_param)


@functools.partial(jax.jit, static_argnames=("ph", "pw", "stride"))
def _max_pool_backward_naive(dout, x, ph: int, pw: int, stride: int):
  n, c, h_out, w_out = dout.shape
  dx = jnp.zeros_like(x)
  for i in range(h_out):
    for j in range(w_out):
      rows = slice(i * stride, i * stride + ph)
      cols = slice(j * stride, j * stride + pw)
      window = jnp.reshape(x[:, :, rows, cols], (n, c, ph * pw))
      # The max gate routes the whole gradient to the (first) largest input of the window.
      winner = jax.nn.one_hot(jnp.argmax(window, axis=-1), ph * pw, dtype=dout.dtype)
      routed = jnp.reshape(winner * dout[:, :, i, j, None], (n, c, ph, pw))
      dx = dx.at[:, :, rows, cols].add(routed)
  return dx


@follows_input_precision
def max_pool_backward_naive(dout, cache):
  """Backward pass of max pooling: returns dx.

  Tie rule: when several inputs of a window share the maximum, the whole gradient goes to the
  first of them in row-major order within the window (``argmax``'s choice); the fast version uses
  the same rule, so the two agree exactly.
  """
  x, pool_param = cache
  ph, pw, stride = pool_param_values("max_pool_backward_naive", pool_param)
  check_dout("max_pool_backward_naive", dout, pool_output_shape("max_pool_backward_naive", shape_of(x), ph, pw, stride))
  return _max_pool_backward_naive(dout, x, ph=ph, pw=pw, stride=stride)
