"""Lecture 11's exact operations, jittable with static shapes.

Upsampling (lecture 11, slides "In-Network upsampling"):

- :func:`nn_unpool` (nearest neighbour) and :func:`bed_of_nails_unpool`;
- :func:`max_pool_with_switches` ("remember which element was max!") and :func:`max_unpool`,
  which puts each value back at the remembered position;
- :func:`conv` / :func:`conv_transpose`: a strided convolution and its transpose ("learnable
  upsampling"). **Padding convention**: ``conv_transpose(a, w, stride, padding, output_size)`` is
  *defined* as the adjoint (the VJP) of ``conv(x, w^T, stride, padding)`` for an ``x`` of spatial size
  ``output_size`` — so the lecture's "3x3 transpose convolution, stride 2, pad 1" maps 2x2 to 4x4
  with ``output_size=4`` (PyTorch needs ``output_padding=1`` for the same result; without it
  PyTorch returns 3x3). ``output_size`` defaults to ``(in - 1) * stride + k - 2 * padding`` (PyTorch's
  size without output padding).

Boxes (``(x0, y0, x1, y1)`` in pixel-edge coordinates, area ``(x1 - x0) * (y1 - y0)``): :func:`box_iou`,
:func:`encode_boxes` / :func:`decode_boxes` (Faster R-CNN's parametrisation ``tx = (x - xa) / wa``,
``tw = log(w / wa)``, from Girshick et al. 2014 / Ren et al. 2015 — the lecture leaves it out),
:func:`anchors` (``scales`` x ``ratios`` boxes centred on every feature-map cell), :func:`nms` (greedy
non-maximum suppression over a fixed number of boxes, padded output), :func:`roi_pool` (Fast
R-CNN's quantised max pooling) and :func:`roi_align` (Mask R-CNN's bilinear sampling, no
quantisation). Like scenic's NMS and RoIAlign, every function takes a fixed maximum number of boxes
and a validity mask, so shapes never depend on the data: one compilation serves every batch.
"""

from __future__ import annotations

import functools
import math
from typing import Sequence

import jax
import jax.numpy as jnp
from jax import lax

BBOX_CLIP = math.log(1000.0 / 16)  # Detectron's clamp on decoded log-scale deltas


# ---------------------------------------------------------------------------------------------
# Unpooling and max pooling with switches (NHWC)


def nn_unpool(x: jax.Array, factor: int = 2) -> jax.Array:
  """Nearest-neighbour unpooling: each value copied into a ``factor`` x ``factor`` block."""
  return jnp.repeat(jnp.repeat(x, factor, axis=1), factor, axis=2)


def bed_of_nails_unpool(x: jax.Array, factor: int = 2) -> jax.Array:
  """"Bed of nails": each value at the top-left of its block, zeros elsewhere."""
  n, h, w, c = x.shape
  out = jnp.zeros((n, h, factor, w, factor, c), x.dtype).at[:, :, 0, :, 0, :].set(x)
  return out.reshape(n, h * factor, w * factor, c)


