"""Texture synthesis (lecture 13 V23-V26): nearest-neighbour scanline synthesis that copies input
pixels (Efros & Leung 1999, Wei & Levoy 2000), and Gram-matrix synthesis from a network's features
(Gatys et al. 2015; the Gram and loss conventions are in :mod:`cs231n_jax.vis.style`).

The bundled textures (:func:`bundled_texture`) are scikit-image's ``brick``, ``grass`` and ``gravel``
(512x512 grey photographs), returned as RGB float images in [0, 1].
"""

from __future__ import annotations

import functools
from typing import Any, Mapping

import jax
import jax.numpy as jnp
import numpy as np

from cs231n_jax.vis.style import Features, adam, check_image, check_layers, gram_loss, gram_matrix, layer_weights, optimize_image

TEXTURES = ("brick", "grass", "gravel")


def bundled_texture(name: str, size: int | None = None, offset: tuple[int, int] = (0, 0)) -> np.ndarray:
  """scikit-image's texture ``name`` as an HWC float32 RGB image in [0, 1], cropped to ``size`` x
  ``size`` at ``offset`` (None: the whole 512x512 photograph)."""
  from skimage import data

  if name not in TEXTURES:
    raise ValueError(f"texture: expected one of {TEXTURES}, got {name!r}")
  grey = getattr(data, name)().astype(np.float32) / 255.0
  if size is not None:
    r, c = offset
    if r < 0 or c < 0 or r + size > grey.shape[0] or c + size > grey.shape[1]:
      raise ValueError(f"size: a {size}x{size} crop at {offset} does not fit the {grey.shape[0]}x{grey.shape[1]} texture")
    grey = grey[r:r + size, c:c + size]
  return np.repeat(grey[..., None], 3, axis=-1)


# ---------------------------------------------------------------------------------------------
# Nearest-neighbour synthesis.


def causal_offsets(radius: int) -> np.ndarray:
  """The ``(dy, dx)`` offsets of the already generated neighbours of a pixel in scanline order: the
  ``radius`` rows above (``2 radius + 1`` wide) and the ``radius`` pixels to its left."""
  above = [(dy, dx) for dy in range(-radius, 0) for dx in range(-radius, radius + 1)]
  left = [(0, dx) for dx in range(-radius, 0)]
  return np.asarray(above + left, np.int32)


def _input_neighbourhoods(texture: np.ndarray, radius: int) -> tuple[np.ndarray, np.ndarray]:
  """Every input position whose causal neighbourhood lies inside the input: its flat index and its
  neighbourhood's pixels, ``(P,)`` and ``(P, K * C)``."""
  h, w, _ = texture.shape
  offsets = causal_offsets(radius)
  ys, xs = np.meshgrid(np.arange(radius, h), np.arange(radius, w - radius), indexing="ij")
  ys, xs = ys.ravel(), xs.ravel()
  patches = texture[ys[:, None] + offsets[:, 0], xs[:, None] + offsets[:, 1]]  # (P, K, C)
  return ys * w + xs, patches.reshape(len(ys), -1)


def nearest_neighbour_texture(texture, out_shape: tuple[int, int], radius: int = 2, key: jax.Array | None = None
                              ) -> tuple[jax.Array, jax.Array]:
  """Scanline nearest-neighbour synthesis: the output canvas is bordered (``radius`` rows above,
  ``radius`` columns either side) by input pixels drawn at random; then each output pixel, in
  scanline order, copies the input pixel whose causal neighbourhood (:func:`causal_offsets`) is
  nearest in summed squared difference to the already generated one (ties: the lowest index).
  One ``lax.scan`` over the pixels. Returns ``(image (H, W, C), source (H, W))`` with
  ``image[i, j] == texture.reshape(-1, C)[source[i, j]]``."""
  texture = check_image(texture, "texture", min_size=2 * radius + 2)
  h, w = out_shape
  if h < 1 or w < 1:
    raise ValueError(f"out_shape: expected a positive (height, width), got {out_shape}")
  tex = np.asarray(texture)
  th, tw, c = tex.shape
  flat = jnp.asarray(tex.reshape(-1, c))
  candidates, patches = _input_neighbourhoods(tex, radius)
  candidates, patches = jnp.asarray(candidates), jnp.asarray(patches)
  offsets = jnp.asarray(causal_offsets(radius))
  key = jax.random.PRNGKey(0) if key is None else key
  ch, cw = h + radius, w + 2 * radius
  border = jax.random.randint(key, (ch, cw), 0, th * tw)  # random input pixels under the border
  canvas = flat[border]

  def step(canvas, index):
    i, j = index // w + radius, index % w + radius
    neighbourhood = canvas[i + offsets[:, 0], j + offsets[:, 1]].reshape(-1)
    d = jnp.sum((patches - neighbourhood) ** 2, axis=1)
    src = candidates[jnp.argmin(d)]
    return canvas.at[i, j].set(flat[src]), src

  canvas, sources = jax.jit(lambda cv: jax.lax.scan(step, cv, jnp.arange(h * w)))(canvas)
  return canvas[radius:, radius:radius + w], sources.reshape(h, w)


