"""A 3-D shape data set generated here: primitives (sphere, box, cylinder, cone, torus) and unions
of two, at a random pose and scale, 12 classes, as point clouds, voxel grids, meshes and SDF samples.

A shape is a row of parameters (two parts, each a primitive with its size, offset and own
rotation; then a global rotation, translation and scale), so every representation is computed
from the exact signed distance function, batched with ``jax.vmap``:

- SDF samples: :func:`sdf_values` at any points (exact sign; exact distance outside a union);
- voxel grids: the SDF thresholded at the cell centres of a grid over [-1, 1]³;
- point clouds: uniform samples of the marching-cubes mesh, projected onto the exact surface by one
  Newton step along the SDF's gradient;
- meshes: marching cubes of the SDF grid (:func:`shape_mesh`, on the host).

Everything is a function of the seed (numpy's generator for the parameters, a JAX key derived
from the seed for the samples).
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Any, Mapping

import jax
import jax.numpy as jnp
import numpy as np

from cs231n_jax.data.dataset import ImageDataset, Split
from cs231n_jax.errors import DataError
from cs231n_jax.geometry import explicit, sdf

SPHERE, BOX, CYLINDER, CONE, TORUS, NONE = range(6)
# one row per class: (name, part a, part b); a part is (kind, dims ranges (3 pairs), offset (3))
CLASSES: tuple[tuple[str, tuple, tuple], ...] = (
    ("sphere", (SPHERE, ((0.5, 0.75),), (0, 0, 0)), None),
    ("box", (BOX, ((0.25, 0.6), (0.25, 0.6), (0.25, 0.6)), (0, 0, 0)), None),
    ("cylinder", (CYLINDER, ((0.25, 0.5), (0.35, 0.65)), (0, 0, 0)), None),
    ("cone", (CONE, ((0.35, 0.6), (0.7, 1.1)), (0, 0, 0)), None),
    ("torus", (TORUS, ((0.45, 0.6), (0.1, 0.2)), (0, 0, 0)), None),
    ("dumbbell", (SPHERE, ((0.25, 0.35),), (-0.4, 0, 0)), (SPHERE, ((0.25, 0.35),), (0.4, 0, 0))),
    ("snowman", (SPHERE, ((0.35, 0.45),), (0, 0, -0.3)), (SPHERE, ((0.2, 0.28),), (0, 0, 0.38))),
    ("ice_cream", (CONE, ((0.25, 0.32), (-0.8, -0.6)), (0, 0, -0.05)), (SPHERE, ((0.28, 0.35),), (0, 0, 0.0))),
    ("rocket", (CYLINDER, ((0.15, 0.25), (0.35, 0.45)), (0, 0, -0.25)), (CONE, ((0.2, 0.3), (0.4, 0.55)), (0, 0, 0.4))),
    ("ring_and_ball", (TORUS, ((0.5, 0.6), (0.08, 0.14)), (0, 0, 0)), (SPHERE, ((0.2, 0.3),), (0, 0, 0))),
    ("l_block", (BOX, ((0.5, 0.6), (0.15, 0.2), (0.15, 0.2)), (0, 0, -0.4)),
     (BOX, ((0.15, 0.2), (0.15, 0.2), (0.4, 0.5)), (-0.4, 0, 0.1))),
    ("t_block", (BOX, ((0.5, 0.6), (0.15, 0.2), (0.12, 0.16)), (0, 0, 0.4)),
     (BOX, ((0.13, 0.18), (0.13, 0.18), (0.45, 0.55)), (0, 0, -0.1))),
)
CLASS_NAMES = tuple(c[0] for c in CLASSES)
NUM_CLASSES = len(CLASSES)
PART_SIZE = 7  # kind, dims (3), offset (3)
PARAM_SIZE = 2 * PART_SIZE + 7  # two parts, rotation (3), translation (3), scale
BOUND = 1.0  # shapes fit in [-1, 1]³
MESH_BOUND = 1.05  # the grid that meshes them has a margin, so that every surface is closed
MESH_RESOLUTION = 32
PROJECTION_STEPS = 4
SURFACE_TOLERANCE = 1e-4


def default_config() -> dict[str, Any]:
  return {"seed": 0, "train_per_class": 80, "val_per_class": 20, "test_per_class": 20, "max_tilt": float(np.pi),
          "scale": (0.75, 0.95), "max_shift": 0.05}


def sample_params(rng: np.random.Generator, labels: np.ndarray, max_tilt: float = np.pi, scale=(0.75, 0.95),
                  max_shift: float = 0.05) -> np.ndarray:
  """Parameters (N, PARAM_SIZE) of shapes of the given classes: sizes uniform in each class's
  ranges, a random yaw (uniform) and roll / pitch (uniform in ±max_tilt), scale, and shift."""
  out = np.zeros((len(labels), PARAM_SIZE), np.float32)
  for n, c in enumerate(labels):
    _, part_a, part_b = CLASSES[c]
    for j, part in enumerate((part_a, part_b)):
      row = out[n, j * PART_SIZE:(j + 1) * PART_SIZE]
      row[1:4] = 1.0  # unused sizes stay 1, so that every primitive's formula stays finite (and its gradient)
      if part is None:
        row[0] = NONE
        continue
      kind, ranges, offset = part
      row[0] = kind
      for k, (lo, hi) in enumerate(ranges):
        row[1 + k] = rng.uniform(lo, hi)
      row[4:7] = offset
    g = out[n, 2 * PART_SIZE:]
    g[0:2] = rng.uniform(-max_tilt, max_tilt, 2)
    g[2] = rng.uniform(-np.pi, np.pi)
    g[3:6] = rng.uniform(-max_shift, max_shift, 3)
    g[6] = rng.uniform(*scale)
  return out


def part_sdf(part: jax.Array, p: jax.Array) -> jax.Array:
  """The SDF of one part (kind, dims, offset) at points p (..., 3); an absent part is far away."""
  kind, d, offset = part[0], part[1:4], part[4:7]
  q = p - offset
  height = jnp.abs(d[1])
  # the cone's base at z = -h/2 and apex at +h/2, upside down for a negative height (ice cream)
  flipped = jnp.where(d[1] < 0, -1.0, 1.0)
  cone_q = q * jnp.array([1.0, 1.0, 0.0]) + jnp.array([0.0, 0.0, 1.0]) * (flipped * q[..., 2:3] + 0.5 * height)
  values = jnp.stack([
      sdf.sphere(d[0])(q), sdf.box(d)(q), sdf.cylinder(d[0], d[1])(q), sdf.cone(d[0], height)(cone_q),
      sdf.torus(d[0], d[1])(q), jnp.full(q.shape[:-1], 10.0)])
  return jnp.take(values, kind.astype(jnp.int32), axis=0)


def sdf_values(params: jax.Array, p: jax.Array) -> jax.Array:
  """The shape's SDF at points p (..., 3): the union (min) of its parts, posed."""
  g = params[2 * PART_SIZE:]
  rot = sdf.rotation_matrix(g[0:3])

  def local(x):
    return jnp.minimum(part_sdf(params[:PART_SIZE], x), part_sdf(params[PART_SIZE:2 * PART_SIZE], x))

  return sdf.posed(local, rot, g[3:6], g[6])(p)


