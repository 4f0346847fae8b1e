"""The course's NumPy layers, as a benchmark peer (study 7): naive loops and im2col.

Transcribed from the course's assignment-2 ``layers.py`` (naive convolution and max pooling as
explicit loops) and ``im2col.py`` (index-array im2col / col2im: ``get_im2col_indices``,
``im2col_indices``, ``col2im_indices``), NCHW, float32. They exist so the benchmark can time the
project's compiled layers against what a course student runs; the project's own layers are in
``cs231n_jax.layers``.
"""

from __future__ import annotations

import numpy as np


def conv_forward_naive(x, w, b, stride, pad):
  n, c, h, wd = x.shape
  f, _, hh, ww = w.shape
  ho, wo = 1 + (h + 2 * pad - hh) // stride, 1 + (wd + 2 * pad - ww) // stride
  xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
  out = np.zeros((n, f, ho, wo), x.dtype)
  for i in range(ho):
    for j in range(wo):
      window = xp[:, :, i * stride:i * stride + hh, j * stride:j * stride + ww]
      out[:, :, i, j] = np.tensordot(window, w, axes=([1, 2, 3], [1, 2, 3])) + b
  return out, (x, w, b, stride, pad)


def conv_backward_naive(dout, cache):
  x, w, b, stride, pad = cache
  _, _, hh, ww = w.shape
  _, _, ho, wo = dout.shape
  xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
  dxp, dw = np.zeros_like(xp), np.zeros_like(w)
  for i in range(ho):
    for j in range(wo):
      sl = (slice(None), slice(None), slice(i * stride, i * stride + hh), slice(j * stride, j * stride + ww))
      dw += np.tensordot(dout[:, :, i, j], xp[sl], axes=([0], [0]))
      dxp[sl] += np.tensordot(dout[:, :, i, j], w, axes=([1], [0]))
  dx = dxp[:, :, pad:-pad, pad:-pad] if pad else dxp
  return dx, dw, dout.sum(axis=(0, 2, 3))


def max_pool_forward_naive(x, size, stride):
  n, c, h, w = x.shape
  ho, wo = 1 + (h - size) // stride, 1 + (w - size) // stride
  out = np.zeros((n, c, ho, wo), x.dtype)
  for i in range(ho):
    for j in range(wo):
      out[:, :, i, j] = x[:, :, i * stride:i * stride + size, j * stride:j * stride + size].max(axis=(2, 3))
  return out, (x, size, stride)


def max_pool_backward_naive(dout, cache):
  x, size, stride = cache
  dx = np.zeros_like(x)
  _, _, ho, wo = dout.shape
  for i in range(ho):
    for j in range(wo):
      window = x[:, :, i * stride:i * stride + size, j * stride:j * stride + size]
      is_max = window == window.max(axis=(2, 3), keepdims=True)
      dx[:, :, i * stride:i * stride + size, j * stride:j * stride + size] += is_max * dout[:, :, i, j][:, :, None, None]
  return dx


def get_im2col_indices(x_shape, field_height, field_width, padding, stride):
  n, c, h, w = x_shape
  out_height = (h + 2 * padding - field_height) // stride + 1
  out_width = (w + 2 * padding - field_width) // stride + 1
  i0 = np.tile(np.repeat(np.arange(field_height), field_width), c)
  i1 = stride * np.repeat(np.arange(out_height), out_width)
  j0 = np.tile(np.arange(field_width), field_height * c)
  j1 = stride * np.tile(np.arange(out_width), out_height)
  i = i0.reshape(-1, 1) + i1.reshape(1, -1)
  j = j0.reshape(-1, 1) + j1.reshape(1, -1)
  k = np.repeat(np.arange(c), field_height * field_width).reshape(-1, 1)
  return k, i, j


def im2col_indices(x, field_height, field_width, padding, stride):
  xp = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
  k, i, j = get_im2col_indices(x.shape, field_height, field_width, padding, stride)
  cols = xp[:, k, i, j]
  return cols.transpose(1, 2, 0).reshape(field_height * field_width * x.shape[1], -1)


