"""Rendering: the project's ray caster (sphere tracing over an SDF scene, so a view's ground truth
is exact up to the tracer's tolerance) and NeRF's maths (Mildenhall et al. 2020): positional
encoding, stratified samples along rays, volume rendering, hierarchical (importance) sampling.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np

from cs231n_jax.geometry import camera as cam
from cs231n_jax.geometry import sdf

# ---------------------------------------------------------------------------------------------
# An SDF scene and its ray caster.
# ---------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Scene:
  """Objects (SDFs) with RGB albedos, lit by a directional light plus ambient light, in front of a
  constant background."""

  objects: tuple[Callable, ...]
  albedos: tuple[tuple[float, float, float], ...]
  light: tuple[float, float, float] = (0.5, -0.3, 0.8)
  ambient: float = 0.3
  background: tuple[float, float, float] = (1.0, 1.0, 1.0)

  def distance(self, p):
    return jnp.min(jnp.stack([f(p) for f in self.objects]), axis=0)

  def albedo(self, p):
    nearest = jnp.argmin(jnp.stack([f(p) for f in self.objects]), axis=0)
    return jnp.asarray(self.albedos, jnp.float32)[nearest]


def default_scene() -> Scene:
  """Three objects on the origin: a red sphere, a green box turned by 30°, a blue torus."""
  return Scene(
      objects=(sdf.posed(sdf.sphere(0.45), translation=(0.45, 0.35, 0.0)),
               sdf.posed(sdf.box((0.3, 0.3, 0.3)), sdf.rotation_matrix((0.0, 0.0, np.pi / 6)), (-0.45, 0.3, -0.1)),
               sdf.posed(sdf.torus(0.4, 0.12), sdf.rotation_matrix((np.pi / 3, 0.0, 0.0)), (0.0, -0.5, 0.1))),
      albedos=((0.9, 0.2, 0.2), (0.2, 0.8, 0.3), (0.2, 0.3, 0.9)),
  )


def sphere_trace(scene: Scene, origins, directions, far: float = 10.0, steps: int = 96, epsilon: float = 1e-4):
  """March every ray by the scene's distance (a safe step: no surface is closer) until it is within
  ``epsilon`` of a surface or past ``far``. Returns (t (R,), hit (R,))."""

  def body(_, t):
    d = scene.distance(origins + t[:, None] * directions)
    return jnp.where((d < epsilon) | (t > far), t, t + d)

  t = jax.lax.fori_loop(0, steps, body, jnp.zeros(origins.shape[0]))
  hit = (scene.distance(origins + t[:, None] * directions) < 10 * epsilon) & (t <= far)
  return t, hit


def shade(scene: Scene, origins, directions, far: float = 10.0):
  """Colours (R, 3) of rays: albedo x (ambient + (1 - ambient) max(0, n·l)) at the first hit, the
  normal n = ∇f, the background where nothing is hit."""
  t, hit = sphere_trace(scene, origins, directions, far)
  p = origins + t[:, None] * directions
  n = jax.vmap(jax.grad(scene.distance))(p)
  n = n / jnp.maximum(jnp.linalg.norm(n, axis=-1, keepdims=True), 1e-8)
  light = jnp.asarray(scene.light, jnp.float32)
  light = light / jnp.linalg.norm(light)
  colour = scene.albedo(p) * (scene.ambient + (1 - scene.ambient) * jnp.maximum(n @ light, 0.0))[:, None]
  return jnp.where(hit[:, None], colour, jnp.asarray(scene.background, jnp.float32))


def orbit_camera(azimuth: float, elevation: float, radius: float, size: int, fov_degrees: float = 40.0) -> cam.PinholeCamera:
  """A ``size`` x ``size`` camera on a sphere of ``radius`` looking at the origin (z up)."""
  eye = radius * np.array([np.cos(elevation) * np.cos(azimuth), np.cos(elevation) * np.sin(azimuth), np.sin(elevation)])
  focal = 0.5 * size / np.tan(np.radians(fov_degrees) / 2)
  rot = cam.look_at(eye, (0.0, 0.0, 0.0))
  return cam.PinholeCamera(focal, focal, size / 2, size / 2, tuple(map(tuple, rot)), tuple(eye))


def camera_rays(camera: cam.PinholeCamera, size: int):
  """Rays through the pixel centres of a ``size`` x ``size`` image: origins, directions (size², 3)."""
  v, u = jnp.meshgrid(jnp.arange(size) + 0.5, jnp.arange(size) + 0.5, indexing="ij")
  return cam.pixel_to_ray(camera, jnp.stack([u.ravel(), v.ravel()], -1))


def render_views(scene: Scene, cameras, size: int):
  """Ground-truth images (V, size, size, 3) and their rays (V, size², 3) x 2."""
  rays = [camera_rays(c, size) for c in cameras]
  origins = jnp.stack([o for o, _ in rays])
  dirs = jnp.stack([d for _, d in rays])
  images = jax.jit(jax.vmap(lambda o, d: shade(scene, o, d)))(origins, dirs)
  return images.reshape(len(cameras), size, size, 3), origins, dirs


def psnr(a, b) -> jax.Array:
  """Peak signal-to-noise ratio in dB of images in [0, 1]."""
  return -10.0 * jnp.log10(jnp.mean((jnp.asarray(a) - jnp.asarray(b)) ** 2))


# ---------------------------------------------------------------------------------------------
# NeRF's maths.
# ---------------------------------------------------------------------------------------------


def positional_encoding(x, num_frequencies: int) -> jax.Array:
  """γ(x) = (x, sin(2⁰ π x), cos(2⁰ π x), ..., sin(2^(L-1) π x), cos(2^(L-1) π x)) per coordinate:
  (..., D) -> (..., D (1 + 2L))."""
  freqs = (2.0 ** jnp.arange(num_frequencies)) * jnp.pi
  angles = x[..., None, :] * freqs[:, None]  # (..., L, D)
  return jnp.concatenate([x, jnp.sin(angles).reshape(*x.shape[:-1], -1), jnp.cos(angles).reshape(*x.shape[:-1], -1)], -1)


def stratified_samples(key, num_rays: int, num_samples: int, near: float, far: float, randomized: bool = True):
  """Depths (R, S): one uniform sample in each of S equal bins of [near, far] (bin centres when not
  ``randomized``)."""
  edges = jnp.linspace(near, far, num_samples + 1)
  lower, width = edges[:-1], edges[1:] - edges[:-1]
  u = jax.random.uniform(key, (num_rays, num_samples)) if randomized else jnp.full((num_rays, num_samples), 0.5)
  return lower + u * width


def volume_render(density, colour, t, background):
  """NeRF's quadrature: α_i = 1 - exp(-σ_i δ_i), T_i = Π_{j<i} (1 - α_j), weights w_i = T_i α_i,
  C = Σ w_i c_i + (1 - Σ w_i) background. density (R, S), colour (R, S, 3), t (R, S) increasing.
  Returns (rgb (R, 3), weights (R, S), expected depth (R,))."""
  delta = jnp.concatenate([t[:, 1:] - t[:, :-1], jnp.full_like(t[:, :1], 1e10)], -1)
  alpha = 1.0 - jnp.exp(-density * delta)
  trans = jnp.cumprod(jnp.concatenate([jnp.ones_like(alpha[:, :1]), 1.0 - alpha[:, :-1] + 1e-10], -1), -1)
  weights = trans * alpha
  acc = jnp.sum(weights, -1)
  rgb = jnp.sum(weights[..., None] * colour, -2) + (1.0 - acc)[:, None] * jnp.asarray(background)
  return rgb, weights, jnp.sum(weights * t, -1)


def sample_pdf(key, bins, weights, num_samples: int, randomized: bool = True):
  """Hierarchical sampling: ``num_samples`` depths (R, num_samples) drawn by inverting the CDF of the
  piecewise-constant density with ``weights`` (R, B) on ``bins`` (R, B + 1) edges."""
  w = weights + 1e-5
  pdf = w / jnp.sum(w, -1, keepdims=True)
  cdf = jnp.concatenate([jnp.zeros_like(pdf[:, :1]), jnp.cumsum(pdf, -1)], -1)
  cdf = cdf.at[:, -1].set(1.0)
  u = (jax.random.uniform(key, (weights.shape[0], num_samples)) if randomized
       else jnp.broadcast_to(jnp.linspace(0.0, 1.0, num_samples + 2)[1:-1], (weights.shape[0], num_samples)))
  idx = jax.vmap(lambda c, q: jnp.searchsorted(c, q, side="right"))(cdf, u)
  below = jnp.clip(idx - 1, 0, cdf.shape[-1] - 2)
  c0 = jnp.take_along_axis(cdf, below, -1)
  c1 = jnp.take_along_axis(cdf, below + 1, -1)
  b0 = jnp.take_along_axis(bins, below, -1)
  b1 = jnp.take_along_axis(bins, below + 1, -1)
  frac = jnp.where(c1 - c0 > 0, (u - c0) / jnp.where(c1 - c0 > 0, c1 - c0, 1.0), 0.0)
  return b0 + frac * (b1 - b0)


def hierarchical_samples(key, t, weights, num_fine: int, near: float, far: float, randomized: bool = True):
  """NeRF's fine samples: ``num_fine`` depths drawn by :func:`sample_pdf` from the coarse samples' weights (no
  gradient flows into them), sample i's weight spread over its bin [mid_(i-1), mid_i] between the midpoints of
  the coarse depths ``t`` (R, S) (near and far at the ends), and returned with the coarse depths as one
  sorted union (R, S + num_fine)."""
  mids = 0.5 * (t[:, 1:] + t[:, :-1])
  bins = jnp.concatenate([jnp.full_like(t[:, :1], near), mids, jnp.full_like(t[:, :1], far)], -1)
  t_fine = sample_pdf(key, bins, jax.lax.stop_gradient(weights), num_fine, randomized)
  return jnp.sort(jnp.concatenate([t, jax.lax.stop_gradient(t_fine)], -1), -1)


# ---------------------------------------------------------------------------------------------
# Diagnostics: the quadrature's ceiling, and where an image's error lies.
# ---------------------------------------------------------------------------------------------


def exact_field(scene: Scene, density: float = 1e4) -> Callable:
  """The scene as a NeRF field: points (P, 3) -> (density (P,), colour (P, 3)); ``density`` inside an object,
  0 outside; the colour is the ray caster's shading with the normal ∇f at the point (on a sphere's inside,
  the normal of the surface above it)."""
  light = jnp.asarray(scene.light, jnp.float32)
  light = light / jnp.linalg.norm(light)

  def field(p):
    n = jax.vmap(jax.grad(scene.distance))(p)
    n = n / jnp.maximum(jnp.linalg.norm(n, axis=-1, keepdims=True), 1e-8)
    colour = scene.albedo(p) * (scene.ambient + (1 - scene.ambient) * jnp.maximum(n @ light, 0.0))[:, None]
    return jnp.where(scene.distance(p) < 0, density, 0.0), colour

  return field


@functools.partial(jax.jit, static_argnames=("field", "near", "far", "num_samples", "fine_samples"))
def quadrature_render(field: Callable, origins, directions, near: float, far: float, num_samples: int, background,
                      fine_samples: int = 0):
  """Colours (R, 3) of rays through ``field`` by NeRF's quadrature at the ``num_samples`` bin centres of
  [near, far] (the samples a NeRF without hierarchical sampling is evaluated at) or, with ``fine_samples``, at
  those and the deterministic fine samples of :func:`hierarchical_samples` drawn from their weights (what a NeRF
  with hierarchical sampling renders). With the exact field this is the ceiling of that sampling: what a
  perfect network would render."""
  t = stratified_samples(jax.random.key(0), origins.shape[0], num_samples, near, far, randomized=False)

  def render(t):
    sigma, colour = field((origins[:, None] + t[..., None] * directions[:, None]).reshape(-1, 3))
    return volume_render(sigma.reshape(t.shape), colour.reshape(*t.shape, 3), t, background)

  rgb, weights, _ = render(t)
  if fine_samples:
    rgb, _, _ = render(hierarchical_samples(jax.random.key(0), t, weights, fine_samples, near, far, randomized=False))
  return rgb


def edge_pixels(images, threshold: float = 0.1) -> np.ndarray:
  """Boolean (..., H, W): pixels of images (..., H, W, C) whose value differs from a 4-neighbour's by more than
  ``threshold`` in some channel (silhouettes and the borders between objects)."""
  x = np.asarray(images)
  edge = np.zeros(x.shape[:-1], bool)
  for axis in (x.ndim - 3, x.ndim - 2):  # rows, columns
    step = np.abs(np.diff(x, axis=axis)).max(-1) > threshold
    before = [(0, 0)] * step.ndim
    after = [(0, 0)] * step.ndim
    before[axis], after[axis] = (1, 0), (0, 1)
    edge |= np.pad(step, before) | np.pad(step, after)
  return edge


def error_breakdown(pred, truth, threshold: float = 0.1) -> dict[str, float]:
  """Where the squared error of renders ``pred`` against ``truth`` (..., H, W, 3) lies: the share of the
  pixels that are edges (:func:`edge_pixels` of the truth), the share of the squared error on them, and the
  PSNR on edge and on other pixels."""
  err = np.mean((np.asarray(pred, np.float64) - np.asarray(truth, np.float64)) ** 2, -1)
  edge = edge_pixels(truth, threshold)
  db = lambda e: float(-10 * np.log10(max(float(np.mean(e)), 1e-12)))  # noqa: E731
  return {"edge_pixel_fraction": float(edge.mean()), "edge_error_share": float(err[edge].sum() / max(err.sum(), 1e-12)),
          "psnr_edge": db(err[edge]) if edge.any() else float("inf"),
          "psnr_non_edge": db(err[~edge]) if not edge.all() else float("inf")}
