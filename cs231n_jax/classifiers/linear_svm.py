"""The multiclass SVM loss of a linear classifier, naive and vectorised (assignment 1).

Scores are ``X @ W`` with X (N, D) examples as rows and W (D, C); use the bias trick (a column of
ones appended to X) for a bias. Loss (lecture 3), margin Δ = 1:

    L = (1/N) Σ_i Σ_{j ≠ y_i} max(0, s_ij - s_{i,y_i} + 1) + reg * R(W)

with R(W) = Σ W² by default (the course's convention for linear classifiers; see
``regularization``). At W = 0 every margin is exactly 1, so the loss is C - 1: the lecture's
question "At initialization W is small so all s ≈ 0. What is the loss?".

Gradient: each positive margin (j ≠ y_i) adds x_i to column j of dW and subtracts x_i from column
y_i ("we have 5 lines" for the backward pass, lecture 4).
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp

from cs231n_jax.classifiers.weight_penalties import ELASTIC_BETA, check_regularizer, penalty
from cs231n_jax.layers.losses import SVM_MARGIN, check_label_values, hinge_margins
from cs231n_jax.layers.precision import follows_input_precision


def check_linear_inputs(fn: str, W, X, y) -> None:
  """W (D, C), X (N, D), y (N,) with labels in [0, C)."""
  w_shape, x_shape, y_shape = tuple(jnp.shape(W)), tuple(jnp.shape(X)), tuple(jnp.shape(y))
  if len(w_shape) != 2:
    raise ValueError(f"{fn}: W must be (D, C), got shape {w_shape}")
  if len(x_shape) != 2 or x_shape[1] != w_shape[0]:
    raise ValueError(f"{fn}: X {x_shape} must be (N, {w_shape[0]}) to match W {w_shape}")
  if y_shape != (x_shape[0],):
    raise ValueError(f"{fn}: y must have shape ({x_shape[0]},) to match X {x_shape}, got {y_shape}")
  check_label_values(fn, y, w_shape[1])


@functools.partial(jax.jit, static_argnames=("regularization", "beta"))
def _svm_naive(W, X, y, reg, regularization: str, beta: float):
  num_train, num_classes = X.shape[0], W.shape[1]

  def per_example(i, carry):
    loss, dW = carry
    scores = X[i] @ W
    correct = scores[y[i]]

    def per_class(j, carry):
      loss, dW = carry
      margin = scores[j] - correct + SVM_MARGIN
      active = (j != y[i]) & (margin > 0)  # `if j != y[i] and margin > 0:` without a branch
      loss = loss + jnp.where(active, margin, 0.0)
      dW = dW.at[:, j].add(jnp.where(active, X[i], 0.0))
      dW = dW.at[:, y[i]].add(jnp.where(active, -X[i], 0.0))
      return loss, dW

    return jax.lax.fori_loop(0, num_classes, per_class, (loss, dW))

  loss, dW = jax.lax.fori_loop(0, num_train, per_example, (jnp.zeros((), W.dtype), jnp.zeros_like(W)))
  reg_loss, reg_grad = penalty(W, reg, regularization, beta)
  return loss / num_train + reg_loss, dW / num_train + reg_grad


@follows_input_precision
def svm_loss_naive(W, X, y, reg, regularization: str = "l2", beta: float = ELASTIC_BETA):
  """Multiclass SVM loss with explicit loops over examples and classes. Returns (loss, dW).

  The loops are ``lax.fori_loop``s (one compiled program) rather than Python loops, which would
  dispatch N*C tiny kernels one by one.
  """
  check_linear_inputs("svm_loss_naive", W, X, y)
  check_regularizer(regularization)
  return _svm_naive(W, X, jnp.asarray(y), reg, regularization=regularization, beta=beta)


@follows_input_precision
def svm_loss_vectorized(W, X, y, reg, regularization: str = "l2", beta: float = ELASTIC_BETA):
  """The same loss and gradient with no loops. Returns (loss, dW)."""
  check_linear_inputs("svm_loss_vectorized", W, X, y)
  check_regularizer(regularization)
  return _svm_vectorized(W, X, jnp.asarray(y), reg, regularization, beta)


@functools.partial(jax.jit, static_argnames=("regularization", "beta"))
def _svm_vectorized(W, X, y, reg, regularization: str, beta: float):
  num_train = X.shape[0]
  margins = hinge_margins(X @ W, y)
  positive = (margins > 0).astype(X.dtype)
  # dscores: +1 for each positive margin, -(number of positive margins) at the correct class.
  dscores = positive - jax.nn.one_hot(y, W.shape[1], dtype=X.dtype) * jnp.sum(positive, axis=1, keepdims=True)
  reg_loss, reg_grad = penalty(W, reg, regularization, beta)
  return jnp.sum(margins) / num_train + reg_loss, X.T @ dscores / num_train + reg_grad