def col2im_indices(cols, x_shape, field_height, field_width, padding, stride):
  n, c, h, w = x_shape
  xp = np.zeros((n, c, h + 2 * padding, w + 2 * padding), dtype=cols.dtype)
  k, i, j = get_im2col_indices(x_shape, field_height, field_width, padding, stride)
  cols_reshaped = cols.reshape(c * field_height * field_width, -1, n).transpose(2, 0, 1)
  np.add.at(xp, (slice(None), k, i, j), cols_reshaped)
  return xp[:, :, padding:-padding, padding:-padding] if padding else xp


def conv_forward_im2col(x, w, b, stride, pad):
  n, c, h, wd = x.shape
  f, _, hh, ww = w.shape
  ho, wo = (h + 2 * pad - hh) // stride + 1, (wd + 2 * pad - ww) // stride + 1
  cols = im2col_indices(x, hh, ww, pad, stride)
  out = (w.reshape(f, -1) @ cols + b.reshape(-1, 1)).reshape(f, ho, wo, n).transpose(3, 0, 1, 2)
  return out, (x, w, b, stride, pad, cols)


def conv_backward_im2col(dout, cache):
  x, w, b, stride, pad, cols = cache
  f, _, hh, ww = w.shape
  db = dout.sum(axis=(0, 2, 3))
  dout_r = dout.transpose(1, 2, 3, 0).reshape(f, -1)
  dw = (dout_r @ cols.T).reshape(w.shape)
  dx = col2im_indices(w.reshape(f, -1).T @ dout_r, x.shape, hh, ww, pad, stride)
  return dx, dw, db


def max_pool_forward_reshape(x, size, stride):
  """The course's fast pooling for non-overlapping square windows (a reshape and a max)."""
  n, c, h, w = x.shape
  xr = x.reshape(n, c, h // size, size, w // size, size)
  return xr.max(axis=(3, 5)), (x, xr, size)


def max_pool_backward_reshape(dout, cache):
  x, xr, size = cache
  out = xr.max(axis=(3, 5))
  mask = xr == out[:, :, :, None, :, None]
  return (mask * dout[:, :, :, None, :, None]).reshape(x.shape)


def three_layer_convnet_loss(params, x, y, fast: bool):
  """The course's ThreeLayerConvNet loss and gradients (conv - relu - pool - affine - relu - affine
  - softmax) with the naive or the im2col layers."""
  w1, b1, w2, b2, w3, b3 = (params[k] for k in ("W1", "b1", "W2", "b2", "W3", "b3"))
  pad = (w1.shape[2] - 1) // 2
  conv_f, conv_b = (conv_forward_im2col, conv_backward_im2col) if fast else (conv_forward_naive, conv_backward_naive)
  pool_f, pool_b = ((max_pool_forward_reshape, max_pool_backward_reshape) if fast
                    else (max_pool_forward_naive, max_pool_backward_naive))
  a, conv_cache = conv_f(x, w1, b1, 1, pad)
  r = np.maximum(a, 0)
  p, pool_cache = pool_f(r, 2, 2)
  flat = p.reshape(p.shape[0], -1)
  h = flat @ w2 + b2
  hr = np.maximum(h, 0)
  scores = hr @ w3 + b3
  shifted = scores - scores.max(axis=1, keepdims=True)
  log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
  n = x.shape[0]
  loss = -log_probs[np.arange(n), y].mean()
  dscores = np.exp(log_probs)
  dscores[np.arange(n), y] -= 1
  dscores /= n
  grads = {"W3": hr.T @ dscores, "b3": dscores.sum(0)}
  dh = (dscores @ w3.T) * (h > 0)
  grads["W2"], grads["b2"] = flat.T @ dh, dh.sum(0)
  dp = (dh @ w2.T).reshape(p.shape)
  dr = pool_b(dp, pool_cache)
  da = dr * (a > 0)
  _, grads["W1"], grads["b1"] = conv_b(da, conv_cache)
  return loss, grads
