"""k-nearest neighbours (lecture 2), with the course's API and its three distance computations.

"Train": memorise all the data and labels (O(1)). "Predict": for each test image find the k
closest training images and take a majority vote of their labels (O(N) per test image).

Distances are L2 (Euclidean, the course's default) or L1 (Manhattan, the lecture's first example,
whose 4x4 worked example sums to 456). ``compute_distances_two_loops`` and ``_one_loop`` are the
loops the course asks students to write -- one (test, train) pair, then one test row, at a time --
expressed with ``lax.fori_loop`` so they run as one compiled program instead of dispatching one
tiny kernel per pair from Python (which would take minutes at the course's 500 x 5000).
``compute_distances_no_loops`` is a single fused, jitted expression; for L2 it expands
‖a - b‖² = ‖a‖² + ‖b‖² - 2 a·b, so the work is one matrix multiply. That expansion cancels
catastrophically when two points are nearly equal; the tests accept float32 tolerance for it.

Tie rule of ``predict_labels``: among the k nearest (distance ties broken by the lower training
index, i.e. a stable sort), the most common label wins, and a tie between labels goes to the
smallest label -- the rule the course's notebook suggests.
"""

from __future__ import annotations

import functools
from typing import Sequence

import jax
import jax.numpy as jnp
import numpy as np

from cs231n_jax.layers.losses import check_label_values

METRICS = ("l2", "l1")


def _check_metric(metric: str) -> None:
  if metric not in METRICS:
    raise ValueError(f"metric: expected one of {METRICS}, got {metric!r}")


def _pair_distance(a, b, metric: str):
  diff = a - b
  if metric == "l1":
    return jnp.sum(jnp.abs(diff))
  return jnp.sqrt(jnp.sum(diff * diff))


@functools.partial(jax.jit, static_argnames="metric")
def _two_loops(X, X_train, metric: str):
  num_test, num_train = X.shape[0], X_train.shape[0]

  def over_test(i, dists):
    def over_train(j, dists):
      return dists.at[i, j].set(_pair_distance(X[i], X_train[j], metric))

    return jax.lax.fori_loop(0, num_train, over_train, dists)

  return jax.lax.fori_loop(0, num_test, over_test, jnp.zeros((num_test, num_train), X.dtype))


@functools.partial(jax.jit, static_argnames="metric")
def _one_loop(X, X_train, metric: str):
  def over_test(i, dists):
    diff = X_train - X[i]  # (num_train, D): one test row against every training row
    row = jnp.sum(jnp.abs(diff), axis=1) if metric == "l1" else jnp.sqrt(jnp.sum(diff * diff, axis=1))
    return dists.at[i].set(row)

  return jax.lax.fori_loop(0, X.shape[0], over_test, jnp.zeros((X.shape[0], X_train.shape[0]), X.dtype))


@functools.partial(jax.jit, static_argnames="metric")
def _no_loops(X, X_train, metric: str):
  if metric == "l1":
    # Broadcast (num_test, 1, D) against (1, num_train, D); XLA fuses the subtraction into the
    # reduction, so the 3-d difference is never stored.
    return jnp.sum(jnp.abs(X[:, None, :] - X_train[None, :, :]), axis=-1)
  sq = jnp.sum(X * X, axis=1)[:, None] + jnp.sum(X_train * X_train, axis=1)[None, :] - 2.0 * X @ X_train.T
  return jnp.sqrt(jnp.maximum(sq, 0.0))  # rounding can make tiny squared distances negative


@functools.partial(jax.jit, static_argnames=("ks", "num_classes"))
def _votes(dists, y_train, ks: tuple[int, ...], num_classes: int):
  """Majority-vote predictions for every k in ``ks`` from one sort: (len(ks), num_test)."""
  k_max = max(ks)
  nearest = jnp.argsort(dists, axis=1, stable=True)[:, :k_max]  # stable: equal distances keep index order
  closest_y = y_train[nearest]  # (num_test, k_max), nearest first
  # counts[:, k - 1, c] = how many of the k nearest have label c, for every k at once.
  counts = jnp.cumsum(jax.nn.one_hot(closest_y, num_classes, dtype=jnp.int32), axis=1)
  # argmax returns the first, i.e. the smallest, of tied labels.
  return jnp.stack([jnp.argmax(counts[:, k - 1], axis=1) for k in ks])


