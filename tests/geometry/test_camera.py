"""Lecture 11: pixels are rays, 2-D boxes are frustums, 3-D boxes and their IoU, RGB-D voxelization
of scikit-image's stereo_motorcycle."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from cs231n_jax.geometry import camera as cam
from cs231n_jax.geometry import explicit

KEY = jax.random.key(1)


def posed_camera():
  eye = np.array([3.0, -2.0, 1.5])
  return cam.PinholeCamera(120.0, 110.0, 32.0, 30.0, tuple(map(tuple, cam.look_at(eye, (0, 0, 0)))), tuple(eye))


def test_a_pixel_is_a_ray():
  c = posed_camera()
  uv = jax.random.uniform(KEY, (50, 2), minval=0, maxval=64)
  o, d = cam.pixel_to_ray(c, uv)
  np.testing.assert_allclose(jnp.linalg.norm(d, axis=-1), 1.0, rtol=1e-6)
  for s in (0.5, 2.0, 10.0):  # every point of the ray projects to the same pixel
    back, depth = cam.project(c, o + s * d)
    np.testing.assert_allclose(back, uv, atol=2e-3)
    assert np.all(depth > 0)
  # the principal point looks at the target
  _, d0 = cam.pixel_to_ray(c, jnp.array([c.cx, c.cy]))
  np.testing.assert_allclose(d0, -np.array(c.position) / np.linalg.norm(c.position), atol=1e-6)


def test_a_2d_box_is_a_frustum():
  c = posed_camera()
  box2d = (10.0, 12.0, 40.0, 50.0)
  corners = cam.box_to_frustum(c, box2d, 1.0, 6.0)
  uv, z = cam.project(c, corners)
  np.testing.assert_allclose(uv, np.tile([[10, 12], [40, 12], [40, 50], [10, 50]], (2, 1)), atol=2e-3)
  np.testing.assert_allclose(z, [1.0] * 4 + [6.0] * 4, rtol=1e-5)
  # convex combinations of the corners are inside the frustum; points beyond far are not
  w = jax.random.dirichlet(KEY, jnp.ones(8), (200,))
  assert bool(jnp.all(cam.in_frustum(c, box2d, 1.0 - 1e-4, 6.0 + 1e-4, w @ corners)))
  assert not bool(jnp.any(cam.in_frustum(c, box2d, 1.0, 6.0, corners[4:] * 1.5 - 0.5 * c.t)))


def test_zero_focal_length_is_a_one_line_error():
  with pytest.raises(ValueError, match=r"camera.fx: expected a non-zero"):
    cam.PinholeCamera(0.0, 1.0, 0.0, 0.0)
  with pytest.raises(ValueError, match=r"camera.fy"):
    cam.PinholeCamera(1.0, 0.0, 0.0, 0.0)


def test_box3d_corners():
  box = jnp.array([1.0, 2.0, 0.5, 2.0, 1.0, 4.0, np.pi / 2])  # x y z w h l yaw
  corners = np.asarray(cam.box3d_corners(box))
  # yaw 90°: the length (4) lies along world y, the width (2) along x
  np.testing.assert_allclose(corners.min(0), [0.0, 0.0, 0.0], atol=1e-6)
  np.testing.assert_allclose(corners.max(0), [2.0, 4.0, 1.0], atol=1e-6)
  np.testing.assert_allclose(corners.mean(0), [1.0, 2.0, 0.5], atol=1e-6)
  # the corners form a closed box mesh of volume w h l (reuse the mesh code on the 8 corners)
  faces = np.array([[0, 2, 1], [0, 3, 2], [4, 5, 6], [4, 6, 7], [0, 1, 5], [0, 5, 4], [1, 2, 6], [1, 6, 5],
                    [2, 3, 7], [2, 7, 6], [3, 0, 4], [3, 4, 7]])
  np.testing.assert_allclose(float(explicit.mesh_volume(corners, faces)), 8.0, rtol=1e-5)
  with pytest.raises(ValueError, match=r"box: expected \(x, y, z, w, h, l, yaw\)"):
    cam.box3d_corners(jnp.zeros(6))


def monte_carlo_iou(a, b, n=400_000, seed=0):
  """An independent estimate: uniform points in the boxes' common bounding region, inside tests in
  each box's own frame."""
  rng = np.random.default_rng(seed)
  ca, cb = np.asarray(cam.box3d_corners(a)), np.asarray(cam.box3d_corners(b))
  lo, hi = np.minimum(ca.min(0), cb.min(0)), np.maximum(ca.max(0), cb.max(0))
  p = rng.uniform(lo, hi, (n, 3))

  def inside(bx):
    x, y, z, w, h, l, yaw = bx
    q = p - [x, y, z]
    c, s = np.cos(yaw), np.sin(yaw)
    u, v = c * q[:, 0] + s * q[:, 1], -s * q[:, 0] + c * q[:, 1]
    return (np.abs(u) <= l / 2) & (np.abs(v) <= w / 2) & (np.abs(q[:, 2]) <= h / 2)

  ia, ib = inside(np.asarray(a)), inside(np.asarray(b))
  return (ia & ib).sum() / (ia | ib).sum()


