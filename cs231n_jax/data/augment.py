"""Data augmentation as pure, jittable functions of ``(key, images)`` on NHWC float batches.

Lecture 7 (seed lines 8441-8529): horizontal flips; random crops and scales (the ResNet recipe:
"pick random L in range [256, 480], resize training image, short side = L, sample random 224 x 224
patch"; testing: "resize image at 5 scales {224, 256, 384, 480, 640}; for each size, use 10 224 x
224 crops: 4 corners + center, + flips"); colour jitter ("randomize contrast and brightness"; the
"more complex" PCA jitter of Krizhevsky et al. 2012); and "get creative". Cutout (DeVries and Taylor
2017: zero a random square) is from the course notes (chapter 7.6), not the slides.

Every function draws an independent sample per image from ``key``, keeps shapes static (so it
compiles once under ``jit``) and is deterministic given the key. For digits, horizontal flips change
the label's meaning (a flipped 2 is not a 2); use crops (translations) and cutout there.

Magnitudes the lecture does not give (jitter strengths, PCA std, cutout size) are arguments; the
defaults are the cited papers' values where they give one (PCA jitter std 0.1, Krizhevsky et al.).
"""

from __future__ import annotations

from typing import Sequence

import jax
import jax.numpy as jnp

PCA_JITTER_STD = 0.1  # Krizhevsky et al. 2012: alpha ~ N(0, 0.1)
RESNET_SCALE_RANGE = (256, 480)
RESNET_CROP = 224
RESNET_TEST_SCALES = (224, 256, 384, 480, 640)
TEN_CROPS = 10
PAD_MODES = ("constant", "edge", "reflect")


def _check_images(images: jax.Array, where: str = "images") -> None:
  if images.ndim != 4:
    raise ValueError(f"{where}: expected an NHWC batch (4 dimensions), got shape {images.shape}")


def random_flip_lr(key: jax.Array, images: jax.Array, prob: float = 0.5) -> jax.Array:
  """Mirror each image left-right with probability ``prob``."""
  _check_images(images)
  flip = jax.random.bernoulli(key, prob, (images.shape[0], 1, 1, 1))
  return jnp.where(flip, images[:, :, ::-1, :], images)


def random_crop(key: jax.Array, images: jax.Array, padding: int, mode: str = "constant") -> jax.Array:
  """Pad by ``padding`` pixels on every side, then crop back to H x W at a random offset per image
  (a random translation by up to ``padding`` pixels; "shifts of up to 2px" in ConvNetJS)."""
  _check_images(images)
  if padding < 0:
    raise ValueError(f"padding: expected a non-negative number of pixels, got {padding}")
  if mode not in PAD_MODES:
    raise ValueError(f"mode: expected one of {PAD_MODES}, got {mode!r}")
  if padding == 0:
    return images
  n, h, w, c = images.shape
  padded = jnp.pad(images, ((0, 0), (padding, padding), (padding, padding), (0, 0)), mode=mode)
  offsets = jax.random.randint(key, (n, 2), 0, 2 * padding + 1)

  def crop(image, offset):
    return jax.lax.dynamic_slice(image, (offset[0], offset[1], 0), (h, w, c))

  return jax.vmap(crop)(padded, offsets)


def color_jitter(key: jax.Array, images: jax.Array, brightness: float = 0.2, contrast: float = 0.2) -> jax.Array:
  """The slide's simple jitter: a random brightness offset in ``[-brightness, brightness]`` and a
  random contrast factor in ``[1 - contrast, 1 + contrast]`` (about each image's mean), per image."""
  _check_images(images)
  if brightness < 0 or not 0 <= contrast < 1:
    raise ValueError(f"brightness, contrast: expected brightness >= 0 and 0 <= contrast < 1, got {brightness}, {contrast}")
  kb, kc = jax.random.split(key)
  n = images.shape[0]
  offset = jax.random.uniform(kb, (n, 1, 1, 1), minval=-brightness, maxval=brightness)
  factor = jax.random.uniform(kc, (n, 1, 1, 1), minval=1 - contrast, maxval=1 + contrast)
  mean = jnp.mean(images, axis=(1, 2, 3), keepdims=True)
  return (images - mean) * factor + mean + offset


