"""What every autoregressive pixel model shares: the exact likelihood and the sequential sampler.

The lecture's fully visible belief network (2017 lecture, seed @8237):
``p(x) = prod_i p(x_i | x_1, ..., x_{i-1})`` over pixels in raster order from the top-left corner.
A pixel model here is a Flax module with fields ``num_levels`` and ``image_shape = (H, W, C)`` whose
``apply(variables, images)`` maps integer images ``(N, H, W, C)`` in ``0..L-1`` to logits
``(N, H, W, C, L)``: a categorical distribution (softmax over the intensity levels — 256 in the
lecture, 17 for the 8x8 digits, 2 binarised) for every pixel given the pixels before it.

- **Training is parallel** (teacher forcing): one forward pass gives all ``H W C`` conditionals of a
  training image, so the loss is a per-pixel softmax cross-entropy — exactly ``-log p(x)``.
- **Sampling is sequential**: ``H W C`` network evaluations, each producing one pixel given the ones
  already generated (:func:`sample`, one jitted ``lax.scan``) — the lecture's "generation is still
  slow" (@14268). The first pixel can come from the model, uniformly, or from the training data's
  marginal (@14816).
- :func:`all_images` enumerates every image of a tiny shape, so tests can check
  ``sum_x p(x) = 1`` exactly.
"""

from __future__ import annotations

import functools
import itertools
import math

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from cs231n_jax.generative.data import check_levels, nats_to_bits_per_dim

FIRST_PIXEL_MODES = ("model", "uniform", "empirical")
DEFAULT_EVAL_BATCH = 512


def embed_levels(images: jax.Array, num_levels: int) -> jax.Array:
  """Integer levels to floats in [-1, 1], the network's input."""
  return 2.0 * images.astype(jnp.float32) / (num_levels - 1) - 1.0


def check_input_shape(model: nn.Module, images: jax.Array) -> None:
  """A one-line error when ``images`` is not ``(N, H, W, C)`` of the shape the model was built for."""
  want = tuple(model.image_shape)
  got = tuple(images.shape)
  if len(got) != 4 or got[1:] != want:
    raise ValueError(f"images: {type(model).__name__} was built for (N, {', '.join(map(str, want))}), got {got}")


def logits_to_output(logits: jax.Array, image_shape, num_levels: int) -> jax.Array:
  """``(N, H, W, C * L)`` channel-grouped logits to ``(N, H, W, C, L)`` (group c = colour c)."""
  n, h, w, _ = logits.shape
  return logits.reshape(n, h, w, image_shape[-1], num_levels)


def pixel_log_probs(logits: jax.Array, images: jax.Array) -> jax.Array:
  """``log p(x_i | x_<i)`` for every pixel: ``(N, H, W, C)``."""
  log_p = jax.nn.log_softmax(logits, axis=-1)
  return jnp.take_along_axis(log_p, images[..., None].astype(jnp.int32), axis=-1)[..., 0]


def log_prob_from_logits(logits: jax.Array, images: jax.Array) -> jax.Array:
  """``log p(x)`` in nats per image, ``(N,)``: the sum of the per-pixel conditionals."""
  return pixel_log_probs(logits, images).sum(axis=(1, 2, 3))


@functools.partial(jax.jit, static_argnums=0)
def _log_prob(model: nn.Module, variables, images: jax.Array) -> jax.Array:
  return log_prob_from_logits(model.apply(variables, images), images)


def log_prob(model: nn.Module, variables, images, batch_size: int = DEFAULT_EVAL_BATCH) -> np.ndarray:
  """Exact ``log p(x)`` in nats for each image (validated: levels and shape), ``(N,)``."""
  check_levels(images, model.num_levels, model.image_shape)
  images = np.asarray(images, np.int32)
  out = [np.asarray(_log_prob(model, variables, images[i:i + batch_size]))
         for i in range(0, len(images), batch_size)]
  return np.concatenate(out) if out else np.zeros((0,), np.float32)


def nll_report(model: nn.Module, variables, images, batch_size: int = DEFAULT_EVAL_BATCH) -> dict[str, float]:
  """Mean negative log-likelihood in nats per image and bits per dimension."""
  nats = float(-log_prob(model, variables, images, batch_size).mean())
  return {"nats": nats, "bits_per_dim": float(nats_to_bits_per_dim(nats, int(np.prod(model.image_shape))))}


def raster_positions(image_shape) -> np.ndarray:
  """``(H W C, 3)`` positions ``(row, col, channel)`` in generation order."""
  h, w, c = image_shape
  return np.array(list(itertools.product(range(h), range(w), range(c))), np.int32)


def num_sampling_steps(model: nn.Module) -> int:
  """Sequential network evaluations per sample: one per pixel and channel, ``H W C``."""
  return int(np.prod(model.image_shape))


def _first_pixel_logits(mode: str, num_levels: int, probs) -> jax.Array | None:
  if mode == "model":
    return None
  if mode == "uniform":
    return jnp.zeros((num_levels,))
  probs = jnp.asarray(probs, jnp.float32)
  return jnp.log(jnp.clip(probs, 1e-30, None))


