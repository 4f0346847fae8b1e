"""The notes' chapter 16 checks as a table of errors, and the geometry figures.

No training: exact geometry measured against closed forms (sphere volume and area on a 64³ grid,
SDF signs, CSG volumes, the polygon error's log-log slope, Bézier end points, 3-D box IoU against a
Monte-Carlo estimate), each with its tolerance from the issue. ``run(config, workdir)`` writes
``geometry_checks.md`` and the figures ``geometry_*.png`` into the workdir.
"""

from __future__ import annotations

import json
from typing import Any

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
from etils import epath

from cs231n_jax import plotting
from cs231n_jax.data import shapes3d
from cs231n_jax.geometry import camera as cam
from cs231n_jax.geometry import explicit, sdf


def base_config() -> ml_collections.ConfigDict:
  c = ml_collections.ConfigDict()
  c.runner = "cs231n_jax.studies.geometry:run"
  c.seed = 0
  c.radius = 24.0  # voxels, on a 64³ grid
  c.resolution = 64
  c.sign_points = 10_000
  c.csg_points = 400_000
  c.polygon_sides = (8, 16, 32, 64, 128, 256, 512)
  c.figures = True
  return c


def checks(config: ml_collections.ConfigDict) -> list[tuple[str, float, str, bool]]:
  """Rows (check, measured value, goal, passed)."""
  key = jax.random.key(config.seed)
  rows = []
  r, res = config.radius, config.resolution
  half = res / 2
  grid = sdf.level_set(sdf.sphere(r), res, half)
  vol_err = abs(float(sdf.voxel_volume(grid <= 0, half)) / (4 / 3 * np.pi * r**3) - 1)
  rows.append((f"sphere r={r:g} on {res}³: voxel volume relative error", vol_err, "< 0.02", vol_err < 0.02))
  verts, faces = explicit.marching_cubes(grid, half)
  area_err = abs(float(explicit.surface_area(verts, faces)) / (4 * np.pi * r**2) - 1)
  rows.append(("marching-cubes area relative error", area_err, "< 0.03", area_err < 0.03))
  mesh_err = abs(float(explicit.mesh_volume(verts, faces)) / (4 / 3 * np.pi * r**3) - 1)
  rows.append(("marching-cubes mesh volume (divergence theorem) relative error", mesh_err, "(reported)", True))
  p = jax.random.uniform(key, (config.sign_points, 3), minval=-1, maxval=1)
  pn = np.asarray(p)
  refs = {"sphere": (sdf.sphere(0.8), (pn**2).sum(1) < 0.64),
          "box": (sdf.box((0.5, 0.7, 0.3)), (np.abs(pn) < [0.5, 0.7, 0.3]).all(1)),
          "torus": (sdf.torus(0.6, 0.25), (np.hypot(pn[:, 0], pn[:, 1]) - 0.6) ** 2 + pn[:, 2] ** 2 < 0.0625)}
  wrong = sum(int(np.sum((np.asarray(f(p)) < 0) != ref)) for f, ref in refs.values())
  rows.append((f"SDF sign mismatches (sphere, box, torus; {config.sign_points} points each)", wrong, "0", wrong == 0))
  rad, d = 0.6, 0.5
  a = sdf.posed(sdf.sphere(rad), translation=(-d / 2, 0, 0))
  b = sdf.posed(sdf.sphere(rad), translation=(d / 2, 0, 0))
  h = rad - d / 2
  lens = 2 * np.pi * h**2 * (3 * rad - h) / 3
  ball = 4 / 3 * np.pi * rad**3
  for i, (name, f, exact) in enumerate([("union", sdf.union(a, b), 2 * ball - lens), ("intersection", sdf.intersection(a, b), lens),
                                        ("difference", sdf.difference(a, b), ball - lens)]):
    est = float(sdf.monte_carlo_volume(f, jax.random.fold_in(key, i), config.csg_points, 1.2))
    err = abs(est / exact - 1)
    rows.append((f"CSG {name} of two spheres: Monte-Carlo volume relative error", err, "< 0.02", err < 0.02))
  with jax.enable_x64(True):
    ns = np.asarray(config.polygon_sides)
    errs = np.array([float(explicit.circle_polygon_error(int(n))) for n in ns])
  slope = float(np.polyfit(np.log(ns), np.log(errs), 1)[0])
  rows.append(("circle polygon area error: log-log slope", slope, "-2 ± 0.1", abs(slope + 2) < 0.1))
  ctrl = jax.random.normal(key, (6, 3))
  curve = explicit.de_casteljau(ctrl, jnp.linspace(0, 1, 11))
  end_err = float(jnp.max(jnp.abs(curve[0] - ctrl[0])) + jnp.max(jnp.abs(curve[-1] - ctrl[-1])))
  rows.append(("Bézier (de Casteljau) end-point error", end_err, "0 (exact)", end_err == 0.0))
  box_a = np.array([0.0, 0, 0, 1.2, 1.0, 1.8, 0.3])
  box_b = np.array([0.3, 0.2, 0.1, 1.0, 1.1, 1.5, -0.5])
  iou = float(cam.box3d_iou(jnp.asarray(box_a, jnp.float32), jnp.asarray(box_b, jnp.float32)))
  mc = monte_carlo_box_iou(box_a, box_b, 2_000_000, config.seed)
  rows.append(("3-D box IoU: exact minus Monte-Carlo (2e6 points)", abs(iou - mc), "< 0.005", abs(iou - mc) < 0.005))
  return rows


