"""Implicit surfaces (notes chapter 16): signed distance functions of primitives, constructive solid
geometry by min / max, rigid poses, level sets on a grid, voxels by thresholding.

An SDF is negative inside, zero on the surface, positive outside. The primitives' formulas are the
exact Euclidean distances (Inigo Quilez's catalogue of distance functions); the CSG combinations
keep the *sign* exact but are only bounds on the distance (``min`` of two distances is exact
outside, ``max`` is a lower bound), which is all inside / outside tests and sphere tracing need.
The notes' "grim of values" (level sets) is a grid of values; the surface is where the
interpolated value is zero.

Every primitive is centred at the origin; :func:`posed` places it (rotation, translation,
uniform scale). Every function maps points ``(..., 3)`` to distances ``(...)``.
"""

from __future__ import annotations

from typing import Callable

import jax
import jax.numpy as jnp

SDF = Callable[[jax.Array], jax.Array]


def check_points(points, name: str = "points") -> jax.Array:
  """``points`` as an array ``(..., 3)``; anything else is a one-line ValueError naming ``name``."""
  points = jnp.asarray(points)
  if points.ndim < 1 or points.shape[-1] != 3:
    raise ValueError(f"{name}: expected an array of 3-D points (..., 3), got shape {points.shape}")
  return points


def norm(x: jax.Array) -> jax.Array:
  """The Euclidean norm over the last axis with a finite gradient (zero) at the origin, so that
  SDFs can be differentiated everywhere (jnp.linalg.norm's gradient at 0 is NaN)."""
  s = jnp.sum(x * x, axis=-1)
  positive = s > 0
  return jnp.where(positive, jnp.sqrt(jnp.where(positive, s, 1.0)), 0.0)


def sphere(radius: float) -> SDF:
  return lambda p: norm(p) - radius


def box(half_sizes) -> SDF:
  """An axis-aligned box with half side lengths ``half_sizes`` (3,)."""
  b = jnp.asarray(half_sizes, jnp.float32)

  def f(p):
    q = jnp.abs(p) - b
    return norm(jnp.maximum(q, 0.0)) + jnp.minimum(jnp.max(q, axis=-1), 0.0)

  return f


def cylinder(radius: float, half_height: float) -> SDF:
  """A capped cylinder around the z axis."""

  def f(p):
    d = jnp.stack([norm(p[..., :2]) - radius, jnp.abs(p[..., 2]) - half_height], -1)
    return jnp.minimum(jnp.max(d, axis=-1), 0.0) + norm(jnp.maximum(d, 0.0))

  return f


def cone(radius: float, height: float) -> SDF:
  """A solid cone around the z axis: base disc of ``radius`` at z = 0, apex at z = ``height``.

  The exact distance to the 2-D triangle (0, 0), (radius, 0), (0, height) in the (r, z) half plane
  (the cone is that triangle revolved about the z axis).
  """

  def f(p):
    r = norm(p[..., :2])
    z = p[..., 2]
    q = jnp.stack([r, z], -1)
    a = jnp.array([0.0, 0.0])
    b = jnp.array([radius, 0.0])
    c = jnp.array([0.0, height])

    def seg(u, v):
      e = v - u
      w = q - u
      t = jnp.clip(jnp.sum(w * e, -1) / jnp.sum(e * e), 0.0, 1.0)
      return norm(w - t[..., None] * e)

    dist = jnp.minimum(jnp.minimum(seg(a, b), seg(b, c)), seg(c, a))
    inside = (z > 0) & (z < height) & (r < radius * (1.0 - z / height))
    return jnp.where(inside, -dist, dist)

  return f


def torus(major: float, minor: float) -> SDF:
  """A torus around the z axis: tube of radius ``minor`` around a circle of radius ``major``."""

  def f(p):
    q = jnp.stack([norm(p[..., :2]) - major, p[..., 2]], -1)
    return norm(q) - minor

  return f


def union(*sdfs: SDF) -> SDF:
  return lambda p: jnp.min(jnp.stack([f(p) for f in sdfs]), axis=0)


def intersection(*sdfs: SDF) -> SDF:
  return lambda p: jnp.max(jnp.stack([f(p) for f in sdfs]), axis=0)


def difference(a: SDF, b: SDF) -> SDF:
  """``a`` without ``b``: max(a, -b)."""
  return lambda p: jnp.maximum(a(p), -b(p))