def voxel_grid(params: jax.Array, resolution: int) -> jax.Array:
  """Occupancy (R, R, R) of the cell centres of a grid over [-1, 1]³ (float32 0 / 1)."""
  return (sdf_values(params, sdf.grid_points(resolution, BOUND)) <= 0).astype(jnp.float32)


def sdf_samples(params: jax.Array, surface: jax.Array, key: jax.Array, num_points: int, near_fraction: float = 0.5,
                sigma: float = 0.05):
  """Points and their exact SDF values for one shape: ``near_fraction`` of them near the surface
  (points of ``surface`` (M, 3), e.g. from :func:`point_clouds`, plus Gaussian noise of ``sigma``),
  the rest uniform in [-1, 1]³. Returns (points (n, 3), sdf (n,))."""
  k_s, k_n, k_u = jax.random.split(key, 3)
  n_near = int(num_points * near_fraction)
  near = surface[jax.random.randint(k_s, (n_near,), 0, surface.shape[0])] + sigma * jax.random.normal(k_n, (n_near, 3))
  uniform = jax.random.uniform(k_u, (num_points - n_near, 3), minval=-BOUND, maxval=BOUND)
  p = jnp.concatenate([near, uniform])
  return p, sdf_values(params, p)


def shape_mesh(params, resolution: int = 48) -> tuple[np.ndarray, np.ndarray]:
  """A triangle mesh of one shape: marching cubes of its SDF grid (host)."""
  grid = _mesh_grid(jnp.asarray(params), resolution)
  return explicit.marching_cubes(grid, BOUND * 1.1)