def pca_basis(images: jax.Array) -> tuple[jax.Array, jax.Array]:
  """Eigenvalues and eigenvectors (columns) of the covariance of all pixels' colours (step 1 of the
  slide's PCA jitter, computed once on the training set)."""
  _check_images(images)
  pixels = images.reshape(-1, images.shape[-1])
  cov = jnp.cov(pixels, rowvar=False).reshape(images.shape[-1], images.shape[-1])
  eigvals, eigvecs = jnp.linalg.eigh(cov)
  return jnp.maximum(eigvals, 0.0), eigvecs


def pca_color_jitter(key: jax.Array, images: jax.Array, eigvals: jax.Array, eigvecs: jax.Array,
                     std: float = PCA_JITTER_STD) -> jax.Array:
  """Krizhevsky et al.'s colour augmentation: add ``sum_i alpha_i lambda_i p_i`` (one colour offset
  per image, ``alpha_i ~ N(0, std)``) to every pixel."""
  _check_images(images)
  c = images.shape[-1]
  if eigvals.shape != (c,) or eigvecs.shape != (c, c):
    raise ValueError(f"eigvals, eigvecs: expected shapes ({c},) and ({c}, {c}) for {c} channels, got {eigvals.shape}, {eigvecs.shape}")
  alpha = std * jax.random.normal(key, (images.shape[0], c))
  offset = (alpha * eigvals) @ eigvecs.T  # (N, C)
  return images + offset[:, None, None, :]


def cutout(key: jax.Array, images: jax.Array, size: int, fill: float = 0.0) -> jax.Array:
  """Set a ``size`` x ``size`` square (centre uniform over the image, clipped at the borders, as in
  DeVries and Taylor 2017) of each image to ``fill``."""
  _check_images(images)
  n, h, w, _ = images.shape
  if not 0 < size <= min(h, w):
    raise ValueError(f"size: expected a square side in (0, {min(h, w)}], got {size}")
  ky, kx = jax.random.split(key)
  cy = jax.random.randint(ky, (n, 1, 1, 1), 0, h)
  cx = jax.random.randint(kx, (n, 1, 1, 1), 0, w)
  y = jnp.arange(h)[None, :, None, None]
  x = jnp.arange(w)[None, None, :, None]
  top, left = cy - size // 2, cx - size // 2
  inside = (y >= top) & (y < top + size) & (x >= left) & (x < left + size)
  return jnp.where(inside, fill, images)


def resize(images: jax.Array, size: int | tuple[int, int], method: str = "bilinear") -> jax.Array:
  """Resize an NHWC batch to ``size`` (square or (H, W))."""
  _check_images(images)
  h, w = (size, size) if isinstance(size, int) else size
  return jax.image.resize(images, (images.shape[0], h, w, images.shape[-1]), method=method)


def random_scale_crop(key: jax.Array, images: jax.Array, scale_range: tuple[int, int] = RESNET_SCALE_RANGE,
                      crop: int = RESNET_CROP) -> jax.Array:
  """The ResNet training recipe: per image, pick L uniformly in ``scale_range``, resize so the short
  side is L, and take a random ``crop`` x ``crop`` patch. Output shape is static (N, crop, crop, C),
  so the per-image resize is done as one ``scale_and_translate`` into the crop window."""
  _check_images(images)
  lo, hi = scale_range
  if not crop <= lo <= hi:
    raise ValueError(f"scale_range: expected crop <= low <= high, got crop={crop}, scale_range={scale_range}")
  n, h, w, c = images.shape
  k_scale, k_y, k_x = jax.random.split(key, 3)
  short = jax.random.randint(k_scale, (n,), lo, hi + 1).astype(jnp.float32)
  scale = short / min(h, w)
  new_h, new_w = h * scale, w * scale
  off_y = jax.random.uniform(k_y, (n,)) * (new_h - crop)
  off_x = jax.random.uniform(k_x, (n,)) * (new_w - crop)

  def one(image, s, oy, ox):
    return jax.image.scale_and_translate(
        image, (crop, crop, c), (0, 1), jnp.stack([s, s]), jnp.stack([-oy, -ox]), method="linear"
    )

  return jax.vmap(one)(images, scale, off_y, off_x)