def nearest_neighbour_texture_reference(texture: np.ndarray, out_shape: tuple[int, int], radius: int,
                                        border: np.ndarray) -> np.ndarray:
  """The same algorithm as plain NumPy loops (for tests): ``border`` is the ``(H + r, W + 2 r)``
  array of input indices under the canvas. Returns the source indices ``(H, W)``."""
  th, tw, c = texture.shape
  flat = texture.reshape(-1, c)
  h, w = out_shape
  canvas = flat[border].copy()
  offsets = causal_offsets(radius)
  sources = np.zeros((h, w), np.int64)
  for i in range(h):
    for j in range(w):
      ci, cj = i + radius, j + radius
      mine = np.array([canvas[ci + dy, cj + dx] for dy, dx in offsets])
      best, best_d = -1, np.inf
      for y in range(radius, th):
        for x in range(radius, tw - radius):
          theirs = np.array([texture[y + dy, x + dx] for dy, dx in offsets])
          d = float(np.sum((theirs - mine) ** 2))
          if d < best_d:
            best, best_d = y * tw + x, d
      sources[i, j] = best
      canvas[ci, cj] = flat[best]
  return sources


# ---------------------------------------------------------------------------------------------
# Gram-matrix synthesis.


@functools.partial(jax.jit, static_argnames=("features", "layers", "num_steps", "schedule"))
def _gram_program(params, texture, x0, learning_rate, *, features, layers, num_steps, schedule):
  weights = dict(layers)
  feats = features(params, texture[None])
  grams = {name: gram_matrix(feats[name])[0] for name in weights}

  def loss_fn(x):
    return gram_loss(features(params, x), grams, weights)[0]

  x, losses = optimize_image(loss_fn, x0, adam(learning_rate, num_steps, schedule), num_steps)
  return x, losses, loss_fn(x0), loss_fn(x), grams


def gram_texture(features: Features, params, texture, layers: Mapping[str, float], out_shape: tuple[int, int],
                 num_steps: int = 300, learning_rate: float = 0.05, key: jax.Array | None = None,
                 schedule: str = "constant") -> dict[str, Any]:
  """Neural texture synthesis (V25, the 9 steps): record the texture's Grams at ``layers``
  (name -> weight ``w_l``), start from uniform noise, and minimise ``sum_l w_l E_l`` over the pixels
  with Adam (``schedule``: :func:`cs231n_jax.vis.style.adam`). Returns the image (HWC), the initial
  and final Gram loss, the loss curve and the texture's Grams; one compiled program per
  (features, layers, shapes, num_steps)."""
  texture = check_image(texture, "texture")
  pairs = layer_weights(layers, "layers")
  check_layers(features, params, texture, [n for n, _ in pairs])
  h, w = out_shape
  if h < 8 or w < 8 or num_steps < 1:
    raise ValueError(f"out_shape / num_steps: expected at least 8x8 and a positive count, got {out_shape} / {num_steps}")
  key = jax.random.PRNGKey(0) if key is None else key
  x0 = jax.random.uniform(key, (1, h, w, 3))
  x, losses, initial, final, grams = _gram_program(params, texture, x0, jnp.float32(learning_rate), features=features,
                                                   layers=pairs, num_steps=int(num_steps), schedule=schedule)
  return {"image": x[0], "initial_loss": float(initial), "loss": float(final), "losses": np.asarray(losses),
          "grams": grams}


@functools.partial(jax.jit, static_argnames=("features", "layers"))
def _texture_loss(params, image, grams, *, features, layers):
  return gram_loss(features(params, image[None]), grams, dict(layers))[0]


def texture_loss(features: Features, params, image, grams: Mapping[str, jax.Array], layers: Mapping[str, float]) -> float:
  """The Gram loss of ``image`` (HWC) against ``grams`` (e.g. an unrelated texture crop's loss)."""
  image = check_image(image, "image")
  return float(_texture_loss(params, image, dict(grams), features=features, layers=layer_weights(layers, "layers")))
