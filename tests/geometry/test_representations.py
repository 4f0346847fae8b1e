"""Notes chapter 16's representations and their checks: voxel volume and marching-cubes area of a
sphere, exact SDF signs, CSG volumes, the 1/n² polygon error, Bézier end points, conversions."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from cs231n_jax.geometry import explicit, sdf

KEY = jax.random.key(0)
R = 24.0  # voxels, on a 64³ grid of unit cells


def test_sphere_voxel_volume_and_marching_cubes_area():
  grid = sdf.level_set(sdf.sphere(R), 64, 32.0)  # unit cells over [-32, 32]³
  vol = float(sdf.voxel_volume(grid <= 0, 32.0))
  exact_vol = 4 / 3 * np.pi * R**3
  assert abs(vol / exact_vol - 1) < 0.02
  verts, faces = explicit.marching_cubes(grid, 32.0)
  area = float(explicit.surface_area(verts, faces))
  assert abs(area / (4 * np.pi * R**2) - 1) < 0.03
  # the mesh is closed and outward oriented: its divergence-theorem volume is the sphere's too
  assert abs(float(explicit.mesh_volume(verts, faces)) / exact_vol - 1) < 0.02
  # mesh -> points: the samples lie on the sphere (within the mesh's chord error)
  pts, normals = explicit.sample_surface(KEY, verts, faces, 2000)
  assert np.allclose(np.linalg.norm(pts, axis=-1), R, atol=0.2)
  assert float(jnp.min(jnp.sum(normals * pts / R, -1))) > 0.95


def inside_reference(p):
  """Inside tests written without distances (independent of the SDF formulas)."""
  x, y, z = p[:, 0], p[:, 1], p[:, 2]
  r = np.hypot(x, y)
  return {
      "sphere": x**2 + y**2 + z**2 < 0.8**2,
      "box": (np.abs(x) < 0.5) & (np.abs(y) < 0.7) & (np.abs(z) < 0.3),
      "cylinder": (r < 0.6) & (np.abs(z) < 0.4),
      "cone": (z > 0) & (z < 0.9) & (r < 0.7 * (1 - z / 0.9)),
      "torus": (r - 0.6) ** 2 + z**2 < 0.25**2,
  }


def test_sdf_signs_are_exact_on_ten_thousand_points():
  p = np.asarray(jax.random.uniform(KEY, (10_000, 3), minval=-1.0, maxval=1.0))
  fs = {"sphere": sdf.sphere(0.8), "box": sdf.box((0.5, 0.7, 0.3)), "cylinder": sdf.cylinder(0.6, 0.4),
        "cone": sdf.cone(0.7, 0.9), "torus": sdf.torus(0.6, 0.25)}
  ref = inside_reference(p)
  for name, f in fs.items():
    assert np.array_equal(np.asarray(f(jnp.asarray(p))) < 0, ref[name]), name
    assert 0.01 < ref[name].mean() < 0.99


def test_primitive_distances_are_euclidean():
  # a box's distance outside a face, edge and corner; a sphere's and torus's by hand
  b = sdf.box((1.0, 1.0, 1.0))
  np.testing.assert_allclose(b(jnp.array([[3.0, 0, 0], [2.0, 2.0, 0], [2.0, 2.0, 2.0], [0.5, 0, 0]])),
                             [2.0, np.sqrt(2), np.sqrt(3), -0.5], rtol=1e-6)
  np.testing.assert_allclose(sdf.torus(2.0, 0.5)(jnp.array([[2.0, 0, 1.0], [0, 0, 0]])), [0.5, 1.5], rtol=1e-6)
  np.testing.assert_allclose(sdf.cone(1.0, 1.0)(jnp.array([[0, 0, -1.0], [0, 0, 2.0]])), [1.0, 1.0], rtol=1e-6)
  # a posed primitive: rotation and scale keep distances
  f = sdf.posed(sdf.box((1.0, 0.5, 0.5)), sdf.rotation_matrix((0.0, 0.0, np.pi / 2)), (1.0, 2.0, 3.0), 2.0)
  np.testing.assert_allclose(f(jnp.array([[1.0, 2.0 + 2.0 + 1.5, 3.0]])), [1.5], rtol=1e-5)


def cap(r, h):
  return np.pi * h**2 * (3 * r - h) / 3


def test_csg_monte_carlo_volumes_match_the_exact_ones():
  r, d = 0.6, 0.5  # two spheres of radius r, centres d apart: the lens is two caps of height r - d/2
  a = sdf.posed(sdf.sphere(r), translation=(-d / 2, 0, 0))
  b = sdf.posed(sdf.sphere(r), translation=(d / 2, 0, 0))
  lens = 2 * cap(r, r - d / 2)
  ball = 4 / 3 * np.pi * r**3
  cube = sdf.box((0.5, 0.5, 0.5))
  cases = {
      "union": (sdf.union(a, b), 2 * ball - lens),
      "intersection": (sdf.intersection(a, b), lens),
      "difference": (sdf.difference(a, b), ball - lens),
      "cube minus ball": (sdf.difference(cube, sdf.sphere(0.5)), 1.0 - 4 / 3 * np.pi * 0.125),
  }
  for i, (name, (f, exact)) in enumerate(cases.items()):
    est = float(sdf.monte_carlo_volume(f, jax.random.fold_in(KEY, i), 400_000, 1.2))
    assert abs(est / exact - 1) < 0.02, (name, est, exact)


def test_polygon_error_falls_like_one_over_n_squared():
  with jax.enable_x64(True):
    ns = np.array([8, 16, 32, 64, 128, 256, 512])
    errors = np.array([float(explicit.circle_polygon_error(int(n))) for n in ns])
  slope = np.polyfit(np.log(ns), np.log(errors), 1)[0]
  assert abs(slope + 2) < 0.1
  np.testing.assert_allclose(errors[-1], 1 - np.sin(2 * np.pi / 512) * 512 / (2 * np.pi), rtol=1e-6)


def test_bezier_end_points_exact_and_matches_bernstein():
  control = jax.random.normal(KEY, (6, 3))
  t = jnp.linspace(0.0, 1.0, 33)
  curve = explicit.de_casteljau(control, t)
  assert np.array_equal(np.asarray(curve[0]), np.asarray(control[0]))
  assert np.array_equal(np.asarray(curve[-1]), np.asarray(control[-1]))
  np.testing.assert_allclose(curve, explicit.bernstein(control, t), atol=1e-5)
  with pytest.raises(ValueError, match="control"):
    explicit.de_casteljau(jnp.zeros((1, 2)), t)


def test_level_set_interpolation_finds_the_surface():
  grid = sdf.level_set(sdf.sphere(0.7), 32, 1.0)
  p = jax.random.normal(KEY, (500, 3))
  on_surface = 0.7 * p / jnp.linalg.norm(p, axis=-1, keepdims=True)
  # trilinear interpolation of a distance field is within a fraction of a cell of zero on the surface
  assert float(jnp.max(jnp.abs(sdf.interpolate(grid, 1.0, on_surface)))) < 0.5 * 2.0 / 32


def test_mesh_area_and_volume_of_a_box_and_bad_meshes():
  v, f = explicit.box_mesh((0.5, 1.0, 1.5))
  np.testing.assert_allclose(float(explicit.mesh_volume(v, f)), 1.0 * 2.0 * 3.0, rtol=1e-6)
  np.testing.assert_allclose(float(explicit.surface_area(v, f)), 2 * (2 + 3 + 6), rtol=1e-6)
  with pytest.raises(ValueError, match="closed manifold"):
    explicit.mesh_volume(v, f[:-1])  # a hole
  with pytest.raises(ValueError, match="shared by 3 faces"):
    explicit.mesh_volume(v, np.concatenate([f, [[0, 1, 7]]]))
  with pytest.raises(ValueError, match="non-empty"):
    explicit.surface_area(np.zeros((0, 3)), np.zeros((0, 3), np.int32))


def test_farthest_point_sampling_matches_numpy():
  p = np.asarray(jax.random.uniform(KEY, (300, 3)))
  chosen, dist = [0], np.full(300, np.inf)
  for _ in range(19):
    dist = np.minimum(dist, ((p - p[chosen[-1]]) ** 2).sum(-1))
    chosen.append(int(dist.argmax()))
  assert np.asarray(explicit.farthest_point_sampling(jnp.asarray(p), 20)).tolist() == chosen
  with pytest.raises(ValueError, match=r"points: expected a point cloud of shape \(N, 3\)"):
    explicit.farthest_point_sampling(jnp.zeros((2, 5, 3)), 2)


def test_normals_of_a_sphere_cloud_point_outward():
  p = jax.random.normal(KEY, (800, 3))
  p = p / jnp.linalg.norm(p, axis=-1, keepdims=True)
  n = explicit.estimate_normals(p, 12)
  assert float(jnp.min(jnp.sum(n * p, -1))) > 0.97


def test_points_to_voxels_matches_numpy_and_sdf_voxels():
  key_p, key_c = jax.random.split(KEY)
  p = np.asarray(jax.random.uniform(key_p, (1000, 3), minval=-1.2, maxval=1.2))
  c = np.asarray(jax.random.uniform(key_c, (1000, 3)))
  occ, mean = explicit.points_to_voxels(jnp.asarray(p), 8, 1.0, jnp.asarray(c))
  idx = np.floor((p + 1.0) / 2.0 * 8).astype(int)
  keep = np.all((idx >= 0) & (idx < 8), -1)
  ref = np.zeros((8, 8, 8))
  ref_sum = np.zeros((8, 8, 8, 3))
  ref_n = np.zeros((8, 8, 8))
  for (i, j, k), col in zip(idx[keep], c[keep]):
    ref[i, j, k] = 1
    ref_sum[i, j, k] += col
    ref_n[i, j, k] += 1
  np.testing.assert_array_equal(occ, ref)
  np.testing.assert_allclose(mean, ref_sum / np.maximum(ref_n, 1)[..., None], atol=1e-6)
  # the centres of an SDF's occupied voxels voxelize back to the same grid
  vox = sdf.sdf_to_voxels(sdf.torus(0.6, 0.3), 16, 1.0)
  centres = sdf.grid_points(16, 1.0)[vox]
  np.testing.assert_array_equal(explicit.points_to_voxels(centres, 16, 1.0), vox.astype(np.float32))