@functools.partial(jax.jit, static_argnums=(1,))
def _mesh_grid(params, resolution: int):
  return sdf_values(params, sdf.grid_points(resolution, BOUND * 1.1))


@dataclasses.dataclass(frozen=True)
class ShapeSet:
  params: np.ndarray  # (N, PARAM_SIZE)
  labels: np.ndarray  # (N,) int32


def make_split(seed: int, per_class: int, split_index: int, max_tilt: float = np.pi, scale=(0.75, 0.95),
               max_shift: float = 0.05) -> ShapeSet:
  """``per_class`` shapes of every class, shuffled; the split index keeps splits disjoint draws."""
  if isinstance(per_class, bool) or not isinstance(per_class, int) or per_class < 1:
    raise DataError(f"data.per_class: expected a positive integer, got {per_class!r}")
  rng = np.random.default_rng([seed, split_index])
  labels = rng.permutation(np.repeat(np.arange(NUM_CLASSES, dtype=np.int32), per_class))
  return ShapeSet(sample_params(rng, labels, max_tilt, scale, max_shift), labels)


@jax.jit
def _voxels(params, resolution_marker):
  return jax.vmap(lambda q: voxel_grid(q, resolution_marker.shape[0]))(params)


@jax.jit
def _grids(params, marker):
  return jax.vmap(lambda q: sdf_values(q, sdf.grid_points(marker.shape[0], MESH_BOUND)))(params)


@jax.jit
def _project(params, points):
  """One step onto the exact surface, p - f(p) ∇f(p) / |∇f(p)| (|∇f| = 1 for a distance; removes marching cubes'
  chord error)."""

  def one(q, p):
    f = lambda x: sdf_values(q, x)  # noqa: E731
    grad = jax.vmap(jax.grad(f))

    def step(_, p):
      g = grad(p)
      new = p - (f(p) / jnp.maximum(jnp.linalg.norm(g, axis=-1), 1e-6))[:, None] * g
      return jnp.where(jnp.isfinite(new), new, p)

    p = jax.lax.fori_loop(0, PROJECTION_STEPS, step, p)
    # a point caught between two parts' surfaces inside the union does not converge: keep the first
    # half of the points, preferring those that reached the surface
    order = jnp.argsort(jnp.abs(f(p)) > SURFACE_TOLERANCE, stable=True)
    return p[order[:p.shape[0] // 2]]

  return jax.vmap(one)(params, points)


def sample_mesh(rng: np.random.Generator, vertices: np.ndarray, faces: np.ndarray, num_points: int) -> np.ndarray:
  """Uniform points on a triangle mesh (NumPy twin of :func:`cs231n_jax.geometry.explicit.sample_surface`,
  for meshes of varying size without recompiling)."""
  tri = vertices[faces]
  areas = 0.5 * np.linalg.norm(np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0]), axis=-1)
  idx = rng.choice(len(faces), num_points, p=areas / areas.sum())
  r1, r2 = rng.random((2, num_points, 1))
  s = np.sqrt(r1)
  t = tri[idx]
  return ((1 - s) * t[:, 0] + s * (1 - r2) * t[:, 1] + s * r2 * t[:, 2]).astype(np.float32)


def point_clouds(shapes: ShapeSet, num_points: int, seed: int, batch: int = 128, resolution: int = MESH_RESOLUTION) -> np.ndarray:
  """(N, num_points, 3) points uniform on every shape's surface (deterministic from ``seed``):
  marching cubes of the SDF grid (only the outer surface of a union), twice as many area-weighted
  samples of the mesh, projected onto the exact surface, the first half of those that reach it."""
  marker = jnp.zeros((resolution,))
  out = []
  for i in range(0, len(shapes.labels), batch):
    params = jnp.asarray(shapes.params[i:i + batch])
    grids = np.asarray(_grids(params, marker))
    pts = []
    for j, grid in enumerate(grids):
      v, f = explicit.marching_cubes(grid, MESH_BOUND)
      pts.append(sample_mesh(np.random.default_rng([seed, i + j]), v, f, 2 * num_points))
    out.append(np.asarray(_project(params, jnp.asarray(np.stack(pts)))))
  return np.concatenate(out)