def rotation_matrix(angles) -> jax.Array:
  """Rotation R = Rz(yaw) Ry(pitch) Rx(roll) for ``angles = (roll, pitch, yaw)`` in radians."""
  rx, ry, rz = (jnp.asarray(a, jnp.float32) for a in angles)
  cx, sx, cy, sy, cz, sz = jnp.cos(rx), jnp.sin(rx), jnp.cos(ry), jnp.sin(ry), jnp.cos(rz), jnp.sin(rz)
  one, zero = jnp.ones_like(cx), jnp.zeros_like(cx)
  mx = jnp.stack([one, zero, zero, zero, cx, -sx, zero, sx, cx]).reshape(3, 3)
  my = jnp.stack([cy, zero, sy, zero, one, zero, -sy, zero, cy]).reshape(3, 3)
  mz = jnp.stack([cz, -sz, zero, sz, cz, zero, zero, zero, one]).reshape(3, 3)
  return mz @ my @ mx


def posed(f: SDF, rotation=None, translation=(0.0, 0.0, 0.0), scale: float = 1.0) -> SDF:
  """``f`` rotated by ``rotation`` (3x3), scaled by ``scale`` (> 0) and moved to ``translation``:
  d(p) = scale · f(Rᵀ (p − t) / scale), still an exact distance for exact ``f``."""
  r = jnp.eye(3) if rotation is None else jnp.asarray(rotation, jnp.float32)
  t = jnp.asarray(translation, jnp.float32)
  return lambda p: scale * f(((p - t) @ r) / scale)


# ---------------------------------------------------------------------------------------------
# Level sets and voxels.
# ---------------------------------------------------------------------------------------------


def grid_points(resolution: int, bound: float) -> jax.Array:
  """The centres of a ``resolution``³ grid of cells covering [-bound, bound]³, shape (R, R, R, 3)
  indexed [i, j, k] = (x, y, z)."""
  if resolution < 2:
    raise ValueError(f"resolution: expected at least 2 cells per side, got {resolution}")
  h = 2.0 * bound / resolution
  axis = -bound + h * (jnp.arange(resolution) + 0.5)
  return jnp.stack(jnp.meshgrid(axis, axis, axis, indexing="ij"), -1)


def level_set(f: SDF, resolution: int, bound: float) -> jax.Array:
  """The level-set grid: ``f`` sampled at the cell centres of :func:`grid_points` (R, R, R)."""
  return f(grid_points(resolution, bound))


def interpolate(grid: jax.Array, bound: float, points: jax.Array) -> jax.Array:
  """Trilinear interpolation of a level-set grid (cell-centred, covering [-bound, bound]³) at
  ``points`` (..., 3); outside the centres the nearest values are extended."""
  points = check_points(points)
  r = grid.shape[0]
  u = (points + bound) / (2.0 * bound) * r - 0.5  # continuous index
  u = jnp.clip(u, 0.0, r - 1.0)
  i0 = jnp.clip(jnp.floor(u).astype(jnp.int32), 0, r - 2)
  w = u - i0
  out = 0.0
  for dx in (0, 1):
    for dy in (0, 1):
      for dz in (0, 1):
        wx = w[..., 0] if dx else 1 - w[..., 0]
        wy = w[..., 1] if dy else 1 - w[..., 1]
        wz = w[..., 2] if dz else 1 - w[..., 2]
        out = out + wx * wy * wz * grid[i0[..., 0] + dx, i0[..., 1] + dy, i0[..., 2] + dz]
  return out


def sdf_to_voxels(f: SDF, resolution: int, bound: float) -> jax.Array:
  """Voxels: "binary thresholding the volumetric grid" — a cell is occupied where its centre's
  SDF is <= 0. Returns bool (R, R, R)."""
  return level_set(f, resolution, bound) <= 0.0


def voxel_volume(voxels: jax.Array, bound: float) -> jax.Array:
  """The volume of the occupied cells of a grid covering [-bound, bound]³."""
  h = 2.0 * bound / voxels.shape[0]
  return jnp.sum(voxels) * h**3


def monte_carlo_volume(f: SDF, key: jax.Array, num_points: int, bound: float) -> jax.Array:
  """The volume where ``f`` < 0, estimated from ``num_points`` uniform points in [-bound, bound]³."""
  p = jax.random.uniform(key, (num_points, 3), minval=-bound, maxval=bound)
  return jnp.mean(f(p) < 0) * (2.0 * bound) ** 3
