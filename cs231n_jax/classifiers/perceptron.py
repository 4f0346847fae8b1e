"""Rosenblatt's perceptron (lecture 4's history slide, 004a:155, L4521-L4538).

f(x) = 1 if w·x + b > 0 else 0, and after each example j the rule
``w_i(t+1) = w_i(t) + α (d_j − y_j(t)) x_{j,i}`` (the bias updates as a weight on a constant 1 input).
Only mistakes move w: d − y is 0 on a correct example, ±1 on a wrong one.

A whole-run program, not an engine run (the rule itself is the object of study): the epochs and the
examples within an epoch are two nested ``lax.scan``s in one jitted call, visiting the examples in
a fixed order (or one permutation per epoch from ``key``). Novikoff's theorem: on data that a
hyperplane separates with margin γ inside a ball of radius R, the rule makes at most (R/γ)² mistakes
in all, so it stops changing after finitely many epochs; ``mistake_bound`` computes that bound
for a known separating (w, b).
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np


def predict(w, b, X):
  """The step function f(x) = 1 if w·x + b > 0 else 0, as int32."""
  return (jnp.asarray(X) @ w + b > 0).astype(jnp.int32)


@functools.partial(jax.jit, static_argnames=("num_epochs", "shuffle"))
def _train(X, d, alpha, key, num_epochs: int, shuffle: bool):
  n, D = X.shape

  def example(carry, j):
    w, b, mistakes = carry
    y = (X[j] @ w + b > 0).astype(X.dtype)
    err = d[j].astype(X.dtype) - y
    return (w + alpha * err * X[j], b + alpha * err, mistakes + (err != 0).astype(jnp.int32)), None

  def epoch(carry, epoch_key):
    w, b, total = carry
    order = jax.random.permutation(epoch_key, n) if shuffle else jnp.arange(n)
    (w, b, mistakes), _ = jax.lax.scan(example, (w, b, jnp.int32(0)), order)
    return (w, b, total + mistakes), mistakes

  init = (jnp.zeros(D, X.dtype), jnp.zeros((), X.dtype), jnp.int32(0))
  (w, b, _), per_epoch = jax.lax.scan(epoch, init, jax.random.split(key, num_epochs))
  return w, b, per_epoch


def train(X, d, alpha: float = 1.0, num_epochs: int = 10, key=None, shuffle: bool = False):
  """Run the perceptron rule for ``num_epochs`` passes over X (N, D) with 0/1 targets d (N,).

  Returns (w, b, the number of mistakes, i.e. updates, in each epoch). w starts at zero."""
  X = jnp.asarray(X)
  d = np.asarray(d)
  if X.ndim != 2 or d.shape != (X.shape[0],):
    raise ValueError(f"perceptron.train: X must be (N, D) and d (N,), got {X.shape} and {d.shape}")
  if not np.isin(d, (0, 1)).all():
    raise ValueError("perceptron.train: the targets d must be 0 or 1")
  if num_epochs <= 0 or alpha <= 0:
    raise ValueError(f"perceptron.train: need num_epochs > 0 and alpha > 0, got {num_epochs} and {alpha}")
  key = jax.random.key(0) if key is None else key
  w, b, per_epoch = _train(X, jnp.asarray(d, jnp.int32), jnp.asarray(alpha, X.dtype), key, num_epochs, shuffle)
  return w, b, np.asarray(per_epoch)


def mistake_bound(X, w_star, b_star) -> float:
  """Novikoff's (R/γ)² for the augmented inputs [x, 1] and the separator [w*, b*] (normalised):
  R = max ‖[x, 1]‖, γ = min over examples of |[w*, b*]·[x, 1]| / ‖[w*, b*]‖."""
  Xa = np.concatenate([np.asarray(X, np.float64), np.ones((len(X), 1))], axis=1)
  u = np.concatenate([np.asarray(w_star, np.float64).ravel(), [float(b_star)]])
  gamma = np.min(np.abs(Xa @ u)) / np.linalg.norm(u)
  radius = np.max(np.linalg.norm(Xa, axis=1))
  return float((radius / gamma) ** 2)