def voxel_grids(shapes: ShapeSet, resolution: int, batch: int = 256) -> np.ndarray:
  """(N, R, R, R, 1) occupancy grids (channels last, for a 3-D CNN)."""
  marker = jnp.zeros((resolution,))
  return np.concatenate([np.asarray(_voxels(jnp.asarray(shapes.params[i:i + batch]), marker))
                         for i in range(0, len(shapes.labels), batch)])[..., None]


REPRESENTATIONS = ("points", "voxels", "surface_voxels")
SPLITS = ("train", "val", "test")


def pose_config(config: Mapping[str, Any]) -> dict[str, Any]:
  return {"max_tilt": float(config.get("max_tilt", np.pi)), "scale": tuple(config.get("scale", (0.75, 0.95))),
          "max_shift": float(config.get("max_shift", 0.05))}


def split_shapes(config: Mapping[str, Any], name: str) -> ShapeSet:
  """The shapes of split ``name`` of a data config (train / val / test draws are independent)."""
  i = SPLITS.index(name)
  return make_split(int(config.get("seed", 0)), config.get(f"{name}_per_class", 20), i, **pose_config(config))


def split_clouds(config: Mapping[str, Any], name: str) -> tuple[np.ndarray, np.ndarray]:
  """(point clouds (N, num_points, 3), labels (N,)) of split ``name``; read-only arrays, computed once
  per configuration (a run's robustness test and a second build of the same data ask again)."""
  key = (int(config.get("seed", 0)), config.get(f"{name}_per_class", 20), int(config.get("num_points", 512)),
         tuple(sorted(pose_config(config).items())))
  return _split_clouds(key, name)


@functools.lru_cache(maxsize=16)
def _split_clouds(key: tuple, name: str) -> tuple[np.ndarray, np.ndarray]:
  seed, per_class, num_points, pose = key
  shapes = make_split(seed, per_class, SPLITS.index(name), **dict(pose))
  clouds = point_clouds(shapes, num_points, seed * 7919 + SPLITS.index(name))
  labels = shapes.labels.copy()
  clouds.setflags(write=False)
  labels.setflags(write=False)
  return clouds, labels


@functools.partial(jax.jit, static_argnums=(1,))
def clouds_to_voxels(clouds, resolution: int):
  """Surface voxels (N, R, R, R, 1) of point clouds (N, P, 3): the cells over [-1, 1]³ that a point
  falls into (lecture 11's voxelization)."""
  return jax.vmap(lambda c: explicit.points_to_voxels(c, resolution, BOUND))(clouds)[..., None]


def load(config: Mapping[str, Any]) -> ImageDataset:
  """The shape set as a classification data set (the pipeline's ImageDataset): examples are point
  clouds (num_points, 3) (``representation = "points"``), solid occupancy grids (R, R, R, 1)
  (``"voxels"``: the SDF thresholded at the cell centres) or surface voxels (``"surface_voxels"``:
  the point cloud voxelized).

  Fields: seed, train_per_class, val_per_class, test_per_class, representation, num_points,
  resolution, max_tilt, scale, max_shift."""
  rep = config.get("representation", "points")
  if rep not in REPRESENTATIONS:
    raise DataError(f"data.representation: expected one of {REPRESENTATIONS}, got {rep!r}")
  resolution = int(config.get("resolution", 24))
  splits = {}
  for name in SPLITS:
    if rep == "voxels":
      shapes = split_shapes(config, name)
      x, labels = voxel_grids(shapes, resolution), shapes.labels
    else:
      x, labels = split_clouds(config, name)
      if rep == "surface_voxels":
        x = np.asarray(clouds_to_voxels(jnp.asarray(x), resolution))
    splits[name] = Split(np.asarray(x, np.float32), labels)
  return ImageDataset(name=f"shapes3d-{rep}", train=splits["train"], val=splits["val"], test=splits["test"],
                      num_classes=NUM_CLASSES, class_names=CLASS_NAMES, mean_image=None)
