"""Explicit surfaces (notes chapter 16): point clouds, triangle meshes, Bézier curves, and the
conversions between representations (SDF -> voxels is :func:`cs231n_jax.geometry.sdf.sdf_to_voxels`;
voxels -> mesh by marching cubes; mesh -> points; points -> voxels).

The notes' claim about meshes, "Error decreases by O(n²) while meshes increase by O(n)", reads as:
the approximation error falls like 1/n² while the mesh grows like n (:func:`circle_polygon_error`).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from cs231n_jax.geometry.sdf import check_points

# ---------------------------------------------------------------------------------------------
# Point clouds.
# ---------------------------------------------------------------------------------------------


def check_cloud(points, name: str = "points") -> jax.Array:
  """A single point cloud (N, 3) with N >= 1; anything else is a one-line ValueError."""
  points = jnp.asarray(points)
  if points.ndim != 2 or points.shape[-1] != 3:
    raise ValueError(f"{name}: expected a point cloud of shape (N, 3), got shape {points.shape}")
  if points.shape[0] == 0:
    raise ValueError(f"{name}: expected at least one point, got none")
  return points


def farthest_point_sampling(points: jax.Array, k: int, start: int = 0) -> jax.Array:
  """Indices (k,) of farthest-point sampling: start at ``start``, then repeatedly take the point
  farthest from those chosen (PointNet++'s sampling layer). A ``lax.fori_loop``; jittable."""
  points = check_cloud(points)
  n = points.shape[0]
  if not 1 <= k <= n:
    raise ValueError(f"k: expected 1 <= k <= {n} (the number of points), got {k}")

  def body(i, carry):
    chosen, dist = carry
    last = points[chosen[i - 1]]
    dist = jnp.minimum(dist, jnp.sum((points - last) ** 2, -1))
    return chosen.at[i].set(jnp.argmax(dist).astype(jnp.int32)), dist

  chosen = jnp.zeros((k,), jnp.int32).at[0].set(start)
  chosen, _ = jax.lax.fori_loop(1, k, body, (chosen, jnp.full((n,), jnp.inf, points.dtype)))
  return chosen


def estimate_normals(points: jax.Array, k: int = 16) -> jax.Array:
  """Unit normals (N, 3) by PCA of each point's ``k`` nearest neighbours: the eigenvector of the
  smallest eigenvalue of their covariance. The sign is ambiguous (a point cloud has no inside):
  normals are flipped to point away from the cloud's centroid, right for star-shaped clouds."""
  points = check_cloud(points)
  d2 = jnp.sum((points[:, None] - points[None]) ** 2, -1)
  _, idx = jax.lax.top_k(-d2, k)
  nbrs = points[idx]  # (N, k, 3)
  centred = nbrs - nbrs.mean(1, keepdims=True)
  cov = jnp.einsum("nki,nkj->nij", centred, centred)
  _, vecs = jnp.linalg.eigh(cov)
  normals = vecs[:, :, 0]
  outward = jnp.sum(normals * (points - points.mean(0)), -1) < 0
  return jnp.where(outward[:, None], -normals, normals)


# ---------------------------------------------------------------------------------------------
# Triangle meshes.
# ---------------------------------------------------------------------------------------------


def check_mesh(vertices, faces, closed: bool = True) -> tuple[np.ndarray, np.ndarray]:
  """Validate a triangle mesh (on the host): non-empty, faces (F, 3) indexing the vertices and,
  when ``closed``, a closed 2-manifold (every edge shared by exactly two faces). One-line
  ValueError otherwise."""
  v = np.asarray(vertices)
  f = np.asarray(faces)
  if v.ndim != 2 or v.shape[-1] != 3:
    raise ValueError(f"mesh.vertices: expected shape (V, 3), got {v.shape}")
  if f.ndim != 2 or f.shape[-1] != 3:
    raise ValueError(f"mesh.faces: expected triangles of shape (F, 3), got {f.shape}")
  if len(v) == 0 or len(f) == 0:
    raise ValueError(f"mesh: expected a non-empty mesh, got {len(v)} vertices and {len(f)} faces")
  if f.min() < 0 or f.max() >= len(v):
    raise ValueError(f"mesh.faces: indices must lie in [0, {len(v)}), got [{f.min()}, {f.max()}]")
  if closed:
    edges = np.sort(np.concatenate([f[:, [0, 1]], f[:, [1, 2]], f[:, [2, 0]]]), axis=1)
    uniq, counts = np.unique(edges, axis=0, return_counts=True)
    bad = np.flatnonzero(counts != 2)
    if bad.size:
      e = tuple(int(i) for i in uniq[bad[0]])
      raise ValueError(f"mesh: edge {e} is shared by {counts[bad[0]]} faces; expected a closed manifold "
                       "(every edge in exactly 2 faces)")
  return v, f


def triangle_areas(vertices: jax.Array, faces: jax.Array) -> jax.Array:
  tri = jnp.asarray(vertices)[jnp.asarray(faces)]
  return 0.5 * jnp.linalg.norm(jnp.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0]), axis=-1)