def _blocks(x: jax.Array, k: int) -> jax.Array:
  n, h, w, c = x.shape
  if h % k or w % k:
    raise ValueError(f"max_pool_with_switches: height and width must be multiples of the window {k}, got {h}x{w}")
  return x.reshape(n, h // k, k, w // k, k, c).transpose(0, 1, 3, 5, 2, 4).reshape(n, h // k, w // k, c, k * k)


def max_pool_with_switches(x: jax.Array, window: int = 2) -> tuple[jax.Array, jax.Array]:
  """Non-overlapping max pooling (stride = window) and the switches: the position of each max
  inside its window, row-major ``0 .. window**2 - 1`` (the first on ties)."""
  blocks = _blocks(x, window)
  return jnp.max(blocks, -1), jnp.argmax(blocks, -1).astype(jnp.int32)


def max_unpool(x: jax.Array, switches: jax.Array, window: int = 2) -> jax.Array:
  """Max unpooling: each value placed at its switch's position in its window, zeros elsewhere."""
  n, h, w, c = x.shape
  hot = jax.nn.one_hot(switches, window * window, dtype=x.dtype) * x[..., None]  # (n, h, w, c, k*k)
  return hot.reshape(n, h, w, c, window, window).transpose(0, 1, 4, 2, 5, 3).reshape(n, h * window, w * window, c)


# ---------------------------------------------------------------------------------------------
# Strided and transpose convolution (cross-correlation, as in every deep-learning library)


def _dims(x: jax.Array) -> tuple[str, str, str]:
  return {3: ("NWC", "WIO", "NWC"), 4: ("NHWC", "HWIO", "NHWC")}[x.ndim]


def _tuple(v, n: int) -> tuple[int, ...]:
  return tuple(v) if isinstance(v, (tuple, list)) else (v,) * n


def conv(x: jax.Array, w: jax.Array, stride: int | Sequence[int] = 1, padding: int | Sequence[int] = 0) -> jax.Array:
  """Strided convolution of ``x`` (N, *spatial, C_in) with ``w`` (*k, C_in, C_out), zero padding
  ``padding`` on every side; output size ``floor((L + 2p - k) / s) + 1``."""
  nd = x.ndim - 2
  s, p = _tuple(stride, nd), _tuple(padding, nd)
  return lax.conv_general_dilated(x, w, s, [(q, q) for q in p], dimension_numbers=_dims(x))


def conv_transpose(a: jax.Array, w: jax.Array, stride: int | Sequence[int] = 1, padding: int | Sequence[int] = 0,
                   output_size: int | Sequence[int] | None = None) -> jax.Array:
  """Transpose convolution of ``a`` (N, *spatial, C_a) with ``w`` (*k, C_a, C_out): the adjoint of
  ``conv(., w with its channel axes swapped, stride, padding)`` on inputs of size ``output_size``.

  "Input gives weight for filter", "sum where output overlaps": each input value scales a copy of
  the filter placed ``stride`` pixels apart in the output, and the ``padding`` border is cropped.
  """
  nd = a.ndim - 2
  k = w.shape[:nd]
  s, p = _tuple(stride, nd), _tuple(padding, nd)
  m = a.shape[1:1 + nd]
  if output_size is None:
    size = tuple((m[i] - 1) * s[i] + k[i] - 2 * p[i] for i in range(nd))
  else:
    size = _tuple(output_size, nd)
  pads = []
  for i in range(nd):
    if (size[i] + 2 * p[i] - k[i]) // s[i] + 1 != m[i]:
      raise ValueError(f"conv_transpose: output_size {size[i]} is not mapped to input size {m[i]} by a conv with "
                       f"kernel {k[i]}, stride {s[i]}, padding {p[i]}")
    extra = size[i] + 2 * p[i] - k[i] - (m[i] - 1) * s[i]  # rows the forward conv never reached
    pads.append((k[i] - 1 - p[i], k[i] - 1 - p[i] + extra))
  flipped = jnp.flip(w, axis=tuple(range(nd)))
  return lax.conv_general_dilated(a, flipped, (1,) * nd, pads, lhs_dilation=s, dimension_numbers=_dims(a))


# ---------------------------------------------------------------------------------------------
# Boxes


def box_area(boxes: jax.Array) -> jax.Array:
  return jnp.clip(boxes[..., 2] - boxes[..., 0], 0) * jnp.clip(boxes[..., 3] - boxes[..., 1], 0)


def box_iou(a: jax.Array, b: jax.Array) -> jax.Array:
  """IoU of every box in ``a`` (..., N, 4) with every box in ``b`` (..., M, 4): (..., N, M); 0
  where the union is empty."""
  lo = jnp.maximum(a[..., :, None, :2], b[..., None, :, :2])
  hi = jnp.minimum(a[..., :, None, 2:], b[..., None, :, 2:])
  inter = jnp.prod(jnp.clip(hi - lo, 0), -1)
  union = box_area(a)[..., :, None] + box_area(b)[..., None, :] - inter
  return jnp.where(union > 0, inter / jnp.where(union > 0, union, 1.0), 0.0)


def encode_boxes(boxes: jax.Array, anchors: jax.Array, weights: Sequence[float] = (1.0, 1.0, 1.0, 1.0)) -> jax.Array:
  """Deltas ``(tx, ty, tw, th)`` that take ``anchors`` to ``boxes`` (Faster R-CNN's parametrisation)."""
  wa, ha = anchors[..., 2] - anchors[..., 0], anchors[..., 3] - anchors[..., 1]
  xa, ya = anchors[..., 0] + 0.5 * wa, anchors[..., 1] + 0.5 * ha
  w = jnp.maximum(boxes[..., 2] - boxes[..., 0], 1e-6)
  h = jnp.maximum(boxes[..., 3] - boxes[..., 1], 1e-6)
  x, y = boxes[..., 0] + 0.5 * w, boxes[..., 1] + 0.5 * h
  wx, wy, ww, wh = weights
  return jnp.stack([wx * (x - xa) / wa, wy * (y - ya) / ha, ww * jnp.log(w / wa), wh * jnp.log(h / ha)], -1)


def decode_boxes(deltas: jax.Array, anchors: jax.Array, weights: Sequence[float] = (1.0, 1.0, 1.0, 1.0)) -> jax.Array:
  """The inverse of :func:`encode_boxes` (log-scale deltas clamped at log(1000 / 16))."""
  wa, ha = anchors[..., 2] - anchors[..., 0], anchors[..., 3] - anchors[..., 1]
  xa, ya = anchors[..., 0] + 0.5 * wa, anchors[..., 1] + 0.5 * ha
  wx, wy, ww, wh = weights
  x = deltas[..., 0] / wx * wa + xa
  y = deltas[..., 1] / wy * ha + ya
  w = jnp.exp(jnp.minimum(deltas[..., 2] / ww, BBOX_CLIP)) * wa
  h = jnp.exp(jnp.minimum(deltas[..., 3] / wh, BBOX_CLIP)) * ha
  return jnp.stack([x - 0.5 * w, y - 0.5 * h, x + 0.5 * w, y + 0.5 * h], -1)


def clip_boxes(boxes: jax.Array, height: float, width: float) -> jax.Array:
  return jnp.stack([jnp.clip(boxes[..., 0], 0, width), jnp.clip(boxes[..., 1], 0, height),
                    jnp.clip(boxes[..., 2], 0, width), jnp.clip(boxes[..., 3], 0, height)], -1)


def anchors(feature_size: tuple[int, int], stride: float, sizes: Sequence[float], ratios: Sequence[float] = (1.0,)) -> jax.Array:
  """``(Hf * Wf * A, 4)`` anchors, row-major over cells then ``sizes`` x ``ratios`` (A of them): a box of
  area ``size**2`` and ``height / width = ratio`` centred on each cell ``((j + 0.5) * stride, (i + 0.5) * stride)``."""
  hf, wf = feature_size
  base = []
  for size in sizes:
    for r in ratios:
      w = size / math.sqrt(r)
      h = size * math.sqrt(r)
      base.append((-w / 2, -h / 2, w / 2, h / 2))
  base = jnp.asarray(base, jnp.float32)  # (A, 4)
  cy, cx = jnp.meshgrid((jnp.arange(hf) + 0.5) * stride, (jnp.arange(wf) + 0.5) * stride, indexing="ij")
  centres = jnp.stack([cx, cy, cx, cy], -1).reshape(-1, 1, 4)
  return (centres + base[None]).reshape(-1, 4)


# ---------------------------------------------------------------------------------------------
# Non-maximum suppression


def nms(boxes: jax.Array, scores: jax.Array, iou_threshold: float, max_output: int,
        valid: jax.Array | None = None) -> tuple[jax.Array, jax.Array]:
  """Greedy NMS over ``boxes`` (N, 4): visit boxes in decreasing score, keep one unless it overlaps a
  kept box with IoU > ``iou_threshold``. Returns ``(indices, count)``: the kept indices in score
  order, padded with -1 to ``max_output`` (static), and how many are real (at most ``max_output``).
  ``valid`` (N,) excludes padded boxes. Ties in score keep the lower index first."""
  n = boxes.shape[0]
  valid = jnp.ones((n,), bool) if valid is None else valid
  key = jnp.where(valid, scores, -jnp.inf)
  order = jnp.argsort(-key, stable=True)
  b = boxes[order]
  alive0 = valid[order]
  iou = box_iou(b, b)
  later = jnp.arange(n)[None, :] > jnp.arange(n)[:, None]
  suppress = (iou > iou_threshold) & later

  def body(i, alive):
    return alive & ~(alive[i] & suppress[i])

  alive = lax.fori_loop(0, n, body, alive0)
  kept = jnp.nonzero(alive, size=max_output, fill_value=n)[0]
  indices = jnp.where(kept < n, order[jnp.minimum(kept, n - 1)], -1)
  return indices.astype(jnp.int32), jnp.minimum(jnp.sum(alive), max_output).astype(jnp.int32)


# ---------------------------------------------------------------------------------------------
# RoI pooling (Fast R-CNN) and RoIAlign (Mask R-CNN)


_MAX_CELL = 2 ** 20  # quantised box corners are clamped to +-2**20 cells (int32 bin arithmetic cannot overflow)


def _floor_log2(n: int) -> jax.Array:
  """``floor(log2(e))`` for ``e = 0 .. n`` as an int32 lookup table (0 for ``e = 0``)."""
  return jnp.asarray([max(e, 1).bit_length() - 1 for e in range(n + 1)], jnp.int32)


@jax.jit
def range_max_table(features: jax.Array) -> jax.Array:
  """The 2-D sparse table of ``features`` (H, W, C) for range-maximum queries: (LY, LX, H, W, C) with
  ``LY = floor(log2 H) + 1``, ``LX = floor(log2 W) + 1`` and ``table[a, b, y, x] = max features[y : y + 2**a,
  x : x + 2**b]`` (a window running past the map's end is padded with -inf; :func:`roi_pool` never reads one).

  The maximum over any rectangle ``[y0, y1) x [x0, x1)`` is then the maximum of four entries at
  ``a = floor(log2(y1 - y0))``, ``b = floor(log2(x1 - x0))``: the windows of side ``2**a`` x ``2**b`` at the
  rectangle's four corners, which together cover it exactly (overlaps do not change a maximum). Built once
  per map by ``LY + LX - 2`` element-wise maxima of shifted copies; differentiable (each entry's gradient
  runs down its chain of maxima to the window's argmax).
  """
  h, w, _ = features.shape
  neg = jnp.asarray(-jnp.inf, features.dtype)

  def doubled(t, axis, s):  # t[i] -> max(t[i], t[i + s]), -inf past the end
    pad = [(0, 0)] * t.ndim
    pad[axis] = (0, s)
    shifted = lax.slice_in_dim(jnp.pad(t, pad, constant_values=neg), s, s + t.shape[axis], axis=axis)
    return jnp.maximum(t, shifted)

  rows = [features]
  for a in range(1, h.bit_length()):
    rows.append(doubled(rows[-1], 0, 2 ** (a - 1)))
  cols = [jnp.stack(rows)]  # (LY, H, W, C); then every row level doubled along the columns at once
  for b in range(1, w.bit_length()):
    cols.append(doubled(cols[-1], 2, 2 ** (b - 1)))
  return jnp.stack(cols, axis=1)


def roi_pool(features: jax.Array, boxes: jax.Array, output_size: tuple[int, int] = (7, 7),
             spatial_scale: float = 1.0) -> jax.Array:
  """Fast R-CNN's RoI max pooling of ``features`` (H, W, C) over ``boxes`` (R, 4) in image
  coordinates: (R, PH, PW, C).

  The box is projected onto the feature map and *quantised* (``round(x * spatial_scale)``, the
  corner cells inclusive, at least one cell), split into a ``PH`` x ``PW`` grid of cells with
  ``floor`` / ``ceil`` edges, and each cell max-pooled; an empty cell gives 0 (the Caffe / torchvision
  rule). The gradient of each output reaches only its cell's argmax.

  Each cell reads only its own cells, with static shapes and no bound on a cell's extent (a box may be
  larger than the map): the map's range-maximum table (:func:`range_max_table`, built once per map) gives
  a cell's maximum as the maximum of four entries, so the work is ``LY * LX * H * W * C`` per map plus
  ``PH * PW * 4 * C`` per box, not ``H * W * C`` per box. Compiled as one function (also when called
  eagerly, where op-by-op dispatch of its few dozen small operations would cost seconds).
  """
  return _roi_pool(features, boxes, tuple(int(v) for v in output_size), float(spatial_scale))


@functools.partial(jax.jit, static_argnums=(2, 3))
def _roi_pool(features: jax.Array, boxes: jax.Array, output_size: tuple[int, int], spatial_scale: float) -> jax.Array:
  h, w, c = features.shape
  ph, pw = output_size
  ly, lx = h.bit_length(), w.bit_length()
  table = range_max_table(features).reshape(ly * lx * h * w, c)
  log_h, log_w = _floor_log2(h), _floor_log2(w)

  def one(box):
    # quantised corners as integers
    x0, y0, x1, y1 = jnp.clip(jnp.round(box * spatial_scale), -_MAX_CELL, _MAX_CELL).astype(jnp.int32)
    rw, rh = jnp.maximum(x1 - x0 + 1, 1), jnp.maximum(y1 - y0 + 1, 1)

    def edges(start, length, bins, size, log):
      # exact integer floor / ceil of i * length / bins (a float division can land a hair above an integer:
      # XLA:CPU multiplies by the rounded reciprocal, so ceil(3 * 7 / 7) came out 4)
      i = jnp.arange(bins, dtype=jnp.int32)
      lo = jnp.clip(i * length // bins + start, 0, size)
      hi = jnp.clip(-(-(i + 1) * length // bins) + start, 0, size)
      extent = hi - lo  # >= 0 after clipping
      level = log[extent]
      # the two windows of side 2**level that cover [lo, hi): at lo and ending at hi (clamped for empty cells)
      starts = jnp.clip(jnp.stack([lo, hi - jnp.left_shift(1, level)], -1), 0, size - 1)
      return starts, level, extent > 0

    ys, ly_, row_ok = edges(y0, rh, ph, h, log_h)  # (ph, 2), (ph,), (ph,)
    xs, lx_, col_ok = edges(x0, rw, pw, w, log_w)
    base = (ly_[:, None] * lx + lx_[None, :]) * (h * w)  # (ph, pw)
    idx = base[:, :, None, None] + ys[:, None, :, None] * w + xs[None, :, None, :]  # (ph, pw, 2, 2)
    out = jnp.max(table[idx.reshape(ph, pw, 4)], axis=2)  # (ph, pw, c)
    empty = ~(row_ok[:, None] & col_ok[None, :])
    return jnp.where(empty[..., None], jnp.zeros((), features.dtype), out)

  return jax.vmap(one)(boxes)


def _bilinear_weights(coords: jax.Array, size: int) -> jax.Array:
  """(K, size) weights that bilinearly interpolate at ``coords`` (K,) in pixel-centre units (Detectron's
  border rule: a coordinate below -1 or above ``size`` samples 0; one within is clamped to [0, size - 1])."""
  outside = (coords < -1.0) | (coords > size)
  c = jnp.clip(coords, 0.0, size - 1)
  pos = jnp.arange(size, dtype=coords.dtype)
  wgt = jnp.maximum(0.0, 1.0 - jnp.abs(c[:, None] - pos[None, :]))
  return jnp.where(outside[:, None], 0.0, wgt)


def roi_align(features: jax.Array, boxes: jax.Array, output_size: tuple[int, int] = (7, 7), spatial_scale: float = 1.0,
              sampling_ratio: int = 2, aligned: bool = True) -> jax.Array:
  """Mask R-CNN's RoIAlign of ``features`` (H, W, C) over ``boxes`` (R, 4): (R, PH, PW, C).

  No quantisation: the box (scaled by ``spatial_scale``; with ``aligned`` shifted by half a pixel so
  that pixel *centres* sit at integer coordinates) is split into ``PH`` x ``PW`` bins, each bin sampled
  at ``sampling_ratio`` x ``sampling_ratio`` regularly spaced points by bilinear interpolation, and
  the samples averaged. A fixed ``sampling_ratio`` keeps the shapes static; the interpolation is
  written as two small weight matrices and an einsum (as scenic's RoIAlign), so it is exact and
  differentiable in the features and the boxes.
  """
  h, w, _ = features.shape
  ph, pw = output_size
  s = sampling_ratio
  offset = 0.5 if aligned else 0.0

  def one(box):
    x0, y0 = box[0] * spatial_scale - offset, box[1] * spatial_scale - offset
    x1, y1 = box[2] * spatial_scale - offset, box[3] * spatial_scale - offset
    rw, rh = x1 - x0, y1 - y0
    if not aligned:
      rw, rh = jnp.maximum(rw, 1.0), jnp.maximum(rh, 1.0)
    frac_y = (jnp.arange(ph)[:, None] + (jnp.arange(s)[None, :] + 0.5) / s).reshape(-1)
    frac_x = (jnp.arange(pw)[:, None] + (jnp.arange(s)[None, :] + 0.5) / s).reshape(-1)
    ys = y0 + frac_y * rh / ph
    xs = x0 + frac_x * rw / pw
    wy, wx = _bilinear_weights(ys, h), _bilinear_weights(xs, w)  # (ph*s, h), (pw*s, w)
    samples = jnp.einsum("ah,bw,hwc->abc", wy, wx, features)
    return samples.reshape(ph, s, pw, s, -1).mean(axis=(1, 3))

  return jax.vmap(one)(boxes)
