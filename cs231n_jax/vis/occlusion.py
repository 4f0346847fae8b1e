"""Occlusion maps (Zeiler & Fergus 2014; lecture 13) and deletion curves.

- :func:`occlusion_map`: slide a ``patch`` x ``patch`` square of ``fill`` over the image with
  ``stride``; at each position the drop of the target class's probability, p(x) - p(x occluded),
  is the map's value there. Every occluded copy is built on the device and evaluated ``batch_size``
  at a time by ``lax.map``. The map has one value per position: ``((H - patch) // stride + 1)`` rows;
  :func:`upsample_to_pixels` spreads it back to pixels (each pixel the mean of the positions whose
  patch covers it).
- :func:`deletion_curve` (Petsiuk et al. 2018): replace pixels by ``fill`` in order of decreasing
  saliency, ``fractions`` of the image at a time, and record the target probability; a sharper
  attribution makes it fall faster (smaller area under the curve, :func:`curve_area`).
"""

from __future__ import annotations

from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np

ProbFn = Callable[[jax.Array], jax.Array]


def positions(size: int, patch: int, stride: int) -> np.ndarray:
  if not 1 <= patch <= size or stride < 1:
    raise ValueError(f"patch/stride: expected 1 <= patch <= {size} and stride >= 1, got patch {patch}, stride {stride}")
  return np.arange(0, size - patch + 1, stride)


def occlusion_map(prob_fn: ProbFn, image: jax.Array, label: int, patch: int, stride: int, fill: float | jax.Array = 0.0,
                  batch_size: int = 64) -> jax.Array:
  """(rows, cols) drops of p(label) when a square at each position is replaced by ``fill``."""
  h, w = image.shape[:2]
  ys, xs = positions(h, patch, stride), positions(w, patch, stride)
  grid = jnp.asarray(np.stack(np.meshgrid(ys, xs, indexing="ij"), -1).reshape(-1, 2))
  rows, cols = jnp.arange(h)[:, None], jnp.arange(w)[None, :]
  fill = jnp.broadcast_to(jnp.asarray(fill, image.dtype), image.shape)

  def occluded(yx):
    inside = (rows >= yx[0]) & (rows < yx[0] + patch) & (cols >= yx[1]) & (cols < yx[1] + patch)
    return jnp.where(inside[..., None], fill, image)

  def prob(yx_batch):
    return prob_fn(jax.vmap(occluded)(yx_batch))[:, label]

  n = grid.shape[0]
  pad = (-n) % batch_size
  padded = jnp.concatenate([grid, jnp.zeros((pad, 2), grid.dtype)]).reshape(-1, batch_size, 2)
  probs = jax.lax.map(prob, padded).reshape(-1)[:n]
  base = prob_fn(image[None])[0, label]
  return (base - probs).reshape(len(ys), len(xs))


def upsample_to_pixels(heat: jax.Array, size: tuple[int, int], patch: int, stride: int) -> jax.Array:
  """(H, W): each pixel the mean of the map's values over the patches that cover it (0 where none does)."""
  h, w = size
  ys, xs = positions(h, patch, stride), positions(w, patch, stride)
  cover_y = (np.arange(h)[:, None] >= ys[None]) & (np.arange(h)[:, None] < ys[None] + patch)  # (H, rows)
  cover_x = (np.arange(w)[:, None] >= xs[None]) & (np.arange(w)[:, None] < xs[None] + patch)  # (W, cols)
  total = jnp.asarray(cover_y, heat.dtype) @ heat @ jnp.asarray(cover_x.T, heat.dtype)
  count = cover_y.sum(1)[:, None] * cover_x.sum(1)[None, :]
  return total / jnp.maximum(jnp.asarray(count, heat.dtype), 1.0)


def deletion_curve(prob_fn: ProbFn, image: jax.Array, label: int, saliency: jax.Array, steps: int = 20,
                   fill: float | jax.Array = 0.0) -> tuple[np.ndarray, jax.Array]:
  """``(fractions, probabilities)``: p(label) after deleting the top ``fraction`` most salient pixels,
  for ``steps + 1`` fractions from 0 to 1 (ties broken by pixel index)."""
  h, w = image.shape[:2]
  order = jnp.argsort(-saliency.reshape(-1), stable=True)
  rank = jnp.zeros(h * w, jnp.int32).at[order].set(jnp.arange(h * w, dtype=jnp.int32)).reshape(h, w)
  fractions = np.linspace(0.0, 1.0, steps + 1)
  counts = jnp.asarray(np.round(fractions * h * w).astype(np.int32))
  fill = jnp.broadcast_to(jnp.asarray(fill, image.dtype), image.shape)
  batch = jax.vmap(lambda k: jnp.where((rank < k)[..., None], fill, image))(counts)
  return fractions, prob_fn(batch)[:, label]


def curve_area(fractions: np.ndarray, values: jax.Array) -> float:
  """The trapezoid area under a curve sampled at ``fractions``."""
  v = np.asarray(values)
  return float(np.sum((v[1:] + v[:-1]) * np.diff(fractions)) / 2.0)