class KNearestNeighbor:
  """A kNN classifier with L2 (default) or L1 distance."""

  def __init__(self, metric: str = "l2"):
    _check_metric(metric)
    self.metric = metric
    self.X_train = None
    self.y_train = None
    self.num_classes = 0

  def train(self, X, y) -> None:
    """Memorise the training data: X (num_train, D), y (num_train,) integer labels."""
    X = jnp.asarray(X)
    y = np.asarray(y)
    if X.ndim != 2:
      raise ValueError(f"KNearestNeighbor.train: X must be (num_train, D), got shape {X.shape}")
    if y.shape != (X.shape[0],):
      raise ValueError(f"KNearestNeighbor.train: y must have shape ({X.shape[0]},) to match X {X.shape}, got {y.shape}")
    num_classes = int(y.max()) + 1 if y.size else 0
    check_label_values("KNearestNeighbor.train", y, num_classes)  # integers, none negative (one_hot drops them)
    self.X_train = X
    self.y_train = jnp.asarray(y, dtype=jnp.int32)
    self.num_classes = num_classes

  def _check_test(self, X):
    if self.X_train is None:
      raise ValueError("KNearestNeighbor: call train(X, y) before predicting")
    X = jnp.asarray(X)
    if X.ndim != 2 or X.shape[1] != self.X_train.shape[1]:
      raise ValueError(f"KNearestNeighbor: test X {X.shape} must be (num_test, {self.X_train.shape[1]}) "
                       f"to match X_train {self.X_train.shape}")
    return X

  def compute_distances_two_loops(self, X):
    """dists[i, j] = distance(X[i], X_train[j]), one pair at a time (a loop over i and j)."""
    return _two_loops(self._check_test(X), self.X_train, self.metric)

  def compute_distances_one_loop(self, X):
    """The same distances, one test row against all training rows at a time."""
    return _one_loop(self._check_test(X), self.X_train, self.metric)

  def compute_distances_no_loops(self, X):
    """The same distances with no explicit loop: one fused, jitted expression."""
    return _no_loops(self._check_test(X), self.X_train, self.metric)

  def predict_labels(self, dists, k: int = 1):
    """Majority vote among the k nearest training points for each row of dists (num_test, num_train)."""
    if self.y_train is None:
      raise ValueError("KNearestNeighbor: call train(X, y) before predicting")
    dists = jnp.asarray(dists)
    if dists.ndim != 2 or dists.shape[1] != self.y_train.shape[0]:
      raise ValueError(f"predict_labels: dists {dists.shape} must be (num_test, {self.y_train.shape[0]}) to match the training set")
    if not 1 <= k <= self.y_train.shape[0]:
      raise ValueError(f"predict_labels: k must be in [1, {self.y_train.shape[0]}] (the training-set size), got {k}")
    return _votes(dists, self.y_train, (int(k),), self.num_classes)[0]

  def predict(self, X, k: int = 1, num_loops: int = 0):
    """Predict labels for X (num_test, D) with k neighbours; ``num_loops`` picks the distance code."""
    compute = {
        0: self.compute_distances_no_loops,
        1: self.compute_distances_one_loop,
        2: self.compute_distances_two_loops,
    }.get(num_loops)
    if compute is None:
      raise ValueError(f"predict: num_loops must be 0, 1 or 2, got {num_loops}")
    return self.predict_labels(compute(X), k=k)


def cross_validate(
    X, y, k_choices: Sequence[int], num_folds: int = 5, metric: str = "l2"
) -> dict[int, list[float]]:
  """k-fold cross-validation of k (lecture 2, "Idea #4"): split into folds, use each fold once as
  validation and the rest as training; returns {k: [accuracy on fold 0, ..., fold num_folds-1]}.

  Folds are contiguous ``np.array_split`` chunks in the given order, as in the course (shuffle
  beforehand if the data are ordered). Distances are computed once per fold and shared by every k.
  """
  _check_metric(metric)
  X = np.asarray(X)
  y = np.asarray(y)
  if X.ndim != 2 or y.shape != (X.shape[0],):
    raise ValueError(f"cross_validate: X must be (N, D) and y (N,), got X {X.shape} and y {y.shape}")
  if not 2 <= num_folds <= X.shape[0]:
    raise ValueError(f"cross_validate: num_folds must be in [2, {X.shape[0]}], got {num_folds}")
  # The smallest training set is N minus the largest fold; a larger k would silently vote with
  # fewer neighbours than asked for.
  smallest_train = X.shape[0] - -(-X.shape[0] // num_folds)
  too_big = [int(k) for k in k_choices if not 1 <= int(k) <= smallest_train]
  if too_big:
    raise ValueError(
        f"cross_validate: every k must be in [1, {smallest_train}] "
        f"(the smallest training set of {X.shape[0]} examples in {num_folds} folds), got {too_big}"
    )
  X_folds = np.array_split(X, num_folds)
  y_folds = np.array_split(y, num_folds)
  k_to_accuracies: dict[int, list[float]] = {k: [] for k in k_choices}
  for fold in range(num_folds):
    classifier = KNearestNeighbor(metric)
    classifier.train(np.concatenate(X_folds[:fold] + X_folds[fold + 1:]), np.concatenate(y_folds[:fold] + y_folds[fold + 1:]))
    dists = classifier.compute_distances_no_loops(X_folds[fold])
    preds = np.asarray(_votes(dists, classifier.y_train, tuple(int(k) for k in k_choices), classifier.num_classes))
    for k, pred in zip(k_choices, preds):
      k_to_accuracies[k].append(float(np.mean(pred == y_folds[fold])))
  return k_to_accuracies


def summarize_cross_validation(k_to_accuracies: dict[int, list[float]]) -> tuple[int, dict[int, tuple[float, float]]]:
  """(best k, {k: (mean, std)}): the best k has the highest mean accuracy (the smallest k on ties)."""
  stats = {k: (float(np.mean(a)), float(np.std(a))) for k, a in sorted(k_to_accuracies.items())}
  best_k = max(stats, key=lambda k: (stats[k][0], -k))
  return best_k, stats
