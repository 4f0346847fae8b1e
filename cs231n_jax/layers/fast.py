"""Fast convolution and max pooling: im2col turns the layer into one matrix multiply.

im2col ("image to columns") lays every receptive field of the padded input out as one column:
for an (N, C, H, W) input and HH x WW filters the column matrix is (C*HH*WW, N*H'*W'). The
convolution is then ``w.reshape(F, -1) @ cols`` -- a single GEMM, which is what accelerators (and
BLAS on a CPU) do best. The backward pass is the transpose: ``dcols = w_rowsᵀ @ dout`` and col2im
adds each column back onto the window it came from (windows overlap, so contributions add).

The course builds the column matrix with fancy-index arrays (or ``as_strided``); here it is built
from HH*WW strided slices of the padded input, one per filter offset, which XLA lowers to cheap
copies, and col2im is the matching HH*WW strided pad-and-add. Same layout as the course's
``im2col_indices``: row index ``c*HH*WW + kh*WW + kw``, column index ``n*H'*W' + i*W' + j``.

Max pooling uses the course's two fast paths: when the windows tile the input exactly
(pool_height == pool_width == stride, dividing H and W) a reshape and a max; otherwise im2col on
each channel. The backward passes route the gradient to the first maximum of each window, the
same tie rule as the naive version, so fast and naive agree exactly.

``docs/benchmarks.md`` ("Course layers: fast vs naive") measures these against ``conv.py``'s naive
loops; the tests check both against ``lax.conv_general_dilated`` and ``lax.reduce_window``.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp

from cs231n_jax.layers.checks import check_dout, shape_of
from cs231n_jax.layers.conv import (
    conv_output_shape,
    conv_output_size,
    conv_param_values,
    pad_hw,
    pool_output_shape,
    pool_param_values,
)
from cs231n_jax.layers.precision import follows_input_precision


def _offset_slices(size_out: int, stride: int, k: int) -> slice:
  # Input positions k, k + S, ..., k + S (size_out - 1): the k-th tap of every window.
  return slice(k, k + stride * (size_out - 1) + 1, stride)


def im2col(x, field_height: int, field_width: int, padding: int = 1, stride: int = 1):
  """(N, C, H, W) -> (C*HH*WW, N*H'*W') column matrix, one column per receptive field."""
  n, c, h, w = shape_of(x)
  h_out = conv_output_size(h, field_height, stride, padding, "height")
  w_out = conv_output_size(w, field_width, stride, padding, "width")
  xp = pad_hw(x, padding)
  taps = [
      xp[:, :, _offset_slices(h_out, stride, kh), _offset_slices(w_out, stride, kw)]
      for kh in range(field_height)
      for kw in range(field_width)
  ]  # HH*WW arrays of (N, C, H', W')
  patches = jnp.stack(taps, axis=2)  # (N, C, HH*WW, H', W')
  return jnp.reshape(jnp.transpose(patches, (1, 2, 0, 3, 4)), (c * field_height * field_width, n * h_out * w_out))


def col2im(cols, x_shape, field_height: int, field_width: int, padding: int = 1, stride: int = 1):
  """The adjoint of ``im2col``: adds every column back onto its window; returns (N, C, H, W)."""
  n, c, h, w = x_shape
  h_out = conv_output_size(h, field_height, stride, padding, "height")
  w_out = conv_output_size(w, field_width, stride, padding, "width")
  taps = jnp.reshape(cols, (c, field_height, field_width, n, h_out, w_out))
  xp = jnp.zeros((n, c, h + 2 * padding, w + 2 * padding), dtype=cols.dtype)
  for kh in range(field_height):
    for kw in range(field_width):
      tap = jnp.transpose(taps[:, kh, kw], (1, 0, 2, 3))  # (N, C, H', W')
      xp = xp.at[:, :, _offset_slices(h_out, stride, kh), _offset_slices(w_out, stride, kw)].add(tap)
  return xp[:, :, padding:padding + h, padding:padding + w]


# ---------------------------------------------------------------------------------------------
# Convolution.
# ---------------------------------------------------------------------------------------------


@functools.partial(jax.jit, static_argnames=("stride", "pad"))
def _conv_forward_im2col(x, w, b, stride: int, pad: int):
  n, f, h_out, w_out = conv_output_shape("conv_forward_im2col", x.shape, w.shape, b.shape, stride, pad)
  _, _, hh, ww = w.shape
  cols = im2col(x, hh, ww, pad, stride)
  out = jnp.reshape(w, (f, -1)) @ cols + b[:, None]  # (F, N*H'*W'): the one GEMM
  out = jnp.transpose(jnp.reshape(out, (f, n, h_out, w_out)), (1, 0, 2, 3))
  return out, cols


@follows_input_precision
def conv_forward_im2col(x, w, b, conv_param: dict):
  """Convolution as im2col + one matrix multiply; same contract as ``conv_forward_naive``.

  Returns out (N, F, H', W') and cache (x, w, b, conv_param, cols).
  """
  stride, pad = conv_param_values("conv_forward_im2col", conv_param)
  conv_output_shape("conv_forward_im2col", shape_of(x), shape_of(w), shape_of(b), stride, pad)
  out, cols = _conv_forward_im2col(x, w, b, stride=stride, pad=pad)
  return out, (x, w, b, conv_param, cols)


@functools.partial(jax.jit, static_argnames=("x_shape", "stride", "pad"))
def _conv_backward_im2col(dout, w, cols, x_shape, stride: int, pad: int):
  f, _, hh, ww = w.shape
  dout_rows = jnp.reshape(jnp.transpose(dout, (1, 0, 2, 3)), (f, -1))  # (F, N*H'*W')
  db = jnp.sum(dout, axis=(0, 2, 3))
  dw = jnp.reshape(dout_rows @ cols.T, w.shape)
  dcols = jnp.reshape(w, (f, -1)).T @ dout_rows
  dx = col2im(dcols, x_shape, hh, ww, pad, stride)
  return dx, dw, db


@follows_input_precision
def conv_backward_im2col(dout, cache):
  """Backward pass of ``conv_forward_im2col``: returns (dx, dw, db)."""
  x, w, b, conv_param, cols = cache
  stride, pad = conv_param_values("conv_backward_im2col", conv_param)
  check_dout("conv_backward_im2col", dout, conv_output_shape("conv_backward_im2col", shape_of(x), shape_of(w), shape_of(b), stride, pad))
  return _conv_backward_im2col(dout, w, cols, x_shape=tuple(shape_of(x)), stride=stride, pad=pad)


# The course's names for its fast layers.
conv_forward_fast = conv_forward_im2col
conv_backward_fast = conv_backward_im2col


# ---------------------------------------------------------------------------------------------
# Max pooling.
# ---------------------------------------------------------------------------------------------


def _tiles_exactly(x_shape, ph: int, pw: int, stride: int) -> bool:
  _, _, h, w = x_shape
  return ph == pw == stride and h % ph == 0 and w % pw == 0


def _windows_last(x, ph: int, pw: int):
  # (N, C, H, W) -> (N, C, H/ph, W/pw, ph*pw): each non-overlapping window along the last axis.
  n, c, h, w = x.shape
  tiles = jnp.reshape(x, (n, c, h // ph, ph, w // pw, pw))
  return jnp.reshape(jnp.transpose(tiles, (0, 1, 2, 4, 3, 5)), (n, c, h // ph, w // pw, ph * pw))


@functools.partial(jax.jit, static_argnames=("ph", "pw", "stride"))
def _max_pool_forward_fast(x, ph: int, pw: int, stride: int):
  n, c, h_out, w_out = pool_output_shape("max_pool_forward_fast", x.shape, ph, pw, stride)
  if _tiles_exactly(x.shape, ph, pw, stride):
    return jnp.max(_windows_last(x, ph, pw), axis=-1)
  cols = im2col(jnp.reshape(x, (n * c, 1) + x.shape[2:]), ph, pw, 0, stride)  # (ph*pw, N*C*H'*W')
  return jnp.reshape(jnp.max(cols, axis=0), (n, c, h_out, w_out))


@follows_input_precision
def max_pool_forward_fast(x, pool_param: dict):
  """Max pooling by reshape (windows tile the input) or im2col; same contract as the naive one."""
  ph, pw, stride = pool_param_values("max_pool_forward_fast", pool_param)
  pool_output_shape("max_pool_forward_fast", shape_of(x), ph, pw, stride)
  return _max_pool_forward_fast(x, ph=ph, pw=pw, stride=stride), (x, pool_param)


@functools.partial(jax.jit, static_argnames=("ph", "pw", "stride"))
def _max_pool_backward_fast(dout, x, ph: int, pw: int, stride: int):
  n, c, h, w = x.shape
  _, _, h_out, w_out = dout.shape
  if _tiles_exactly(x.shape, ph, pw, stride):
    winner = jax.nn.one_hot(jnp.argmax(_windows_last(x, ph, pw), axis=-1), ph * pw, dtype=dout.dtype)
    routed = jnp.reshape(winner * dout[..., None], (n, c, h_out, w_out, ph, pw))
    return jnp.reshape(jnp.transpose(routed, (0, 1, 2, 4, 3, 5)), (n, c, h, w))
  cols = im2col(jnp.reshape(x, (n * c, 1, h, w)), ph, pw, 0, stride)
  winner = jax.nn.one_hot(jnp.argmax(cols, axis=0), ph * pw, axis=0, dtype=dout.dtype)
  dcols = winner * jnp.reshape(dout, (1, -1))
  return jnp.reshape(col2im(dcols, (n * c, 1, h, w), ph, pw, 0, stride), (n, c, h, w))


@follows_input_precision
def max_pool_backward_fast(dout, cache):
  """Backward pass of ``max_pool_forward_fast``: returns dx (first-maximum tie rule)."""
  x, pool_param = cache
  ph, pw, stride = pool_param_values("max_pool_backward_fast", pool_param)
  check_dout("max_pool_backward_fast", dout, pool_output_shape("max_pool_backward_fast", shape_of(x), ph, pw, stride))
  return _max_pool_backward_fast(dout, x, ph=ph, pw=pw, stride=stride)