def test_box3d_iou_exact_cases_and_monte_carlo():
  a = jnp.array([0.0, 0.0, 0.0, 2.0, 2.0, 2.0, 0.0])
  assert abs(float(cam.box3d_iou(a, a)) - 1.0) < 1e-6
  assert float(cam.box3d_iou(a, a.at[0].set(5.0))) == 0.0
  # axis-aligned, shifted by 1 in x and 0.5 in z: overlap 1 x 2 x 1.5 = 3, union 16 - 3
  np.testing.assert_allclose(float(cam.box3d_iou(a, jnp.array([1.0, 0, 0.5, 2, 2, 2, 0]))), 3 / 13, rtol=1e-5)
  # a square box turned by 90° is the same box
  sq = jnp.array([0.3, -0.2, 0.1, 1.5, 0.7, 1.5, 0.4])
  np.testing.assert_allclose(float(cam.box3d_iou(sq, sq.at[6].add(np.pi / 2))), 1.0, rtol=1e-5)
  rng = np.random.default_rng(0)
  for i in range(4):
    b1 = np.array([0, 0, 0, *rng.uniform(0.8, 2.0, 3), rng.uniform(-np.pi, np.pi)])
    b2 = np.array([*rng.uniform(-0.6, 0.6, 3), *rng.uniform(0.8, 2.0, 3), rng.uniform(-np.pi, np.pi)])
    iou = float(cam.box3d_iou(jnp.asarray(b1, jnp.float32), jnp.asarray(b2, jnp.float32)))
    assert abs(iou - monte_carlo_iou(b1, b2, seed=i)) < 0.01, i
  assert float(jax.jit(cam.box3d_iou)(a, a)) > 0.999  # jittable


def test_rgbd_voxelization_of_the_motorcycle():
  points, colours, c = cam.motorcycle_point_cloud(stride=4)
  assert points.shape[1] == 3 and points.shape == colours.shape and len(points) > 15_000
  z = points[:, 2]
  assert 1.0 < np.median(z) < 5.0  # metres: the motorcycle stands a few metres from the camera
  uv, _ = cam.project(c, jnp.asarray(points))
  assert float(jnp.max(jnp.abs(uv - jnp.round(uv / 4) * 4))) < 1e-2  # back on the sampled pixel grid
  centre = np.median(points, 0)
  bound = 1.5
  occ, rgb = explicit.points_to_voxels(jnp.asarray(points - centre), 32, bound, jnp.asarray(colours))
  idx = np.floor((points - centre + bound) / (2 * bound) * 32).astype(int)
  keep = np.all((idx >= 0) & (idx < 32), -1)
  ref = np.zeros((32,) * 3)
  ref[tuple(idx[keep].T)] = 1
  np.testing.assert_array_equal(occ, ref)
  # one occupied cell's colour is the mean colour of its points
  cell = tuple(idx[keep][0])
  members = np.all(idx == cell, -1)
  np.testing.assert_allclose(rgb[cell], colours[members].mean(0), atol=1e-5)
