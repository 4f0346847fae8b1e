"""The softmax (cross-entropy) loss of a linear classifier, naive and vectorised (assignment 1).

Scores ``X @ W`` (X (N, D), W (D, C)) are read as unnormalised log-probabilities:

    P(y = k | x_i) = e^{s_k} / Σ_j e^{s_j},   L = -(1/N) Σ_i log P(y_i | x_i) + reg * R(W)

with the natural log (the lecture's 0.89 for -log 0.13 is a base-10 slip; 2.04 is right), and
R(W) = Σ W² by default. Numerical stability: the scores are shifted by their maximum before
exponentiating, which changes no probability and keeps every exponent <= 0. With small random W
all scores are ≈ 0, so the loss is ≈ log C (log 10 ≈ 2.3), the lecture's sanity check.

Gradient: dL/ds_ik = (P(k | x_i) - 1{k = y_i}) / N, so dW = Xᵀ (P - Y) / N + reg * dR/dW.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp

from cs231n_jax.classifiers.linear_svm import check_linear_inputs
from cs231n_jax.classifiers.weight_penalties import ELASTIC_BETA, check_regularizer, penalty
from cs231n_jax.layers.losses import log_softmax, softmax_losses
from cs231n_jax.layers.precision import follows_input_precision


@functools.partial(jax.jit, static_argnames=("regularization", "beta"))
def _softmax_naive(W, X, y, reg, regularization: str, beta: float):
  num_train, num_classes = X.shape[0], W.shape[1]

  def per_example(i, carry):
    loss, dW = carry
    scores = X[i] @ W
    scores = scores - jnp.max(scores)  # the stability shift
    exp_scores = jnp.exp(scores)
    total = jnp.sum(exp_scores)
    loss = loss - (scores[y[i]] - jnp.log(total))

    def per_class(j, dW):
      p_j = exp_scores[j] / total
      return dW.at[:, j].add((p_j - (j == y[i])) * X[i])

    return loss, jax.lax.fori_loop(0, num_classes, per_class, dW)

  loss, dW = jax.lax.fori_loop(0, num_train, per_example, (jnp.zeros((), W.dtype), jnp.zeros_like(W)))
  reg_loss, reg_grad = penalty(W, reg, regularization, beta)
  return loss / num_train + reg_loss, dW / num_train + reg_grad


@follows_input_precision
def softmax_loss_naive(W, X, y, reg, regularization: str = "l2", beta: float = ELASTIC_BETA):
  """Softmax loss with explicit loops over examples and classes. Returns (loss, dW)."""
  check_linear_inputs("softmax_loss_naive", W, X, y)
  check_regularizer(regularization)
  return _softmax_naive(W, X, jnp.asarray(y), reg, regularization=regularization, beta=beta)


@functools.partial(jax.jit, static_argnames=("regularization", "beta"))
def _softmax_vectorized(W, X, y, reg, regularization: str, beta: float):
  num_train = X.shape[0]
  scores = X @ W
  probs = jnp.exp(log_softmax(scores))
  dscores = (probs - jax.nn.one_hot(y, W.shape[1], dtype=X.dtype)) / num_train
  reg_loss, reg_grad = penalty(W, reg, regularization, beta)
  return jnp.mean(softmax_losses(scores, y)) + reg_loss, X.T @ dscores + reg_grad


@follows_input_precision
def softmax_loss_vectorized(W, X, y, reg, regularization: str = "l2", beta: float = ELASTIC_BETA):
  """The same loss and gradient with no loops. Returns (loss, dW)."""
  check_linear_inputs("softmax_loss_vectorized", W, X, y)
  check_regularizer(regularization)
  return _softmax_vectorized(W, X, jnp.asarray(y), reg, regularization, beta)