def surface_area(vertices, faces) -> jax.Array:
  v, f = check_mesh(vertices, faces, closed=False)
  return jnp.sum(triangle_areas(v, f))


def mesh_volume(vertices, faces) -> jax.Array:
  """The enclosed volume by the divergence theorem: with F(x) = x / 3 (div F = 1), the volume is
  the flux through the surface, Σ over faces of det[v0, v1, v2] / 6 (signed tetrahedra from the
  origin; positive for outward-oriented faces). Needs a closed manifold."""
  v, f = check_mesh(vertices, faces, closed=True)
  tri = jnp.asarray(v)[jnp.asarray(f)]
  return jnp.sum(jnp.einsum("fi,fi->f", tri[:, 0], jnp.cross(tri[:, 1], tri[:, 2]))) / 6.0


def box_mesh(half_sizes=(1.0, 1.0, 1.0)) -> tuple[np.ndarray, np.ndarray]:
  """A closed, outward-oriented triangle mesh of an axis-aligned box (8 vertices, 12 faces)."""
  h = np.asarray(half_sizes, np.float32)
  v = np.array([[x, y, z] for x in (-1, 1) for y in (-1, 1) for z in (-1, 1)], np.float32) * h
  quads = [(0, 1, 3, 2), (4, 6, 7, 5), (0, 4, 5, 1), (2, 3, 7, 6), (0, 2, 6, 4), (1, 5, 7, 3)]
  f = np.array([t for a, b, c, d in quads for t in ((a, b, c), (a, c, d))], np.int32)
  return v, f


def sample_surface(key: jax.Array, vertices, faces, num_points: int) -> tuple[jax.Array, jax.Array]:
  """Mesh -> points: ``num_points`` uniform samples of the surface (faces chosen with probability
  proportional to area, then uniform barycentric coordinates u = 1 - √r1, v = √r1 (1 - r2),
  w = √r1 r2) and the face normals at them. Returns (points, normals), each (num_points, 3)."""
  v, f = check_mesh(vertices, faces, closed=False)
  v, f = jnp.asarray(v, jnp.float32), jnp.asarray(f)
  areas = triangle_areas(v, f)
  k_face, k_r = jax.random.split(key)
  idx = jax.random.choice(k_face, f.shape[0], (num_points,), p=areas / jnp.sum(areas))
  tri = v[f[idx]]
  r1, r2 = jax.random.uniform(k_r, (2, num_points, 1))
  s = jnp.sqrt(r1)
  points = (1 - s) * tri[:, 0] + s * (1 - r2) * tri[:, 1] + s * r2 * tri[:, 2]
  n = jnp.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
  return points, n / jnp.linalg.norm(n, axis=-1, keepdims=True)


