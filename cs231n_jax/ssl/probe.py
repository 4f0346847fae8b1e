"""Judging frozen features: a linear probe and k-NN with few labels per class (notes L1750-1758:
"attach a shallow network ... train it on the target task with a small labelled set").

The protocol is the same for every method: features of the unaugmented training images, a labelled
subset of ``k`` examples per class drawn with a seed (every method gets the same subset for the same
seed; ``k = 0`` means every training label), features standardised with the statistics of the whole
(unlabelled) training set, scikit-learn's multinomial logistic regression (L2, ``C``), and a
cosine k-NN; accuracy on the test split.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

LABELS_PER_CLASS = (1, 5, 10, 0)  # 0: all labels
PROBE_C = 1.0  # scikit-learn's default inverse L2 strength
KNN_K = 5


def subset_per_class(labels: np.ndarray, per_class: int, seed: int) -> np.ndarray:
  """Indices of ``per_class`` examples of every class (seeded); all indices when ``per_class`` is 0."""
  labels = np.asarray(labels)
  if per_class == 0:
    return np.arange(len(labels))
  if per_class < 0:
    raise ValueError(f"probe.labels_per_class: expected non-negative counts, got {per_class}")
  rng = np.random.default_rng(seed)
  out = []
  for c in np.unique(labels):
    idx = np.flatnonzero(labels == c)
    if len(idx) < per_class:
      raise ValueError(f"probe.labels_per_class: class {c} has {len(idx)} training examples, fewer than {per_class}")
    out.append(rng.choice(idx, per_class, replace=False))
  return np.sort(np.concatenate(out))


def linear_probe(train_x, train_y, test_x, test_y, scale_x=None, c: float = PROBE_C) -> float:
  """Test accuracy of logistic regression on standardised features (statistics from ``scale_x``,
  default ``train_x``)."""
  from sklearn.linear_model import LogisticRegression

  ref = np.asarray(train_x if scale_x is None else scale_x, np.float64)
  mean, std = ref.mean(0), ref.std(0) + 1e-6
  clf = LogisticRegression(C=c, max_iter=2000)
  clf.fit((np.asarray(train_x) - mean) / std, train_y)
  return float(clf.score((np.asarray(test_x) - mean) / std, test_y))


def knn_probe(train_x, train_y, test_x, test_y, k: int = KNN_K) -> float:
  """Test accuracy of a cosine-distance k-NN; k is capped at the smallest class's number of labelled
  examples (with one label per class, 5 neighbours would be 5 different classes: a tie)."""
  from sklearn.neighbors import KNeighborsClassifier

  k = min(k, int(np.bincount(np.asarray(train_y)).min(initial=len(train_y)) or 1))
  clf = KNeighborsClassifier(n_neighbors=k, metric="cosine")
  clf.fit(np.asarray(train_x), train_y)
  return float(clf.score(np.asarray(test_x), test_y))


def probe(train_x, train_y, test_x, test_y, labels_per_class: Sequence[int] = LABELS_PER_CLASS, seed: int = 0,
          c: float = PROBE_C, knn_k: int = KNN_K) -> dict[str, float]:
  """``{"linear@k": acc, "knn@k": acc}`` for every ``k`` in ``labels_per_class`` (k = 0 -> "all")."""
  train_x, test_x = np.asarray(train_x, np.float64), np.asarray(test_x, np.float64)
  if train_x.ndim != 2 or test_x.ndim != 2 or train_x.shape[1] != test_x.shape[1]:
    raise ValueError(f"probe: expected (N, D) train and test features of one width, got {train_x.shape}, {test_x.shape}")
  out = {}
  for k in labels_per_class:
    idx = subset_per_class(train_y, k, seed)
    name = "all" if k == 0 else str(k)
    out[f"linear@{name}"] = linear_probe(train_x[idx], train_y[idx], test_x, test_y, scale_x=train_x, c=c)
    out[f"knn@{name}"] = knn_probe(train_x[idx], train_y[idx], test_x, test_y, knn_k)
  return out
