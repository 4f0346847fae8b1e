"""Adversarial examples (lecture 13; Szegedy et al. 2014, Goodfellow et al. 2015, Madry et al. 2018).

Pure functions of ``logits_fn(images) -> logits`` on NHWC images in [0, 1]; every iterative attack
is one ``lax.scan`` (wrap the call in ``jax.jit``):

- :func:`fool`: the lecture's "any image, any target class": gradient ascent on the target's
  unnormalised score with L2-normalised steps ``lr * g / ||g||``, each image frozen as soon as the
  network predicts the target (the smallest change that fools it along that path).
- :func:`fgsm`: one step of ``epsilon * sign(grad)`` (untargeted: up the true label's loss;
  targeted: down the target's loss), clipped to [0, 1].
- :func:`pgd`: projected gradient descent in an L-inf or L2 ball of radius ``epsilon``: sign (L-inf)
  or L2-normalised (L2) steps of ``step_size``, projection onto the ball and onto [0, 1] after each,
  optionally from a uniform random start in the ball; with ``stop_on_success`` each image keeps the
  first iterate that succeeds (targeted: predicted as the target; untargeted: not the label).
- :func:`perturbation_norms`: L-inf and L2 sizes of the change, per image.
"""

from __future__ import annotations

from typing import Callable

import jax
import jax.numpy as jnp
import optax

LogitsFn = Callable[[jax.Array], jax.Array]
NORMS = ("linf", "l2")
TINY = 1e-12


def _per_image_l2(x: jax.Array) -> jax.Array:
  return jnp.sqrt(jnp.sum(x * x, axis=tuple(range(1, x.ndim)), keepdims=True))


def cross_entropy(logits: jax.Array, labels: jax.Array) -> jax.Array:
  return optax.softmax_cross_entropy_with_integer_labels(logits, labels)


def _succeeded(logits: jax.Array, labels: jax.Array, targeted: bool) -> jax.Array:
  pred = jnp.argmax(logits, axis=-1)
  return pred == labels if targeted else pred != labels


def fool(logits_fn: LogitsFn, images: jax.Array, targets: jax.Array, lr: float = 1.0 / 255,
         steps: int = 100) -> tuple[jax.Array, jax.Array]:
  """``(fooled images, success)``: ascend the target score by ``lr``-long L2-normalised steps until
  each image is classified as its target (or ``steps`` run out). Pixels stay in [0, 1]."""

  def score(x):
    return jnp.sum(jnp.take_along_axis(logits_fn(x), targets[:, None], axis=1))

  def body(carry, _):
    x, done = carry
    grad = jax.grad(score)(x)
    step = lr * grad / (_per_image_l2(grad) + TINY)
    moved = jnp.clip(x + step, 0.0, 1.0)
    x = jnp.where(done[:, None, None, None], x, moved)
    done = done | _succeeded(logits_fn(x), targets, True)
    return (x, done), None

  done0 = _succeeded(logits_fn(images), targets, True)
  (x, done), _ = jax.lax.scan(body, (images, done0), None, length=steps)
  return x, done


def fgsm(logits_fn: LogitsFn, images: jax.Array, labels: jax.Array, epsilon: float, targeted: bool = False) -> jax.Array:
  """The fast gradient sign method: one L-inf step of size ``epsilon``, clipped to [0, 1]."""
  grad = jax.grad(lambda x: jnp.sum(cross_entropy(logits_fn(x), labels)))(images)
  direction = -jnp.sign(grad) if targeted else jnp.sign(grad)
  return jnp.clip(images + epsilon * direction, 0.0, 1.0)


def project(delta: jax.Array, epsilon: float, norm: str) -> jax.Array:
  """The nearest point of the ``norm`` ball of radius ``epsilon`` (per image)."""
  if norm == "linf":
    return jnp.clip(delta, -epsilon, epsilon)
  if norm == "l2":
    return delta * jnp.minimum(1.0, epsilon / (_per_image_l2(delta) + TINY))
  raise ValueError(f"norm: expected one of {NORMS}, got {norm!r}")


def pgd(logits_fn: LogitsFn, images: jax.Array, labels: jax.Array, epsilon: float, step_size: float, steps: int,
        norm: str = "linf", targeted: bool = False, key: jax.Array | None = None, stop_on_success: bool = False,
        ) -> tuple[jax.Array, jax.Array]:
  """``(adversarial images, success)``; ``labels`` are the targets when ``targeted``, else the true labels.

  ``key`` gives a random start uniform in the L-inf ball (for L2: a Gaussian direction scaled into the
  ball); without it the attack starts at the image.
  """
  if norm not in NORMS:
    raise ValueError(f"norm: expected one of {NORMS}, got {norm!r}")
  if epsilon < 0 or step_size <= 0 or steps < 1:
    raise ValueError(f"epsilon / step_size / steps: expected >= 0, > 0, >= 1, got {epsilon}, {step_size}, {steps}")
  sign = -1.0 if targeted else 1.0
  if key is None:
    delta0 = jnp.zeros_like(images)
  elif norm == "linf":
    delta0 = jax.random.uniform(key, images.shape, images.dtype, -epsilon, epsilon)
  else:
    g = jax.random.normal(key, images.shape, images.dtype)
    radius = jax.random.uniform(jax.random.fold_in(key, 1), (images.shape[0],) + (1,) * (images.ndim - 1))
    delta0 = g / (_per_image_l2(g) + TINY) * epsilon * radius
  x0 = jnp.clip(images + delta0, 0.0, 1.0)

  def loss(x):
    return jnp.sum(cross_entropy(logits_fn(x), labels))

  def body(carry, _):
    x, done = carry
    grad = jax.grad(loss)(x)
    step = jnp.sign(grad) if norm == "linf" else grad / (_per_image_l2(grad) + TINY)
    moved = jnp.clip(images + project(x + sign * step_size * step - images, epsilon, norm), 0.0, 1.0)
    if stop_on_success:
      moved = jnp.where(done[:, None, None, None], x, moved)
      done = done | _succeeded(logits_fn(moved), labels, targeted)
    return (moved, done), None

  done0 = _succeeded(logits_fn(x0), labels, targeted) if stop_on_success else jnp.zeros(images.shape[0], bool)
  (x, _), _ = jax.lax.scan(body, (x0, done0), None, length=steps)
  return x, _succeeded(logits_fn(x), labels, targeted)


def perturbation_norms(adversarial: jax.Array, images: jax.Array) -> tuple[jax.Array, jax.Array]:
  """Per image: the L-inf and the L2 norm of ``adversarial - images``."""
  d = (adversarial - images).reshape(images.shape[0], -1)
  return jnp.max(jnp.abs(d), axis=1), jnp.sqrt(jnp.sum(d * d, axis=1))