@functools.partial(jax.jit, static_argnums=(0, 3, 4))
def _sample(model: nn.Module, variables, key: jax.Array, num_samples: int, first_pixel: str,
            first_pixel_probs: jax.Array) -> jax.Array:
  h, w, c = model.image_shape
  positions = jnp.asarray(raster_positions(model.image_shape))
  first_logits = _first_pixel_logits(first_pixel, model.num_levels, first_pixel_probs)

  def step(images, inputs):
    t, (row, col, ch) = inputs
    # The whole network runs on the partly generated images; only the conditional of the pixel at
    # position t is used. Pixels after t are still zero and, by causality, cannot affect it.
    logits = model.apply(variables, images)[:, row, col, ch]
    if first_logits is not None:
      logits = jnp.where(t == 0, jnp.broadcast_to(first_logits, logits.shape), logits)
    values = jax.random.categorical(jax.random.fold_in(key, t), logits, axis=-1).astype(jnp.int32)
    return images.at[:, row, col, ch].set(values), None

  images = jnp.zeros((num_samples, h, w, c), jnp.int32)
  steps = jnp.arange(h * w * c)
  images, _ = jax.lax.scan(step, images, (steps, (positions[:, 0], positions[:, 1], positions[:, 2])))
  return images


def sample(model: nn.Module, variables, key: jax.Array, num_samples: int, shape=None,
           first_pixel: str = "model", first_pixel_probs=None) -> jax.Array:
  """``num_samples`` images drawn pixel by pixel in raster order, ``(N, H, W, C)`` int32.

  One jitted program: a ``lax.scan`` of length ``H W C`` (:func:`num_sampling_steps`), each step a
  full forward pass. ``shape`` (optional, ``(H, W, C)``) must be the shape the model was built for.
  ``first_pixel``: ``"model"`` (the network's own p(x_1)), ``"uniform"``, or ``"empirical"`` with
  ``first_pixel_probs`` (L,) — e.g. the training data's marginal of the first pixel.
  """
  if shape is not None and tuple(shape) != tuple(model.image_shape):
    raise ValueError(f"shape: {type(model).__name__} was built for {tuple(model.image_shape)}, got {tuple(shape)}")
  if first_pixel not in FIRST_PIXEL_MODES:
    raise ValueError(f"first_pixel: expected one of {FIRST_PIXEL_MODES}, got {first_pixel!r}")
  if num_samples < 1:
    raise ValueError(f"num_samples: expected at least 1, got {num_samples}")
  if first_pixel == "empirical":
    if first_pixel_probs is None or np.shape(first_pixel_probs) != (model.num_levels,):
      raise ValueError(f"first_pixel_probs: expected shape ({model.num_levels},) for first_pixel='empirical', "
                       f"got {None if first_pixel_probs is None else np.shape(first_pixel_probs)}")
  probs = jnp.zeros((model.num_levels,)) if first_pixel_probs is None else jnp.asarray(first_pixel_probs)
  return _sample(model, variables, key, int(num_samples), first_pixel, probs)


def first_pixel_marginal(images, num_levels: int, smoothing: float = 0.5) -> np.ndarray:
  """The training data's distribution of the first pixel (add-``smoothing`` counts), ``(L,)``."""
  values = np.asarray(images).reshape(len(images), -1)[:, 0]
  counts = np.bincount(values, minlength=num_levels) + smoothing
  return counts / counts.sum()


def all_images(image_shape, num_levels: int) -> np.ndarray:
  """Every image of ``image_shape`` with ``num_levels`` levels: ``(L ** (H W C), H, W, C)``.

  3x3 binary: 512 images. Used to check that a model's probabilities sum to exactly one."""
  d = int(np.prod(image_shape))
  if num_levels ** d > 2 ** 20:
    raise ValueError(f"image_shape: {num_levels}**{d} images are too many to enumerate")
  grid = np.array(list(itertools.product(range(num_levels), repeat=d)), np.int32)
  return grid.reshape((-1, *image_shape))


def total_probability(model: nn.Module, variables) -> float:
  """``sum_x p(x)`` over every image of the model's (tiny) shape; 1 for a normalised model."""
  images = all_images(model.image_shape, model.num_levels)
  lp = log_prob(model, variables, images)
  return float(np.exp(np.logaddexp.reduce(lp.astype(np.float64))))


def bits_per_dim(nats, image_shape) -> float:
  return float(nats_to_bits_per_dim(nats, int(np.prod(image_shape))))


def log_uniform_nats(image_shape, num_levels: int) -> float:
  """The NLL of the uniform model, ``D log L``: the worst a trained model should ever do."""
  return int(np.prod(image_shape)) * math.log(num_levels)


def init_pixel_model(model: nn.Module, seed: int):
  """The parameters of a pixel model built for ``model.image_shape``, initialised from ``key(seed)``."""
  example = jnp.zeros((1, *model.image_shape), jnp.int32)
  return jax.jit(model.init)(jax.random.key(seed), example)["params"]


def nll_loss_fn(model: nn.Module):
  """Mean ``-log p(x)`` (nats per image) over a batch: the teacher-forced, all-pixels-parallel loss."""

  def loss_fn(params, batch, key):
    logits = model.apply({"params": params}, batch, train=True, rngs={"dropout": key})
    nll = -log_prob_from_logits(logits, batch).mean()
    return nll, {}

  return loss_fn
