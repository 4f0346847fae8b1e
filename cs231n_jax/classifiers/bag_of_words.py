"""Bag of visual words (lecture 3, 004a:307, L2905-L2925; Fei-Fei & Perona 2005).

Step 1, the codebook: extract random patches from the training images and cluster them into
"visual words". The lecture leaves the clustering method unspecified; we use k-means (Lloyd's
algorithm, k-means++ seeding) on mean-removed, contrast-normalised patches. Step 2, the encoding:
every patch of an image (a dense stride-``stride`` grid) is assigned to its nearest word and the
image becomes the normalised histogram of its words. A linear classifier on the histograms then
replaces the one on raw pixels.

Lloyd's iterations are one jitted ``lax.scan`` (a whole-run program: clustering is not trained by
gradient descent, so it is no engine run).
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

EPS = 1e-8


def extract_patches(images, size: int, stride: int = 1):
  """All ``size``x``size`` patches of NHWC images on a stride grid: (N, P, size*size*C)."""
  images = np.asarray(images)
  if images.ndim != 4:
    raise ValueError(f"bag_of_words.extract_patches: images must be NHWC, got shape {images.shape}")
  N, H, W, C = images.shape
  if not 0 < size <= min(H, W) or stride <= 0:
    raise ValueError(f"bag_of_words.patch_size: need 0 < size <= {min(H, W)} and stride > 0, got {size}, {stride}")
  rows = range(0, H - size + 1, stride)
  cols = range(0, W - size + 1, stride)
  patches = [images[:, i:i + size, j:j + size, :].reshape(N, -1) for i in rows for j in cols]
  return np.stack(patches, axis=1)


def normalise(patches):
  """Remove each patch's mean and divide by its norm (plus a floor), so words encode shape, not
  brightness."""
  patches = jnp.asarray(patches)
  centred = patches - patches.mean(axis=-1, keepdims=True)
  return centred / jnp.sqrt(jnp.sum(centred**2, axis=-1, keepdims=True) + 0.1)


def random_patches(key, images, size: int, num: int):
  """``num`` patches at uniformly random images and positions: (num, size*size*C)."""
  patches = extract_patches(images, size)
  flat = patches.reshape(-1, patches.shape[-1])
  idx = jax.random.choice(key, flat.shape[0], (num,), replace=flat.shape[0] < num)
  return flat[np.asarray(idx)]


def squared_distances(X, centres):
  """‖x − c‖² for every row and centre, (N, K), through the expansion x² − 2xc + c²."""
  return (jnp.sum(X**2, -1, keepdims=True) - 2 * X @ centres.T + jnp.sum(centres**2, -1)[None, :]).clip(0)


def kmeans_plus_plus(key, X, k: int):
  """k-means++ seeding: each next centre drawn with probability ∝ the squared distance to the
  nearest centre so far."""
  X = jnp.asarray(X)
  keys = jax.random.split(key, k)
  first = X[jax.random.randint(keys[0], (), 0, X.shape[0])]
  centres = jnp.zeros((k, X.shape[1]), X.dtype).at[0].set(first)

  def body(i, centres):
    d2 = squared_distances(X, centres)
    d2 = jnp.where(jnp.arange(k)[None, :] < i, d2, jnp.inf).min(axis=1)
    nxt = jax.random.choice(keys[i], X.shape[0], p=d2 / d2.sum())
    return centres.at[i].set(X[nxt])

  return jax.lax.fori_loop(1, k, body, centres)


@functools.partial(jax.jit, static_argnames=("k", "num_iters"))
def kmeans(key, X, k: int, num_iters: int = 30):
  """Lloyd's algorithm from k-means++ seeds. Returns (centres (k, D), inertia after each iteration).
  An empty cluster keeps its previous centre."""
  X = jnp.asarray(X)
  centres = kmeans_plus_plus(key, X, k)

  def step(centres, _):
    d2 = squared_distances(X, centres)
    assign = jnp.argmin(d2, axis=1)
    onehot = jax.nn.one_hot(assign, k, dtype=X.dtype)
    counts = onehot.sum(0)
    sums = onehot.T @ X
    new = jnp.where(counts[:, None] > 0, sums / jnp.maximum(counts, 1)[:, None], centres)
    return new, jnp.min(d2, axis=1).sum()

  return jax.lax.scan(step, centres, None, length=num_iters)


def assign(X, centres):
  """The nearest centre of every row."""
  return jnp.argmin(squared_distances(jnp.asarray(X), centres), axis=1)


def histograms(images, centres, size: int, stride: int = 1):
  """Each image's normalised histogram of visual words, (N, k); rows sum to 1."""
  patches = extract_patches(images, size, stride)
  N, P, D = patches.shape
  words = assign(normalise(patches.reshape(N * P, D)), centres).reshape(N, P)
  counts = jax.vmap(lambda w: jnp.bincount(w, length=centres.shape[0]))(words)
  return counts / P
