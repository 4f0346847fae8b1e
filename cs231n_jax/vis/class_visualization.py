"""Class visualization by gradient ascent on the image (lecture 13, V12-V14; Simonyan et al. 2014,
Yosinski et al. 2015), as one jitted ``lax.scan`` with an optax optimizer.

The objective is the lecture's: ``argmax_I S_c(I) - l2_reg * ||I||^2`` with ``S_c`` the class's
UNNORMALISED score, starting from zeros (or a given image). ``objective="log_softmax"`` ascends
``log p_c(I)`` instead (``S_c`` minus the log-sum-exp of all scores): the lecture's score can also rise
by raising a rival class's score with it, so its maximiser need not be the image the network is most
sure of (on the digits CNN, class 9's score maximiser in the pixel box scores 17.7 for 9 and 14.9 for 3:
p(9) = 0.94; the log-softmax ascent reaches p >= 0.9996 for every class, docs/results.md). The "better regulariser" options of the
lecture, each off by default and each applied periodically:

- ``blur_every`` / ``blur_sigma``: every ``blur_every`` steps a Gaussian blur of the image
  (:func:`gaussian_blur`, separable, symmetric padding: scipy.ndimage.gaussian_filter's default);
- ``value_clip_percentile``: pixels whose norm over channels is below that percentile of the
  image's pixel norms are set to 0 ("clip pixels with small values to 0");
- ``grad_clip_percentile``: pixels whose gradient norm is below that percentile are set to 0
  ("clip pixels with small gradients to 0");
- ``jitter``: the image is rolled by a random offset of up to ``jitter`` pixels before the gradient
  is taken and rolled back after the update (as in the DeepDream code).

``value_range`` clips the pixels after every step (the network's input domain).
"""

from __future__ import annotations

import dataclasses
from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np
import optax

LogitsFn = Callable[[jax.Array], jax.Array]
OBJECTIVES = ("score", "log_softmax")


@dataclasses.dataclass(frozen=True)
class ClassVisConfig:
  steps: int = 200
  learning_rate: float = 0.1
  optimizer: str = "adam"  # "adam" or "sgd"
  objective: str = "score"  # "score" (the lecture's unnormalised S_c) or "log_softmax" (log p_c)
  l2_reg: float = 1e-3
  blur_every: int = 0  # 0: never
  blur_sigma: float = 0.5
  value_clip_percentile: float = 0.0  # 0: off
  grad_clip_percentile: float = 0.0  # 0: off
  jitter: int = 0
  value_range: tuple[float, float] = (0.0, 1.0)

  def __post_init__(self):
    if self.steps < 1 or self.learning_rate <= 0:
      raise ValueError(f"steps / learning_rate: expected >= 1 and > 0, got {self.steps}, {self.learning_rate}")
    if self.optimizer not in ("adam", "sgd"):
      raise ValueError(f"optimizer: expected 'adam' or 'sgd', got {self.optimizer!r}")
    if self.objective not in OBJECTIVES:
      raise ValueError(f"objective: expected one of {OBJECTIVES}, got {self.objective!r}")
    for field in ("value_clip_percentile", "grad_clip_percentile"):
      if not 0.0 <= getattr(self, field) < 100.0:
        raise ValueError(f"{field}: expected a percentile in [0, 100), got {getattr(self, field)}")


def gaussian_kernel(sigma: float, truncate: float = 4.0) -> np.ndarray:
  """scipy.ndimage's 1-D Gaussian: radius ``int(truncate * sigma + 0.5)``, normalised to sum 1."""
  radius = int(truncate * sigma + 0.5)
  x = np.arange(-radius, radius + 1, dtype=np.float64)
  k = np.exp(-0.5 * (x / sigma) ** 2)
  return (k / k.sum()).astype(np.float32)


def gaussian_blur(images: jax.Array, sigma: float) -> jax.Array:
  """Blur each channel of NHWC ``images`` along H and W (symmetric padding = scipy's 'reflect')."""
  k = jnp.asarray(gaussian_kernel(sigma), images.dtype)
  r = (k.shape[0] - 1) // 2
  x = jnp.pad(images, ((0, 0), (r, r), (r, r), (0, 0)), mode="symmetric")
  h, w = images.shape[1:3]
  x = sum(k[i] * x[:, i:i + h, :, :] for i in range(k.shape[0]))
  return sum(k[i] * x[:, :, i:i + w, :] for i in range(k.shape[0]))


def _pixel_norm(x: jax.Array) -> jax.Array:
  return jnp.sqrt(jnp.sum(x * x, axis=-1))


def _zero_below_percentile(images: jax.Array, score: jax.Array, percentile: float) -> jax.Array:
  """Set the pixels whose ``score`` (N, H, W) is below that image's ``percentile`` to 0."""
  cut = jnp.percentile(score.reshape(score.shape[0], -1), percentile, axis=1)[:, None, None]
  return jnp.where((score < cut)[..., None], 0.0, images)


def visualize_class(logits_fn: LogitsFn, targets: jax.Array, shape: tuple[int, ...], config: ClassVisConfig = ClassVisConfig(),
                    key: jax.Array | None = None, init: jax.Array | None = None) -> tuple[jax.Array, jax.Array]:
  """``(images, objective per step)``: one image per target class, shape ``(len(targets), *shape)``.

  The objective history is ``S_c - l2_reg ||I||^2`` (``log p_c - ...`` with ``objective="log_softmax"``)
  summed over the batch, before each step.
  """
  c = config
  images = jnp.zeros((targets.shape[0], *shape), jnp.float32) if init is None else init
  key = jax.random.PRNGKey(0) if key is None else key
  tx = optax.adam(c.learning_rate) if c.optimizer == "adam" else optax.sgd(c.learning_rate)

  def objective(x):
    logits = logits_fn(x)
    if c.objective == "log_softmax":
      logits = jax.nn.log_softmax(logits, axis=-1)
    scores = jnp.take_along_axis(logits, targets[:, None], axis=1)[:, 0]
    return jnp.sum(scores) - c.l2_reg * jnp.sum(x * x)

  def step(carry, inputs):
    x, opt_state = carry
    t, k = inputs
    shift = jax.random.randint(k, (2,), -c.jitter, c.jitter + 1) if c.jitter else jnp.zeros(2, jnp.int32)
    rolled = jnp.roll(x, (shift[0], shift[1]), axis=(1, 2))
    value, grad = jax.value_and_grad(objective)(rolled)
    updates, opt_state = tx.update(jax.tree.map(jnp.negative, grad), opt_state, rolled)
    rolled = optax.apply_updates(rolled, updates)
    if c.grad_clip_percentile:
      rolled = _zero_below_percentile(rolled, _pixel_norm(grad), c.grad_clip_percentile)
    x = jnp.roll(rolled, (-shift[0], -shift[1]), axis=(1, 2))
    if c.blur_every:
      x = jax.lax.cond(t % c.blur_every == c.blur_every - 1, lambda z: gaussian_blur(z, c.blur_sigma), lambda z: z, x)
    if c.value_clip_percentile:
      x = _zero_below_percentile(x, _pixel_norm(x), c.value_clip_percentile)
    x = jnp.clip(x, *c.value_range)
    return (x, opt_state), value

  (images, _), history = jax.lax.scan(step, (images, tx.init(images)), (jnp.arange(c.steps), jax.random.split(key, c.steps)))
  return images, history
