"""Classical image features (lecture 3's aside, assignment 1's features notebook), in JAX.

"After applying a feature transform, points can be separated by a linear classifier." Two
transforms, each a pure function of one (H, W, C) image, so that ``extract_features`` can ``vmap``
and ``jit`` them over a whole data set:

* ``hog_feature``: histogram of oriented gradients. "Divide image into 8x8 pixel regions. Within
  each region quantize edge direction into 9 bins": a 320x240 image gives 40 x 30 cells x 9 bins =
  10,800 numbers. Orientations are unsigned (0-180 degrees, 20 degrees per bin), each pixel votes
  its gradient magnitude into its bin, and each cell reports the mean vote per pixel (the course's
  ``uniform_filter`` average). The course's code drops gradients whose shifted angle falls outside
  [0, 180); here every pixel votes, with the angle taken modulo 180.
* ``color_histogram_hsv``: a histogram of the hue channel (HSV), normalised to sum to 1; the hue is
  computed exactly as ``matplotlib.colors.rgb_to_hsv`` does. Grey images (digits) have hue 0
  everywhere, so on them it is a constant feature.

Grey conversion uses the ITU-R 601 luma weights 0.299, 0.587, 0.114. (The course's ``rgb2gray``
has 0.144 for blue, a typo that makes the weights sum to 1.03.)
"""

from __future__ import annotations

import functools
from typing import Callable, Sequence

import jax
import jax.numpy as jnp
import numpy as np

HOG_CELL = 8
HOG_ORIENTATIONS = 9
HOG_MAX_ANGLE = 180.0  # unsigned gradients
GRAY_WEIGHTS = (0.299, 0.587, 0.114)
HUE_BINS = 10
# Images per vectorised call of ``extract_features`` (bounds the memory of the batch).
FEATURE_BATCH = 1000


def rgb2gray(rgb):
  """(H, W, 3) -> (H, W) luma; a 2-d image, or a single channel, is returned as (H, W)."""
  rgb = jnp.asarray(rgb)
  if rgb.ndim == 2:
    return rgb
  if rgb.ndim != 3 or rgb.shape[-1] not in (1, 3):
    raise ValueError(f"rgb2gray: expected an (H, W), (H, W, 1) or (H, W, 3) image, got shape {rgb.shape}")
  if rgb.shape[-1] == 1:
    return rgb[..., 0]
  return rgb @ jnp.asarray(GRAY_WEIGHTS, dtype=rgb.dtype)


@functools.partial(jax.jit, static_argnames=("pixels_per_cell", "orientations"))
def hog_feature(im, pixels_per_cell: int = HOG_CELL, orientations: int = HOG_ORIENTATIONS):
  """HOG of one image (H, W[, C]) -> (H//cell * W//cell * orientations,) features.

  Rows and columns beyond the last whole cell are ignored.
  """
  image = rgb2gray(im)
  h, w = image.shape
  cells_y, cells_x = h // pixels_per_cell, w // pixels_per_cell
  if cells_y == 0 or cells_x == 0:
    raise ValueError(f"hog_feature: image {tuple(jnp.shape(im))} is smaller than one {pixels_per_cell}x{pixels_per_cell} cell")
  # Forward differences, zero in the last column / row (as the course's np.diff).
  gx = jnp.zeros_like(image).at[:, :-1].set(jnp.diff(image, axis=1))
  gy = jnp.zeros_like(image).at[:-1, :].set(jnp.diff(image, axis=0))
  magnitude = jnp.sqrt(gx * gx + gy * gy)
  angle = jnp.mod(jnp.degrees(jnp.arctan2(gy, gx)), HOG_MAX_ANGLE)  # [0, 180)
  bins = jnp.minimum((angle * orientations / HOG_MAX_ANGLE).astype(jnp.int32), orientations - 1)
  votes = jax.nn.one_hot(bins, orientations, dtype=image.dtype) * magnitude[..., None]  # (H, W, bins)
  votes = votes[: cells_y * pixels_per_cell, : cells_x * pixels_per_cell]
  cells = jnp.reshape(votes, (cells_y, pixels_per_cell, cells_x, pixels_per_cell, orientations))
  return jnp.mean(cells, axis=(1, 3)).ravel()


def rgb_to_hue(rgb):
  """The hue channel of ``matplotlib.colors.rgb_to_hsv`` for (..., 3) RGB values in [0, 1]."""
  r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
  v = jnp.max(rgb, axis=-1)
  delta = v - jnp.min(rgb, axis=-1)
  safe = jnp.where(delta > 0, delta, 1.0)
  hue = jnp.where(b == v, 4.0 + (r - g) / safe, jnp.where(g == v, 2.0 + (b - r) / safe, (g - b) / safe))
  return jnp.where(delta > 0, jnp.mod(hue / 6.0, 1.0), 0.0)


@functools.partial(jax.jit, static_argnames=("nbin", "xmin", "xmax", "normalized"))
def color_histogram_hsv(im, nbin: int = HUE_BINS, xmin: float = 0.0, xmax: float = 255.0, normalized: bool = True):
  """Histogram of hue for one (H, W, 3) image with pixel values in [xmin, xmax] -> (nbin,).

  Bins split [xmin, xmax] evenly (the last one includes xmax, as ``np.histogram``); ``normalized``
  makes the histogram sum to 1.
  """
  im = jnp.asarray(im)
  if im.ndim != 3 or im.shape[-1] != 3:
    raise ValueError(f"color_histogram_hsv: expected an (H, W, 3) RGB image, got shape {im.shape}")
  if not xmax > xmin:
    raise ValueError(f"color_histogram_hsv: need xmax > xmin, got xmin={xmin}, xmax={xmax}")
  hue = rgb_to_hue(im / xmax) * xmax
  position = (hue - xmin) / (xmax - xmin) * nbin
  inside = (hue >= xmin) & (hue <= xmax)
  index = jnp.clip(position.astype(jnp.int32), 0, nbin - 1)
  counts = jnp.sum(jax.nn.one_hot(index.ravel(), nbin, dtype=im.dtype) * inside.ravel()[:, None], axis=0)
  if normalized:
    counts = counts / jnp.maximum(jnp.sum(counts), 1.0)
  return counts


def extract_features(imgs, feature_fns: Sequence[Callable], verbose: bool = False) -> np.ndarray:
  """Apply every feature function to every image and concatenate: (N, H, W, C) -> (N, F_total).

  Each function maps one image to a 1-d feature vector; it is vmapped and jitted over batches of
  ``FEATURE_BATCH`` images.
  """
  imgs = np.asarray(imgs)
  if imgs.ndim not in (3, 4):
    raise ValueError(f"extract_features: imgs must be (N, H, W) or (N, H, W, C), got shape {imgs.shape}")
  if not feature_fns:
    raise ValueError("extract_features: give at least one feature function")
  batched = [jax.jit(jax.vmap(fn)) for fn in feature_fns]
  blocks = []
  for start in range(0, imgs.shape[0], FEATURE_BATCH):
    chunk = jnp.asarray(imgs[start:start + FEATURE_BATCH])
    parts = [np.asarray(fn(chunk)) for fn in batched]
    for fn, part in zip(feature_fns, parts):
      if part.ndim != 2:
        raise ValueError(f"extract_features: {getattr(fn, '__name__', fn)} must return a 1-d vector per image, got {part.shape[1:]}")
    blocks.append(np.concatenate(parts, axis=1))
    if verbose:
      print(f"Done extracting features for {min(start + FEATURE_BATCH, imgs.shape[0])} / {imgs.shape[0]} images")
  return np.concatenate(blocks, axis=0)
