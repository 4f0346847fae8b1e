"""Lecture 3's "strategy #1: a very bad idea": random search over W (004a:202, C5).

The lecture draws ``W = np.random.randn(10, 3073) * 0.0001`` 1,000 times, evaluates the full
training-set SVM loss of each and keeps the lowest (it reports 15.5% test accuracy on CIFAR-10,
against 10% chance). Strategy #3, following the slope (minibatch SGD), must beat it by a wide margin.

This is a whole-run vectorised program, not an engine run: the search itself is the object of study.
All ``num_tries`` candidate W are drawn from one key and their losses evaluated in chunks of
``chunk`` candidates with ``lax.map`` over ``vmap`` (one compiled program), and the best is kept. Our W
is (D, C), one column per class, with the bias in the last row (the bias trick), as in
:mod:`cs231n_jax.classifiers.linear_classifier`; the course's (C, D) layout is its transpose.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

from cs231n_jax.classifiers.linear_svm import svm_loss_vectorized
from cs231n_jax.classifiers.softmax import softmax_loss_vectorized

SCALE = 1e-4  # the lecture's randn(...) * 0.0001
LOSSES = {"svm": svm_loss_vectorized, "softmax": softmax_loss_vectorized}


def data_loss(kind: str, W, X, y):
  """The full-data loss of one W without regularisation (the lecture's ``L(X_train, Y_train, W)``)."""
  if kind not in LOSSES:
    raise ValueError(f"random_search.loss: expected one of {tuple(LOSSES)}, got {kind!r}")
  return LOSSES[kind](W, X, y, 0.0)[0]


def random_search(key, X, y, num_classes: int, num_tries: int = 1000, scale: float = SCALE, kind: str = "svm",
                  chunk: int = 100):
  """Draw ``num_tries`` W ~ scale * N(0, 1) of shape (D, num_classes); return (best W, every loss, the
  running best loss after each try) — the lecture's ``bestloss`` trace."""
  X = jnp.asarray(X)
  y = jnp.asarray(y, jnp.int32)
  if X.ndim != 2 or y.shape != (X.shape[0],):
    raise ValueError(f"random_search: X must be (N, D) and y (N,), got {X.shape} and {y.shape}")
  if num_tries <= 0 or chunk <= 0 or num_tries % chunk:
    raise ValueError(f"random_search.num_tries: need a positive multiple of chunk={chunk}, got {num_tries}")
  if kind not in LOSSES:
    raise ValueError(f"random_search.loss: expected one of {tuple(LOSSES)}, got {kind!r}")
  losses, Ws = _run(key, X, y, scale, kind, num_classes, num_tries, chunk)
  best = int(jnp.argmin(losses))
  return Ws(best), np.asarray(losses), np.minimum.accumulate(np.asarray(losses))


def _candidates(key, num_tries: int, shape, scale):
  """Candidate ``i`` is drawn from ``fold_in(key, i)``: any one can be redrawn without the others."""
  return lambda i: scale * jax.random.normal(jax.random.fold_in(key, i), shape)


@functools.partial(jax.jit, static_argnames=("kind", "num_classes", "num_tries", "chunk"))
def _losses(key, X, y, scale, kind: str, num_classes: int, num_tries: int, chunk: int):
  draw = _candidates(key, num_tries, (X.shape[1], num_classes), scale)
  one = lambda i: data_loss(kind, draw(i), X, y)  # noqa: E731
  idx = jnp.arange(num_tries).reshape(num_tries // chunk, chunk)
  return jax.lax.map(jax.vmap(one), idx).reshape(-1)


def _run(key, X, y, scale, kind, num_classes, num_tries, chunk):
  losses = _losses(key, X, y, scale, kind, num_classes, num_tries, chunk)
  draw = _candidates(key, num_tries, (X.shape[1], num_classes), scale)
  return losses, lambda i: draw(i)


def accuracy(W, X, y) -> float:
  """Fraction of rows whose highest score (X W) is the label."""
  return float(np.mean(np.asarray(jnp.argmax(jnp.asarray(X) @ W, axis=1)) == np.asarray(y)))
