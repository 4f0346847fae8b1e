"""Lecture 11's exact operations: the slides' own examples, NumPy references under jit and vmap, gradients."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.optimize

from cs231n_jax.detection import ops
from cs231n_jax.detection.matching import linear_sum_assignment

X = np.array([[1, 2], [3, 4]], np.float32)[None, :, :, None]


def grid(a):
  return np.asarray(a)[0, :, :, 0]


def test_unpooling_matches_the_slides():
  np.testing.assert_array_equal(grid(ops.nn_unpool(X)), [[1, 1, 2, 2], [1, 1, 2, 2], [3, 3, 4, 4], [3, 3, 4, 4]])
  np.testing.assert_array_equal(grid(ops.bed_of_nails_unpool(X)), [[1, 0, 2, 0], [0, 0, 0, 0], [3, 0, 4, 0], [0, 0, 0, 0]])


def test_max_pooling_remembers_the_switches_and_max_unpooling_uses_them():
  x = np.array([[1, 2, 6, 3], [3, 5, 2, 1], [1, 2, 2, 1], [7, 3, 4, 8]], np.float32)[None, :, :, None]
  pooled, switches = jax.jit(ops.max_pool_with_switches)(x)
  np.testing.assert_array_equal(grid(pooled), [[5, 6], [7, 8]])
  np.testing.assert_array_equal(grid(ops.max_unpool(X, switches)), [[0, 0, 2, 0], [0, 1, 0, 0], [0, 0, 0, 0], [3, 0, 0, 4]])
  # max unpooling is the VJP of max pooling: the gradient routes to the switches
  g = jax.grad(lambda x: jnp.sum(ops.max_pool_with_switches(x)[0] * X))(jnp.asarray(x))
  np.testing.assert_array_equal(np.asarray(g), np.asarray(ops.max_unpool(X, switches)))


def test_strided_conv_shapes_and_the_transpose_conv_2x2_to_4x4():
  w = np.random.default_rng(0).normal(size=(3, 3, 1, 1)).astype(np.float32)
  assert ops.conv(np.zeros((1, 4, 4, 1)), w, 1, 1).shape == (1, 4, 4, 1)
  assert ops.conv(np.zeros((1, 4, 4, 1)), w, 2, 1).shape == (1, 2, 2, 1)
  up = ops.conv_transpose(X, w, stride=2, padding=1, output_size=4)
  assert up.shape == (1, 4, 4, 1)
  assert ops.conv_transpose(X, w, stride=2, padding=1).shape == (1, 3, 3, 1)  # PyTorch's size without output_padding
  # "input gives weight for filter, sum where output overlaps": build it by hand on a padded 5x5 canvas
  canvas = np.zeros((5 + 1, 5 + 1))
  for i in range(2):
    for j in range(2):
      canvas[2 * i:2 * i + 3, 2 * j:2 * j + 3] += X[0, i, j, 0] * w[:, :, 0, 0]
  np.testing.assert_allclose(grid(up), canvas[1:5, 1:5], rtol=1e-5, atol=1e-5)
  # and it is the VJP of the stride-2, pad-1 convolution of a 4x4 input
  _, vjp = jax.vjp(lambda x: ops.conv(x, w, 2, 1), jnp.zeros((1, 4, 4, 1)))
  np.testing.assert_allclose(np.asarray(vjp(jnp.asarray(X))[0]), np.asarray(up), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("stride, expected", [
    # slide: X^T a for stride 1 = (ax, ay + bx, az + by + cx, bz + cy + dx, cz + dy, dz)
    (1, lambda x, y, z, a, b, c, d: [a * x, a * y + b * x, a * z + b * y + c * x, b * z + c * y + d * x, c * z + d * y, d * z]),
    # stride 2: (a, b) -> (ax, ay, az + bx, by, bz, 0)
    (2, lambda x, y, z, a, b, c, d: [a * x, a * y, a * z + b * x, b * y, b * z, 0.0]),
])
def test_1d_convolution_is_Xa_and_its_transpose_is_XTa(stride, expected):
  x, y, z = 0.3, -1.2, 2.0
  kernel = np.array([x, y, z], np.float64).reshape(3, 1, 1)
  rows = 4 if stride == 1 else 2
  mat = np.zeros((rows, 6))
  for r in range(rows):
    mat[r, stride * r:stride * r + 3] = [x, y, z]
  with jax.enable_x64(True):
    padded = np.array([0, 1.5, -0.5, 2.5, 0.75, 0])  # (0, a, b, c, d, 0): kernel 3, pad 1 on (a, b, c, d)
    out = np.asarray(ops.conv(padded.reshape(1, 6, 1), kernel, stride, 0))[0, :, 0]
    np.testing.assert_allclose(out, mat @ padded, rtol=1e-12)
    a, b, c, d = 1.5, -0.5, 2.5, 0.75
    np.testing.assert_allclose(out[:2], [a * y + b * z, a * x + b * y + c * z] if stride == 1 else [a * y + b * z, b * x + c * y + d * z])
    vec = np.array([a, b, c, d][:rows])
    up = np.asarray(ops.conv_transpose(vec.reshape(1, rows, 1), kernel, stride, 0, output_size=6))[0, :, 0]
    np.testing.assert_allclose(up, mat.T @ vec, rtol=1e-12)
    np.testing.assert_allclose(up, expected(x, y, z, a, b, c, d), rtol=1e-12)
    _, vjp = jax.vjp(lambda t: ops.conv(t, kernel, stride, 0), jnp.zeros((1, 6, 1)))
    np.testing.assert_allclose(np.asarray(vjp(jnp.asarray(vec.reshape(1, rows, 1)))[0])[0, :, 0], up, rtol=1e-12)


def np_iou(a, b):
  out = np.zeros((len(a), len(b)))
  for i, p in enumerate(a):
    for j, q in enumerate(b):
      iw = max(0, min(p[2], q[2]) - max(p[0], q[0]))
      ih = max(0, min(p[3], q[3]) - max(p[1], q[1]))
      inter = iw * ih
      union = (p[2] - p[0]) * (p[3] - p[1]) + (q[2] - q[0]) * (q[3] - q[1]) - inter
      out[i, j] = inter / union
  return out


def random_boxes(rng, n, size=64.0):
  xy = rng.uniform(0, size * 0.7, (n, 2))
  wh = rng.uniform(2, size * 0.4, (n, 2))
  return np.concatenate([xy, xy + wh], 1).astype(np.float32)


def test_iou_and_box_coding():
  rng = np.random.default_rng(1)
  a, b = random_boxes(rng, 7), random_boxes(rng, 5)
  np.testing.assert_allclose(np.asarray(ops.box_iou(a, b)), np_iou(a, b), rtol=1e-5, atol=1e-6)
  assert float(ops.box_iou(np.array([[0, 0, 2, 2.]]), np.array([[1, 0, 3, 2.]]))[0, 0]) == pytest.approx(1 / 3)
  deltas = ops.encode_boxes(a, b[:1].repeat(7, 0))
  np.testing.assert_allclose(np.asarray(ops.decode_boxes(deltas, b[:1].repeat(7, 0))), a, rtol=1e-5, atol=1e-4)
  # by hand: anchor (0, 0, 10, 10), box (5, 0, 25, 10): centre moves 10 = 1 anchor width, width doubles
  np.testing.assert_allclose(np.asarray(ops.encode_boxes(np.array([5, 0, 25, 10.]), np.array([0, 0, 10, 10.]))),
                             [1.0, 0.0, math.log(2), 0.0], atol=1e-6)


def test_anchors_are_centred_on_cells_with_the_requested_areas_and_ratios():
  a = np.asarray(ops.anchors((2, 3), 16, sizes=(32, 64), ratios=(0.5, 1.0, 2.0)))
  assert a.shape == (2 * 3 * 6, 4)
  w, h = a[:, 2] - a[:, 0], a[:, 3] - a[:, 1]
  np.testing.assert_allclose((w * h)[:6], [32 ** 2] * 3 + [64 ** 2] * 3, rtol=1e-5)
  np.testing.assert_allclose((h / w)[:3], [0.5, 1, 2], rtol=1e-5)
  np.testing.assert_allclose(((a[:, :2] + a[:, 2:]) / 2)[6 * 4], [(1 + 0.5) * 16, (1 + 0.5) * 16])  # cell (1, 1)


def np_nms(boxes, scores, thr):
  order = sorted(range(len(boxes)), key=lambda i: (-scores[i], i))
  keep = []
  for i in order:
    if all(np_iou(boxes[i:i + 1], boxes[k:k + 1])[0, 0] <= thr for k in keep):
      keep.append(i)
  return keep


def test_nms_equals_the_numpy_greedy_reference_under_jit_and_vmap():
  rng = np.random.default_rng(2)
  batch, n, max_out = 4, 40, 25
  boxes = np.stack([random_boxes(rng, n, 40.0) for _ in range(batch)])
  scores = rng.uniform(size=(batch, n)).astype(np.float32)
  valid = rng.uniform(size=(batch, n)) < 0.8
  fn = jax.jit(jax.vmap(lambda b, s, v: ops.nms(b, s, 0.4, max_out, v)))
  idx, count = fn(boxes, scores, valid)
  for i in range(batch):
    ref = [k for k in np_nms(boxes[i][valid[i]], scores[i][valid[i]], 0.4)]
    ref = list(np.nonzero(valid[i])[0][ref])[:max_out]
    assert int(count[i]) == len(ref) and len(ref) > 5
    np.testing.assert_array_equal(np.asarray(idx[i, :len(ref)]), ref)
    assert (np.asarray(idx[i, len(ref):]) == -1).all()


def np_roi_align(feat, box, ph, pw, scale, s, aligned=True):
  h, w, c = feat.shape
  off = 0.5 if aligned else 0.0
  x0, y0, x1, y1 = box * scale - off
  rw, rh = x1 - x0, y1 - y0
  if not aligned:
    rw, rh = max(rw, 1.0), max(rh, 1.0)
  out = np.zeros((ph, pw, c))

  def bilinear(y, x):
    if y < -1 or y > h or x < -1 or x > w:
      return np.zeros(c)
    y, x = max(y, 0.0), max(x, 0.0)
    yl, xl = int(y), int(x)
    if yl >= h - 1:
      yh = yl = h - 1
      y = float(yl)
    else:
      yh = yl + 1
    if xl >= w - 1:
      xh = xl = w - 1
      x = float(xl)
    else:
      xh = xl + 1
    ly, lx = y - yl, x - xl
    return ((1 - ly) * (1 - lx) * feat[yl, xl] + (1 - ly) * lx * feat[yl, xh] + ly * (1 - lx) * feat[yh, xl]
            + ly * lx * feat[yh, xh])

  for i in range(ph):
    for j in range(pw):
      acc = np.zeros(c)
      for iy in range(s):
        for ix in range(s):
          acc += bilinear(y0 + i * rh / ph + (iy + 0.5) * rh / ph / s, x0 + j * rw / pw + (ix + 0.5) * rw / pw / s)
      out[i, j] = acc / (s * s)
  return out


@pytest.mark.parametrize("aligned", [True, False])
def test_roi_align_equals_the_numpy_reference_under_jit_and_vmap(aligned):
  rng = np.random.default_rng(3)
  feats = rng.normal(size=(2, 9, 11, 3)).astype(np.float32)
  boxes = np.stack([random_boxes(rng, 5, 40.0) for _ in range(2)])
  boxes[0, 0] = [-10, -6, 50, 47]  # reaches past the map
  fn = jax.jit(jax.vmap(lambda f, b: ops.roi_align(f, b, (4, 3), 0.25, 2, aligned)))
  out = np.asarray(fn(feats, boxes))
  for i in range(2):
    for r in range(5):
      np.testing.assert_allclose(out[i, r], np_roi_align(feats[i], boxes[i, r], 4, 3, 0.25, 2, aligned), atol=1e-5)


def np_roi_pool(feat, box, ph, pw, scale):
  h, w, c = feat.shape
  x0, y0, x1, y1 = [int(np.round(v * scale)) for v in box]
  rw, rh = max(x1 - x0 + 1, 1), max(y1 - y0 + 1, 1)
  out = np.zeros((ph, pw, c))
  for i in range(ph):
    for j in range(pw):
      hs = min(max(int(np.floor(i * rh / ph)) + y0, 0), h)
      he = min(max(int(np.ceil((i + 1) * rh / ph)) + y0, 0), h)
      ws = min(max(int(np.floor(j * rw / pw)) + x0, 0), w)
      we = min(max(int(np.ceil((j + 1) * rw / pw)) + x0, 0), w)
      out[i, j] = feat[hs:he, ws:we].max((0, 1)) if he > hs and we > ws else 0
  return out


def test_roi_pool_the_slide_shapes_reference_and_argmax_gradients():
  rng = np.random.default_rng(4)
  # the slide: 3x640x480 image, 512x20x15 conv features (stride 32), an 18x8 projected proposal -> 512x7x7
  feats = rng.normal(size=(15, 20, 512)).astype(np.float32)
  box = np.array([[1 * 32, 3 * 32, 18 * 32, 10 * 32]], np.float32)  # cells x 1..18, y 3..10: 18 wide, 8 tall
  out = jax.jit(lambda f, b: ops.roi_pool(f, b, (7, 7), 1 / 32))(feats, box)
  assert out.shape == (1, 7, 7, 512)
  np.testing.assert_allclose(np.asarray(out[0]), np_roi_pool(feats, box[0], 7, 7, 1 / 32), rtol=1e-6)
  small = rng.normal(size=(6, 7, 2)).astype(np.float32)
  boxes = np.array([[0, 0, 6, 5], [2.2, 1.4, 5.1, 4.0]], np.float32)
  np.testing.assert_allclose(np.asarray(ops.roi_pool(small, boxes, (2, 2)))[1], np_roi_pool(small, boxes[1], 2, 2, 1.0), rtol=1e-6)
  cot = rng.normal(size=(2, 2, 2, 2)).astype(np.float32)
  g = np.asarray(jax.grad(lambda f: jnp.sum(ops.roi_pool(f, boxes, (2, 2)) * cot))(jnp.asarray(small)))
  expected = np.zeros_like(small)  # each output's cotangent lands on its cell's argmax, nowhere else
  for r, b in enumerate(boxes):
    x0, y0, x1, y1 = [int(np.round(v)) for v in b]
    rw, rh = x1 - x0 + 1, y1 - y0 + 1
    for i in range(2):
      for j in range(2):
        hs, he = int(np.floor(i * rh / 2)) + y0, min(int(np.ceil((i + 1) * rh / 2)) + y0, 6)
        ws, we = int(np.floor(j * rw / 2)) + x0, min(int(np.ceil((j + 1) * rw / 2)) + x0, 7)
        for ch in range(2):
          cell = small[hs:he, ws:we, ch]
          yy, xx = np.unravel_index(np.argmax(cell), cell.shape)
          expected[hs + yy, ws + xx, ch] += cot[r, i, j, ch]
  np.testing.assert_allclose(g, expected, rtol=1e-6, atol=1e-6)
  assert (g != 0).sum() <= 2 * 2 * 2 * 2


def test_roi_pool_equals_the_numpy_reference_for_whole_outside_tiny_and_huge_boxes_under_jit_and_vmap():
  # non-power-of-two map sides, bins that are not a divisor of them; the boxes exercise every extent a cell
  # can have: the whole map (also with each cell exactly one / two feature cells, where a float division
  # lands a hair above an integer), partly and wholly outside, tiny, reversed, and far larger than the map
  rng = np.random.default_rng(6)
  feats = rng.normal(size=(2, 9, 11, 3)).astype(np.float32)
  boxes = np.stack([np.concatenate([random_boxes(rng, 4, 44.0), np.array([
      [0, 0, 44, 36], [4, 4, 36, 28], [0, 0, 20, 12], [-14, -9, 22, 18], [30, 20, 80, 70], [60, 50, 70, 60],
      [13, 9, 13, 9], [13, 9, 14.5, 10], [20, 20, 8, 5], [-1e3, -1e3, 1e3, 1e3], [-8, 3, 58, 30],
  ], np.float32)]) for _ in range(2)])
  out = np.asarray(jax.jit(jax.vmap(lambda f, b: ops.roi_pool(f, b, (3, 4), 0.25)))(feats, boxes))
  for i in range(2):
    for r in range(boxes.shape[1]):
      np.testing.assert_allclose(out[i, r], np_roi_pool(feats[i], boxes[i, r], 3, 4, 0.25), atol=1e-5)


def test_roi_pool_reads_each_cell_from_the_range_max_table_up_to_the_whole_map():
  # the table: table[a, b, y, x] = max of the 2**a x 2**b window at (y, x), for every window inside the map
  feat = np.random.default_rng(7).normal(size=(9, 11, 2)).astype(np.float32)
  whole = np.array([[0, 0, 10, 8], [-30, -20, 40, 30]], np.float32)  # the whole map; a box larger than it
  table, out, g = jax.jit(lambda f: (ops.range_max_table(f), ops.roi_pool(f, whole, (1, 1)),
                                     jax.grad(lambda f: jnp.sum(ops.roi_pool(f, whole[:1], (1, 1))))(f)))(feat)
  table = np.asarray(table)
  assert table.shape == (4, 4, 9, 11, 2)  # 2**3 <= 9 < 2**4 rows, 2**3 <= 11 < 2**4 columns
  for a in range(4):
    for b in range(4):
      for y in range(9 - 2 ** a + 1):
        for x in range(11 - 2 ** b + 1):
          np.testing.assert_array_equal(table[a, b, y, x], feat[y:y + 2 ** a, x:x + 2 ** b].max((0, 1)))
  # the largest cell: one bin over the whole map (and over a box larger than the map) is the map's maximum,
  # read from the table's top level, and its gradient is one-hot at the argmax (overlapping windows tie)
  np.testing.assert_array_equal(np.asarray(out)[:, 0, 0], np.broadcast_to(feat.max((0, 1)), (2, 2)))
  expected = np.zeros_like(feat)
  for ch in range(2):
    yy, xx = np.unravel_index(np.argmax(feat[..., ch]), (9, 11))
    expected[yy, xx, ch] = 1.0
  np.testing.assert_array_equal(np.asarray(g), expected)


def test_roi_align_gradient_is_the_bilinear_weights():
  feats = np.random.default_rng(5).normal(size=(5, 5, 1))
  box = np.array([[1.0, 1.0, 3.0, 4.0]])
  with jax.enable_x64(True):
    g = jax.jit(jax.grad(lambda f: ops.roi_align(f, box, (1, 1), 1.0, 1).sum()))(jnp.asarray(feats))
    # one sample at the box centre (2.0, 2.5) - 0.5 = (1.5, 2.0): half to (2, 1) and half to (2, 2)
    expected = np.zeros((5, 5, 1))
    expected[2, 1, 0] = expected[2, 2, 0] = 0.5
    np.testing.assert_allclose(np.asarray(g), expected, atol=1e-12)


def test_hungarian_matching_equals_scipy_under_jit_and_vmap():
  rng = np.random.default_rng(6)
  costs = rng.uniform(size=(8, 5, 9)).astype(np.float32)
  costs[0, :, :4] = 0.5  # ties
  cols = np.asarray(jax.jit(jax.vmap(linear_sum_assignment))(costs))
  for k, (c, got) in enumerate(zip(costs, cols)):
    r, ref = scipy.optimize.linear_sum_assignment(c)
    assert len(set(got.tolist())) == 5
    np.testing.assert_allclose(c[np.arange(5), got].sum(), c[r, ref].sum(), rtol=1e-6)
    if k > 0:
      np.testing.assert_array_equal(got, ref)  # unique optimum for continuous costs
  with jax.enable_x64(True):
    big = rng.normal(size=(12, 12))
    got = np.asarray(jax.jit(linear_sum_assignment)(jnp.asarray(big)))
    r, ref = scipy.optimize.linear_sum_assignment(big)
    np.testing.assert_array_equal(got, ref)
