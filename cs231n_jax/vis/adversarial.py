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
  ``step_size`` is a number or a schedule (a function of the step index 0, 1, ..., e.g. an optax
  schedule). :func:`pgd_trace` also returns the step at which each image first succeeded.
- :func:`perturbation_norms`: L-inf and L2 sizes of the change, per image.
"""

from __future__ import annotations

from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np
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


def pgd(logits_fn: LogitsFn, images: jax.Array, labels: jax.Array, epsilon: float, step_size: float | Callable, steps: int,
        norm: str = "linf", targeted: bool = False, key: jax.Array | None = None, stop_on_success: bool = False,
        ) -> tuple[jax.Array, jax.Array]:
  """``(adversarial images, success)``; ``labels`` are the targets when ``targeted``, else the true labels.

  ``key`` gives a random start uniform in the L-inf ball (for L2: a Gaussian direction scaled into the
  ball); without it the attack starts at the image. ``step_size``: a number, or a schedule ``i -> size``
  evaluated at the step index ``i = 0 .. steps - 1``.
  """
  x, success, _ = _pgd(logits_fn, images, labels, epsilon, step_size, steps, norm, targeted, key, stop_on_success,
                       trace=False)
  return x, success


def pgd_trace(logits_fn: LogitsFn, images: jax.Array, labels: jax.Array, epsilon: float, step_size: float | Callable,
              steps: int, norm: str = "linf", targeted: bool = False, key: jax.Array | None = None,
              stop_on_success: bool = False) -> tuple[jax.Array, jax.Array, jax.Array]:
  """:func:`pgd` that also returns, per image, the number of steps after which it first succeeded
  (0: already at the start; -1: never during the run)."""
  return _pgd(logits_fn, images, labels, epsilon, step_size, steps, norm, targeted, key, stop_on_success, trace=True)


def pgd_continue(logits_fn: LogitsFn, x: jax.Array, images: jax.Array, labels: jax.Array, step_index: jax.Array,
                 epsilon: float, step_size: float | Callable, steps: int, norm: str = "linf", targeted: bool = False,
                 ) -> tuple[jax.Array, jax.Array, jax.Array]:
  """``steps`` more steps of :func:`pgd` with ``stop_on_success`` from the iterates ``x`` of the attacks on
  ``images``, image ``n`` at its own step index ``step_index[n]`` (what the schedule is evaluated at).
  ``(x, success, first)``: ``first`` is the overall step count at which the image first succeeded (its
  ``step_index`` if it already had), -1 if not yet. Equal to one :func:`pgd_trace` run of the summed length."""
  return _pgd(logits_fn, images, labels, epsilon, step_size, steps, norm, targeted, None, True, trace=True,
              x0=x, step0=jnp.asarray(step_index, jnp.int32))


def pgd_until_success(chunk_fn: Callable, images: np.ndarray, labels: np.ndarray, steps: int, chunk: int, batch: int,
                      ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
  """Targeted / untargeted PGD with ``stop_on_success`` for many images, ``batch`` at a time, dropping each
  image as soon as it succeeds (its iterate is frozen then anyway) so that the work goes to the unfinished
  ones (in rounds: every unfinished attack advances ``chunk`` steps per round).
  ``chunk_fn(x, images, labels, step_index)`` is a jitted :func:`pgd_continue` of ``chunk`` steps
  (one compilation: every call has ``batch`` rows, a short last batch padded by repeating rows).
  Returns ``(x, success, first)`` as :func:`pgd_trace` with ``stop_on_success`` would, for all images."""
  if steps % chunk:
    raise ValueError(f"steps: expected a multiple of chunk={chunk}, got {steps}")
  images = np.asarray(images)
  labels = np.asarray(labels)
  x = images.copy()
  index = np.zeros(len(images), np.int32)
  done = np.zeros(len(images), bool)
  first = np.full(len(images), -1, np.int32)
  while True:
    active = np.flatnonzero(~done & (index < steps))
    if not active.size:
      return x, done, first
    for start in range(0, active.size, batch):  # a round: every unfinished attack advances one chunk
      rows = active[start:start + batch]
      padded = np.resize(rows, batch)
      xb, ok, fb = chunk_fn(x[padded], images[padded], labels[padded], index[padded])
      n = len(rows)
      x[rows] = np.asarray(xb)[:n]
      done[rows] = np.asarray(ok)[:n]
      first[rows] = np.asarray(fb)[:n]
      index[rows] += chunk


def piecewise_step_size(step_size: float, boundaries_and_scales: tuple = ()) -> Callable:
  """A step-size schedule ``i -> step_size * (product of the scales whose boundary is <= i)``, for a step
  index or an array of them: ``optax.piecewise_constant_schedule`` (scales given twice for one boundary
  multiply)."""
  scales = {}
  for boundary, scale in boundaries_and_scales:
    if boundary < 1 or scale <= 0:
      raise ValueError(f"boundaries_and_scales: expected (step >= 1, scale > 0) pairs, got {(boundary, scale)}")
    scales[int(boundary)] = scales.get(int(boundary), 1.0) * scale
  return optax.piecewise_constant_schedule(step_size, scales)


def _pgd(logits_fn, images, labels, epsilon, step_size, steps, norm, targeted, key, stop_on_success, trace, x0=None,
         step0=None):
  if norm not in NORMS:
    raise ValueError(f"norm: expected one of {NORMS}, got {norm!r}")
  if epsilon < 0 or steps < 1 or (not callable(step_size) and step_size <= 0):
    raise ValueError(f"epsilon / step_size / steps: expected >= 0, > 0, >= 1, got {epsilon}, {step_size}, {steps}")
  batch = images.shape[0]
  expand = (batch,) + (1,) * (images.ndim - 1)
  step0 = jnp.zeros(batch, jnp.int32) if step0 is None else step0
  size_at = (lambda i: jnp.broadcast_to(step_size(i), (batch,)).reshape(expand)) if callable(step_size) else (lambda i: step_size)
  sign = -1.0 if targeted else 1.0
  if x0 is None:
    if key is None:
      delta0 = jnp.zeros_like(images)
    elif norm == "linf":
      delta0 = jax.random.uniform(key, images.shape, images.dtype, -epsilon, epsilon)
    else:
      g = jax.random.normal(key, images.shape, images.dtype)
      radius = jax.random.uniform(jax.random.fold_in(key, 1), expand)
      delta0 = g / (_per_image_l2(g) + TINY) * epsilon * radius
    x0 = jnp.clip(images + delta0, 0.0, 1.0)

  def loss(x):
    logits = logits_fn(x)
    return jnp.sum(cross_entropy(logits, labels)), logits

  def body(carry, i):
    x, done, first = carry
    grad, logits = jax.grad(loss, has_aux=True)(x)
    if stop_on_success or trace:  # the iterate's success from the forward pass the gradient needs anyway
      now = _succeeded(logits, labels, targeted)
      first = jnp.where((first < 0) & now, step0 + i, first)
      if stop_on_success:
        done = done | now
    step = jnp.sign(grad) if norm == "linf" else grad / (_per_image_l2(grad) + TINY)
    moved = jnp.clip(images + project(x + sign * size_at(step0 + i) * step - images, epsilon, norm), 0.0, 1.0)
    if stop_on_success:
      moved = jnp.where(done[:, None, None, None], x, moved)
    return (moved, done, first), None

  done0 = jnp.zeros(batch, bool)
  first0 = jnp.full(batch, -1, jnp.int32)
  (x, _, first), _ = jax.lax.scan(body, (x0, done0, first0), jnp.arange(steps))
  success = _succeeded(logits_fn(x), labels, targeted)
  first = jnp.where((first < 0) & success, step0 + steps, first)
  return x, success, first


def perturbation_norms(adversarial: jax.Array, images: jax.Array) -> tuple[jax.Array, jax.Array]:
  """Per image: the L-inf and the L2 norm of ``adversarial - images``."""
  d = (adversarial - images).reshape(images.shape[0], -1)
  return jnp.max(jnp.abs(d), axis=1), jnp.sqrt(jnp.sum(d * d, axis=1))
