"""The two classification losses of lecture 3, per example and as the course's loss layers.

Multiclass SVM (Weston–Watkins hinge, margin Δ = 1):
    L_i = Σ_{j ≠ y_i} max(0, s_j - s_{y_i} + Δ)
Softmax / cross-entropy, with the *natural* log:
    L_i = -log(e^{s_{y_i}} / Σ_j e^{s_j})
(The lecture's worked example shows -log(0.13) = 0.89, a base-10 slip on one slide; the next slide
has the correct 2.04.) The dataset loss is the mean over examples.

``svm_loss(x, y)`` and ``softmax_loss(x, y)`` are the course's loss layers: they return
``(loss, dx)`` with dx the hand-derived gradient of the mean loss with respect to the scores.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from cs231n_jax.layers.checks import check_labels, shape_of
from cs231n_jax.layers.precision import follows_input_precision

SVM_MARGIN = 1.0


def check_label_values(fn: str, y, num_classes: int) -> None:
  """Concrete labels must lie in [0, C); traced labels cannot be inspected and are not checked."""
  if isinstance(y, jax.core.Tracer):
    return
  y = np.asarray(y)
  if not np.issubdtype(y.dtype, np.integer):
    raise ValueError(f"{fn}: labels y must be integers, got dtype {y.dtype}")
  if y.size and (y.min() < 0 or y.max() >= num_classes):
    raise ValueError(f"{fn}: labels must be in [0, {num_classes}) for scores with {num_classes} classes, got range [{y.min()}, {y.max()}]")


def _correct_class_scores(x, y):
  return jnp.take_along_axis(x, y[:, None], axis=1)  # (N, 1)


def hinge_margins(x, y, delta: float = SVM_MARGIN):
  """max(0, s_j - s_{y_i} + Δ) for every example and class, with the j = y_i terms zeroed (N, C)."""
  margins = jnp.maximum(0, x - _correct_class_scores(x, y) + delta)
  return jnp.where(jax.nn.one_hot(y, shape_of(x)[1], dtype=bool), 0, margins)


def svm_losses(x, y, delta: float = SVM_MARGIN):
  """Per-example multiclass hinge losses L_i (N,)."""
  return jnp.sum(hinge_margins(x, y, delta), axis=1)


def log_softmax(x):
  """log p = s - max(s) - log Σ_j e^{s_j - max(s)}: shifting by the max keeps every exponent <= 0,
  so nothing overflows (the course's ``scores - np.max(scores, axis=1, keepdims=True)``)."""
  shifted = x - jnp.max(x, axis=1, keepdims=True)
  return shifted - jnp.log(jnp.sum(jnp.exp(shifted), axis=1, keepdims=True))


def softmax_losses(x, y):
  """Per-example cross-entropy losses -log p_{y_i} (N,), natural log."""
  return -_correct_class_scores(log_softmax(x), y)[:, 0]


@follows_input_precision
def svm_loss(x, y):
  """The multiclass SVM loss layer.

  Args:
    x: (N, C) class scores.
    y: (N,) integer labels in [0, C).

  Returns:
    (loss, dx): the mean hinge loss and its gradient with respect to x. For each example a class j
    with a positive margin contributes +1 to dx[j] and -1 to dx[y]; so dx[y] = -(number of
    positive margins). Both are divided by N.
  """
  check_labels("svm_loss", x, y)
  check_label_values("svm_loss", y, shape_of(x)[1])
  n, c = shape_of(x)
  margins = hinge_margins(x, y)
  loss = jnp.sum(margins) / n
  positive = (margins > 0).astype(x.dtype)
  dx = positive - jax.nn.one_hot(y, c, dtype=x.dtype) * jnp.sum(positive, axis=1, keepdims=True)
  return loss, dx / n


@follows_input_precision
def softmax_loss(x, y):
  """The softmax (cross-entropy) loss layer.

  Args:
    x: (N, C) class scores (unnormalised log-probabilities).
    y: (N,) integer labels in [0, C).

  Returns:
    (loss, dx): the mean cross-entropy and its gradient, dx = (p - onehot(y)) / N.
  """
  check_labels("softmax_loss", x, y)
  check_label_values("softmax_loss", y, shape_of(x)[1])
  n, c = shape_of(x)
  log_p = log_softmax(x)
  loss = -jnp.sum(_correct_class_scores(log_p, y)) / n
  dx = (jnp.exp(log_p) - jax.nn.one_hot(y, c, dtype=x.dtype)) / n
  return loss, dx