def ten_crop(images: jax.Array, crop: int) -> jax.Array:
  """The 10-crop test views: 4 corners + centre, and their mirror images, as (10, N, crop, crop, C)."""
  _check_images(images)
  n, h, w, c = images.shape
  if not 0 < crop <= min(h, w):
    raise ValueError(f"crop: expected a side in (0, {min(h, w)}], got {crop}")
  top, left = (h - crop) // 2, (w - crop) // 2
  corners = [(0, 0), (0, w - crop), (h - crop, 0), (h - crop, w - crop), (top, left)]
  views = [images[:, y:y + crop, x:x + crop, :] for y, x in corners]
  views += [v[:, :, ::-1, :] for v in views]
  return jnp.stack(views)


def multi_scale_ten_crop(images: jax.Array, scales: Sequence[int] = RESNET_TEST_SCALES,
                         crop: int = RESNET_CROP) -> list[jax.Array]:
  """The ResNet test protocol: resize (short side) to each scale, ten crops at each: a list of
  (10, N, crop, crop, C) arrays, one per scale (``len(scales) * 10`` views in all)."""
  _check_images(images)
  h, w = images.shape[1:3]
  out = []
  for s in scales:
    if s < crop:
      raise ValueError(f"scales: every scale must be >= crop {crop}, got {s}")
    size = (round(h * s / min(h, w)), round(w * s / min(h, w)))
    out.append(ten_crop(resize(images, size), crop))
  return out


def average_over_views(predict, views: jax.Array | Sequence[jax.Array]) -> jax.Array:
  """Average ``predict`` (images -> class probabilities) over test-time views: the "average a fixed
  set of crops" step."""
  stacked = views if isinstance(views, jax.Array) else jnp.concatenate(list(views))
  return jnp.mean(jax.vmap(predict)(stacked), axis=0)


def random_affine(key: jax.Array, images: jax.Array, degrees: float = 10.0, scale: float = 0.0,
                  fill: float = 0.0) -> jax.Array:
  """Rotate each image about its centre by an angle uniform in [-degrees, degrees] and zoom it by a
  factor uniform in [1 - scale, 1 + scale] (bilinear; pixels from outside the image are ``fill``).

  Lecture 7's "get creative": for digits, small rotations and size changes are label-preserving
  (a 6 turned by 10 degrees is still a 6), where flips are not."""
  _check_images(images)
  if degrees < 0:
    raise ValueError(f"degrees: expected a non-negative angle, got {degrees}")
  if not 0 <= scale < 1:
    raise ValueError(f"scale: expected 0 <= scale < 1, got {scale}")
  n, h, w, c = images.shape
  angle_key, zoom_key = jax.random.split(key)
  angles = jnp.deg2rad(jax.random.uniform(angle_key, (n,), minval=-degrees, maxval=degrees))
  zooms = jax.random.uniform(zoom_key, (n,), minval=1.0 - scale, maxval=1.0 + scale)
  y, x = jnp.meshgrid(jnp.arange(h, dtype=jnp.float32) - (h - 1) / 2,
                      jnp.arange(w, dtype=jnp.float32) - (w - 1) / 2, indexing="ij")

  def warp(image, angle, zoom):
    # Where each output pixel comes from: the inverse rotation and zoom of its position.
    cos, sin = jnp.cos(angle), jnp.sin(angle)
    source = [(cos * y - sin * x) / zoom + (h - 1) / 2, (sin * y + cos * x) / zoom + (w - 1) / 2]
    channels = [jax.scipy.ndimage.map_coordinates(image[..., k], source, order=1, mode="constant", cval=fill)
                for k in range(c)]
    return jnp.stack(channels, axis=-1).astype(image.dtype)

  return jax.vmap(warp)(images, angles, zooms)


# Names usable in configs: name -> function(key, images, **kwargs).
AUGMENTATIONS = {
    "flip": random_flip_lr,
    "crop": random_crop,
    "color": color_jitter,
    "cutout": cutout,
    "affine": random_affine,
}


def augment(key: jax.Array, images: jax.Array, ops: Sequence[tuple[str, dict]]) -> jax.Array:
  """Apply ``ops`` (``(name, kwargs)`` pairs from :data:`AUGMENTATIONS`) in order, each with its own key."""
  for i, (name, kwargs) in enumerate(ops):
    if name not in AUGMENTATIONS:
      raise ValueError(f"augment: expected names from {tuple(AUGMENTATIONS)}, got {name!r}")
    images = AUGMENTATIONS[name](jax.random.fold_in(key, i), images, **kwargs)
  return images