def marching_cubes(grid, bound: float, level: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
  """Voxels / level set -> mesh: scikit-image's marching cubes on a cell-centred grid covering
  [-bound, bound]³ (as :func:`cs231n_jax.geometry.sdf.grid_points`), vertices in world units,
  faces oriented outward for an SDF (negative inside)."""
  from skimage import measure

  grid = np.array(grid, np.float32)  # a writable copy (skimage rejects read-only buffers)
  h = 2.0 * bound / grid.shape[0]
  # gradient_direction="descent" (skimage's default) gives counter-clockwise faces seen from outside for
  # a field that increases outward, as an SDF does (tested: the divergence-theorem volume is positive).
  verts, faces, _, _ = measure.marching_cubes(grid, level=level, spacing=(h, h, h), gradient_direction="descent")
  return (verts - bound + 0.5 * h).astype(np.float32), faces.astype(np.int32)


# ---------------------------------------------------------------------------------------------
# Voxels from points.
# ---------------------------------------------------------------------------------------------


def voxel_indices(points: jax.Array, resolution: int, bound: float) -> tuple[jax.Array, jax.Array]:
  """The cell (i, j, k) of each point in a ``resolution``³ grid over [-bound, bound]³, and whether
  it lies inside the grid."""
  points = check_points(points)
  idx = jnp.floor((points + bound) / (2.0 * bound) * resolution).astype(jnp.int32)
  inside = jnp.all((idx >= 0) & (idx < resolution), axis=-1)
  return jnp.clip(idx, 0, resolution - 1), inside


def points_to_voxels(points, resolution: int, bound: float, features=None):
  """Points -> voxels (lecture 11's RGB-D voxelization): partition space into a regular grid and
  fill every cell that a point falls into. Without ``features``, a float occupancy grid (R, R, R);
  with ``features`` (N, C) (e.g. RGB), also the mean feature of the points in each cell (R, R, R, C)
  — the slide fills a cell "with the RGB value of that point"; where several points share a cell
  this takes their mean. Points outside the grid are dropped."""
  points = check_cloud(points)
  idx, inside = voxel_indices(points, resolution, bound)
  flat = (idx[:, 0] * resolution + idx[:, 1]) * resolution + idx[:, 2]
  w = inside.astype(jnp.float32)
  counts = jnp.zeros((resolution**3,), jnp.float32).at[flat].add(w)
  occupancy = (counts > 0).astype(jnp.float32).reshape((resolution,) * 3)
  if features is None:
    return occupancy
  features = jnp.asarray(features, jnp.float32)
  sums = jnp.zeros((resolution**3, features.shape[-1]), jnp.float32).at[flat].add(features * w[:, None])
  mean = sums / jnp.maximum(counts, 1.0)[:, None]
  return occupancy, mean.reshape((resolution,) * 3 + (features.shape[-1],))


# ---------------------------------------------------------------------------------------------
# Curves.
# ---------------------------------------------------------------------------------------------


def de_casteljau(control, t) -> jax.Array:
  """The Bézier curve of ``control`` points (K, D) at parameters ``t`` (T,) -> (T, D), by de
  Casteljau's repeated linear interpolation, written (1 - t) a + t b so that t = 0 and t = 1 give
  the end points exactly."""
  control = jnp.asarray(control)
  if control.ndim != 2 or control.shape[0] < 2:
    raise ValueError(f"control: expected (K, D) control points with K >= 2, got shape {control.shape}")
  t = jnp.asarray(t, control.dtype)[:, None, None]
  pts = jnp.broadcast_to(control, (t.shape[0], *control.shape))
  for _ in range(control.shape[0] - 1):
    pts = (1 - t) * pts[:, :-1] + t * pts[:, 1:]
  return pts[:, 0]


def bernstein(control, t) -> jax.Array:
  """The same curve from the Bernstein form Σ C(n, i) tⁱ (1 - t)ⁿ⁻ⁱ P_i (an independent reference)."""
  control = jnp.asarray(control)
  n = control.shape[0] - 1
  t = jnp.asarray(t, control.dtype)[:, None]
  i = jnp.arange(n + 1)
  binom = jnp.exp(jax.scipy.special.gammaln(n + 1.0) - jax.scipy.special.gammaln(i + 1.0) - jax.scipy.special.gammaln(n - i + 1.0))
  basis = binom * t**i * (1 - t) ** (n - i)
  return basis @ control


def polygon_area(vertices) -> jax.Array:
  """The shoelace formula for a simple polygon (N, 2), counter-clockwise positive."""
  v = jnp.asarray(vertices)
  x, y = v[:, 0], v[:, 1]
  return 0.5 * jnp.sum(x * jnp.roll(y, -1) - jnp.roll(x, -1) * y)


def circle_polygon_error(n: int, radius: float = 1.0) -> jax.Array:
  """The relative area error of the regular n-gon inscribed in a circle (a mesh of n edges):
  1 - area(n-gon) / (π r²) = 1 - sin(2π/n) n / (2π) ≈ (2π² / 3) / n²."""
  theta = 2 * jnp.pi * jnp.arange(n, dtype=float) / n  # float64 under x64
  poly = radius * jnp.stack([jnp.cos(theta), jnp.sin(theta)], -1)
  return 1.0 - polygon_area(poly) / (jnp.pi * radius**2)
