"""Lecture 11's 3-D geometry: a pinhole camera ("a point on the image plane corresponds to a ray in
the 3D space"; "a 2D bounding box on an image is a frustum in the 3D space"), 3-D boxes
(x, y, z, w, h, l, yaw — "no roll & pitch") with their 8 corners and 3-D IoU, and the RGB-D
voxelization of the slide (a depth image -> a point cloud -> a grid of cells filled with colour).

Conventions: camera coordinates x right, y down, z forward (the optical axis); a pixel (u, v) has
u along columns, v along rows. A camera-to-world pose (R, t) maps camera coordinates to the world,
X_world = R X_cam + t. 3-D boxes live in a z-up world: centre (x, y, z), length l along the heading
(the box's own x axis), width w along its y axis, height h along z, yaw about z.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np

from cs231n_jax.geometry.sdf import check_points


@dataclasses.dataclass(frozen=True)
class PinholeCamera:
  """Intrinsics (focal lengths fx, fy and principal point cx, cy, in pixels) and the camera-to-world
  pose (rotation (3, 3), position (3,)). A zero focal length is a one-line ValueError."""

  fx: float
  fy: float
  cx: float
  cy: float
  rotation: tuple = ((1.0, 0.0, 0.0), (0.0, 1.0, 0.0), (0.0, 0.0, 1.0))
  position: tuple = (0.0, 0.0, 0.0)

  def __post_init__(self):
    for name in ("fx", "fy"):
      v = getattr(self, name)
      if not np.isfinite(v) or v == 0:
        raise ValueError(f"camera.{name}: expected a non-zero finite focal length in pixels, got {v}")

  @property
  def R(self) -> jax.Array:
    return jnp.asarray(self.rotation, jnp.float32)

  @property
  def t(self) -> jax.Array:
    return jnp.asarray(self.position, jnp.float32)


def look_at(eye, target, up=(0.0, 0.0, 1.0)) -> np.ndarray:
  """The camera-to-world rotation of a camera at ``eye`` looking at ``target`` (z forward, y down)."""
  eye, target, up = (np.asarray(a, np.float64) for a in (eye, target, up))
  z = target - eye
  z /= np.linalg.norm(z)
  x = np.cross(z, up)
  if np.linalg.norm(x) < 1e-9:
    raise ValueError("look_at: the viewing direction is parallel to up; choose another up vector")
  x /= np.linalg.norm(x)
  y = np.cross(z, x)
  return np.stack([x, y, z], axis=1)


def pixel_to_ray(camera: PinholeCamera, uv) -> tuple[jax.Array, jax.Array]:
  """A pixel is a ray: origins (..., 3) (the camera centre) and unit directions (..., 3) in the world."""
  uv = jnp.asarray(uv, jnp.float32)
  if uv.shape[-1] != 2:
    raise ValueError(f"uv: expected pixel coordinates (..., 2), got shape {uv.shape}")
  d_cam = jnp.stack([(uv[..., 0] - camera.cx) / camera.fx, (uv[..., 1] - camera.cy) / camera.fy, jnp.ones(uv.shape[:-1])], -1)
  d = d_cam @ camera.R.T
  d = d / jnp.linalg.norm(d, axis=-1, keepdims=True)
  return jnp.broadcast_to(camera.t, d.shape), d


def project(camera: PinholeCamera, points) -> tuple[jax.Array, jax.Array]:
  """World points (..., 3) -> pixels (..., 2) and their depth z in the camera (..., )."""
  points = check_points(points)
  p = (points - camera.t) @ camera.R
  z = p[..., 2]
  return jnp.stack([camera.fx * p[..., 0] / z + camera.cx, camera.fy * p[..., 1] / z + camera.cy], -1), z


def box_to_frustum(camera: PinholeCamera, box2d, near: float, far: float) -> jax.Array:
  """A 2-D box (u0, v0, u1, v1) is a frustum: its 8 corners (8, 3) in the world, between the planes
  at depths ``near`` and ``far`` (the object can be anywhere inside it)."""
  if not 0 < near < far:
    raise ValueError(f"near, far: expected 0 < near < far, got {near}, {far}")
  u0, v0, u1, v1 = box2d
  uv = jnp.array([[u0, v0], [u1, v0], [u1, v1], [u0, v1]], jnp.float32)
  d_cam = jnp.stack([(uv[:, 0] - camera.cx) / camera.fx, (uv[:, 1] - camera.cy) / camera.fy, jnp.ones(4)], -1)
  corners = jnp.concatenate([d_cam * near, d_cam * far])  # z = near, then z = far
  return corners @ camera.R.T + camera.t


def in_frustum(camera: PinholeCamera, box2d, near: float, far: float, points) -> jax.Array:
  """Whether world points project inside the 2-D box at a depth in [near, far]."""
  uv, z = project(camera, points)
  u0, v0, u1, v1 = box2d
  return (z >= near) & (z <= far) & (uv[..., 0] >= u0) & (uv[..., 0] <= u1) & (uv[..., 1] >= v0) & (uv[..., 1] <= v1)


# ---------------------------------------------------------------------------------------------
# 3-D boxes.
# ---------------------------------------------------------------------------------------------


def check_box3d(box) -> jax.Array:
  box = jnp.asarray(box, jnp.float32)
  if box.shape[-1] != 7:
    raise ValueError(f"box: expected (x, y, z, w, h, l, yaw) in the last axis, got shape {box.shape}")
  return box


def box3d_corners(box) -> jax.Array:
  """The 8 corners (..., 8, 3) of boxes (..., 7) = (x, y, z, w, h, l, yaw): bottom face first
  (counter-clockwise seen from above), then the top face."""
  box = check_box3d(box)
  x, y, z, w, h, l, yaw = (box[..., i] for i in range(7))
  sx = jnp.array([1, -1, -1, 1, 1, -1, -1, 1], jnp.float32) * 0.5
  sy = jnp.array([1, 1, -1, -1, 1, 1, -1, -1], jnp.float32) * 0.5
  sz = jnp.array([-1, -1, -1, -1, 1, 1, 1, 1], jnp.float32) * 0.5
  lx, ly, lz = l[..., None] * sx, w[..., None] * sy, h[..., None] * sz
  c, s = jnp.cos(yaw)[..., None], jnp.sin(yaw)[..., None]
  return jnp.stack([x[..., None] + c * lx - s * ly, y[..., None] + s * lx + c * ly, z[..., None] + lz], -1)


def _cross2(a, b):
  return a[..., 0] * b[..., 1] - a[..., 1] * b[..., 0]


def _inside_convex(points, poly):
  """Whether 2-D ``points`` (P, 2) lie in the counter-clockwise convex polygon ``poly`` (4, 2)."""
  edges = jnp.roll(poly, -1, axis=0) - poly
  rel = points[:, None] - poly[None]
  return jnp.all(_cross2(edges[None], rel) >= -1e-7, axis=1)


def convex_intersection_area(a: jax.Array, b: jax.Array) -> jax.Array:
  """The area of the intersection of two counter-clockwise convex quadrilaterals (4, 2), jittable:
  the intersection is the convex hull of a's corners inside b, b's corners inside a and the edge
  crossings; those points (fixed size, masked) are sorted by angle about their mean and summed by
  the shoelace formula."""
  ea, eb = jnp.roll(a, -1, 0) - a, jnp.roll(b, -1, 0) - b
  # edge crossings: a[i] + s ea[i] = b[j] + u eb[j]
  denom = _cross2(ea[:, None], eb[None])
  diff = b[None] - a[:, None]
  safe = jnp.where(jnp.abs(denom) < 1e-12, 1.0, denom)
  s = _cross2(diff, eb[None]) / safe
  u = _cross2(diff, ea[:, None]) / safe
  hit = (jnp.abs(denom) >= 1e-12) & (s >= 0) & (s <= 1) & (u >= 0) & (u <= 1)
  cross_pts = (a[:, None] + s[..., None] * ea[:, None]).reshape(16, 2)
  pts = jnp.concatenate([a, b, cross_pts])
  valid = jnp.concatenate([_inside_convex(a, b), _inside_convex(b, a), hit.reshape(16)])
  count = jnp.sum(valid)
  centre = jnp.sum(jnp.where(valid[:, None], pts, 0.0), 0) / jnp.maximum(count, 1)
  angle = jnp.where(valid, jnp.arctan2(pts[:, 1] - centre[1], pts[:, 0] - centre[0]), jnp.inf)
  order = jnp.argsort(angle)
  sorted_pts = pts[order]
  sorted_valid = valid[order]
  sorted_pts = jnp.where(sorted_valid[:, None], sorted_pts, sorted_pts[0])  # padding adds no area
  x, y = sorted_pts[:, 0], sorted_pts[:, 1]
  area = 0.5 * jnp.sum(x * jnp.roll(y, -1) - jnp.roll(x, -1) * y)
  return jnp.where(count >= 3, area, 0.0)


def box3d_iou(box_a, box_b) -> jax.Array:
  """3-D IoU of two yaw-rotated boxes (7,): the bird's-eye intersection (two rotated rectangles)
  times the overlap in height, over the union of volumes."""
  box_a, box_b = check_box3d(box_a), check_box3d(box_b)
  ca, cb = box3d_corners(box_a), box3d_corners(box_b)
  inter_bev = convex_intersection_area(ca[:4, :2], cb[:4, :2])
  za0, za1 = box_a[2] - box_a[4] / 2, box_a[2] + box_a[4] / 2
  zb0, zb1 = box_b[2] - box_b[4] / 2, box_b[2] + box_b[4] / 2
  inter = inter_bev * jnp.maximum(jnp.minimum(za1, zb1) - jnp.maximum(za0, zb0), 0.0)
  vol = lambda bx: bx[3] * bx[4] * bx[5]  # noqa: E731
  return inter / (vol(box_a) + vol(box_b) - inter)


# ---------------------------------------------------------------------------------------------
# RGB-D -> point cloud (the slide's voxelization input).
# ---------------------------------------------------------------------------------------------

# scikit-image's stereo_motorcycle (Middlebury 2014, down-sampled 4x): its docstring's calibration.
MOTORCYCLE_CALIBRATION = {"focal": 994.978, "cx": 311.193, "cy": 254.877, "doffs": 31.086, "baseline_mm": 193.001}


def disparity_to_depth(disparity, focal: float, baseline: float, doffs: float = 0.0) -> jax.Array:
  """Depth Z = f B / (d + doffs) of a rectified pair; pixels without a finite disparity give NaN."""
  d = jnp.asarray(disparity, jnp.float32) + doffs
  return jnp.where(jnp.isfinite(d) & (d > 0), focal * baseline / jnp.where(d > 0, d, 1.0), jnp.nan)


def depth_to_points(camera: PinholeCamera, depth, stride: int = 1) -> tuple[jax.Array, jax.Array]:
  """Back-project a depth image (H, W): every ``stride``-th pixel -> a world point at its depth
  along its ray. Returns (points (H', W', 3), valid (H', W'))."""
  depth = jnp.asarray(depth, jnp.float32)[::stride, ::stride]
  v, u = jnp.meshgrid(jnp.arange(0, depth.shape[0]) * stride, jnp.arange(0, depth.shape[1]) * stride, indexing="ij")
  x = (u - camera.cx) / camera.fx * depth
  y = (v - camera.cy) / camera.fy * depth
  p = jnp.stack([x, y, depth], -1) @ camera.R.T + camera.t
  return p, jnp.isfinite(depth)


def motorcycle_point_cloud(stride: int = 2) -> tuple[np.ndarray, np.ndarray, PinholeCamera]:
  """scikit-image's ``stereo_motorcycle`` left image and disparity map -> a coloured point cloud:
  (points (N, 3) in metres, camera frame; colours (N, 3) in [0, 1]; the camera)."""
  from skimage import data

  left, _, disparity = data.stereo_motorcycle()
  c = MOTORCYCLE_CALIBRATION
  camera = PinholeCamera(c["focal"], c["focal"], c["cx"], c["cy"])
  depth = disparity_to_depth(disparity, c["focal"], c["baseline_mm"] / 1000.0, c["doffs"])
  points, valid = depth_to_points(camera, depth, stride)
  colours = left[::stride, ::stride].astype(np.float32) / 255.0
  valid = np.asarray(valid)
  return np.asarray(points)[valid], colours[valid], camera