def monte_carlo_box_iou(a, b, n: int, seed: int) -> float:
  rng = np.random.default_rng(seed)
  ca, cb = np.asarray(cam.box3d_corners(a)), np.asarray(cam.box3d_corners(b))
  lo, hi = np.minimum(ca.min(0), cb.min(0)), np.maximum(ca.max(0), cb.max(0))
  p = rng.uniform(lo, hi, (n, 3))

  def inside(bx):
    x, y, z, w, h, l, yaw = bx
    q = p - [x, y, z]
    c, s = np.cos(yaw), np.sin(yaw)
    return (np.abs(c * q[:, 0] + s * q[:, 1]) <= l / 2) & (np.abs(-s * q[:, 0] + c * q[:, 1]) <= w / 2) & (np.abs(q[:, 2]) <= h / 2)

  ia, ib = inside(a), inside(b)
  return float((ia & ib).sum() / (ia | ib).sum())


def figures(out: epath.Path) -> list[str]:
  """geometry_shapes.png (point clouds and voxels of the shape set), geometry_motorcycle.png (the
  RGB-D voxelization)."""
  import matplotlib

  matplotlib.use("Agg")
  import matplotlib.pyplot as plt

  shapes = shapes3d.make_split(0, 1, 0)
  order = np.argsort(shapes.labels)
  clouds = shapes3d.point_clouds(shapes, 512, seed=0)
  vox = shapes3d.voxel_grids(shapes, 16)
  fig = plt.figure(figsize=(18, 3.2))
  for i, c in enumerate(order):
    ax = fig.add_subplot(2, 12, i + 1, projection="3d")
    ax.scatter(*clouds[c].T, s=0.5)
    ax.set_title(shapes3d.CLASS_NAMES[shapes.labels[c]], fontsize=7)
    ax.set_axis_off()
    ax = fig.add_subplot(2, 12, i + 13, projection="3d")
    ax.voxels(vox[c, ..., 0] > 0)
    ax.set_axis_off()
  plotting.save_figure(fig, out / "geometry_shapes.png", dpi=110, bbox_inches="tight")
  plt.close(fig)
  points, colours, _ = cam.motorcycle_point_cloud(stride=4)
  centre = np.median(points, 0)
  occ, rgb = explicit.points_to_voxels(jnp.asarray(points - centre), 32, 1.5, jnp.asarray(colours))
  fig = plt.figure(figsize=(10, 5))
  ax = fig.add_subplot(1, 2, 1)
  from skimage import data

  ax.imshow(data.stereo_motorcycle()[0])
  ax.set_title("stereo_motorcycle (left)")
  ax.axis("off")
  ax = fig.add_subplot(1, 2, 2, projection="3d")
  ax.voxels(np.asarray(occ > 0).transpose(0, 2, 1)[:, :, ::-1], facecolors=np.asarray(rgb).transpose(0, 2, 1, 3)[:, :, ::-1])
  ax.view_init(10, -80)
  ax.set_title("RGB-D voxels (32³)")
  plotting.save_figure(fig, out / "geometry_motorcycle.png", dpi=110, bbox_inches="tight")
  plt.close(fig)
  return ["geometry_shapes.png", "geometry_motorcycle.png"]


def table(rows) -> str:
  lines = ["| check | measured | goal | passed |", "|---|---|---|---|"]
  lines += [f"| {name} | {value:.3g} | {goal} | {'yes' if ok else 'NO'} |" for name, value, goal, ok in rows]
  return "\n".join(lines)


def run(config: ml_collections.ConfigDict, workdir: str) -> dict[str, Any]:
  out = epath.Path(workdir)  # a workdir may be gs://
  out.mkdir(parents=True, exist_ok=True)
  rows = checks(config)
  text = table(rows)
  (out / "geometry_checks.md").write_text(text + "\n")
  print(text)
  results = {"checks": [{"check": n, "value": float(v), "goal": g, "passed": bool(ok)} for n, v, g, ok in rows],
             "all_passed": all(ok for *_, ok in rows)}
  if config.figures:
    results["figures"] = figures(out)
  (out / "results.json").write_text(json.dumps(results, indent=1))
  return results
