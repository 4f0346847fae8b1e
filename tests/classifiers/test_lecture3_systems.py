"""Lectures 2-4 systems: random search over W, the perceptron rule, bag of visual words."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from cs231n_jax.classifiers import bag_of_words as bow
from cs231n_jax.classifiers import perceptron, random_search
from cs231n_jax.classifiers.linear_svm import svm_loss_naive


def _blobs(seed=0, n=120, d=6, c=3):
  rng = np.random.default_rng(seed)
  centres = rng.normal(0, 3, (c, d))
  y = rng.integers(0, c, n)
  X = centres[y] + rng.normal(0, 1, (n, d))
  return np.hstack([X, np.ones((n, 1))]).astype(np.float32), y.astype(np.int32)


def test_random_search_keeps_the_lowest_loss_and_redraws_it():
  X, y = _blobs()
  key = jax.random.key(3)
  W, losses, best = random_search.random_search(key, X, y, 3, num_tries=40, scale=0.5, chunk=10)
  assert losses.shape == (40,) and np.all(np.diff(best) <= 0) and best[-1] == losses.min()
  # The kept W is the argmin's draw, and its loss (recomputed by the course's naive SVM) is the minimum.
  loss, _ = svm_loss_naive(W, X, y, 0.0)
  np.testing.assert_allclose(float(loss), losses.min(), rtol=1e-5)
  # Candidates differ: a search over one repeated W would show one loss.
  assert np.ptp(losses) > 0.1


def test_random_search_bad_input():
  X, y = _blobs()
  with pytest.raises(ValueError, match="num_tries"):
    random_search.random_search(jax.random.key(0), X, y, 3, num_tries=15, chunk=10)
  with pytest.raises(ValueError, match="random_search.loss"):
    random_search.random_search(jax.random.key(0), X, y, 3, num_tries=10, chunk=10, kind="hinge")


def _perceptron_reference(X, d, alpha, epochs):
  w, b, mistakes = np.zeros(X.shape[1]), 0.0, []
  for _ in range(epochs):
    m = 0
    for j in range(len(X)):
      yj = 1 if X[j] @ w + b > 0 else 0
      w = w + alpha * (d[j] - yj) * X[j]
      b = b + alpha * (d[j] - yj)
      m += int(d[j] != yj)
    mistakes.append(m)
  return w, b, mistakes


def test_perceptron_matches_the_rule_written_as_a_loop():
  rng = np.random.default_rng(0)
  X = rng.normal(size=(50, 4))
  d = (rng.random(50) > 0.5).astype(int)  # not separable: the rule keeps updating
  w, b, per_epoch = perceptron.train(jnp.asarray(X, jnp.float64) if jax.config.x64_enabled else X.astype(np.float32),
                                     d, alpha=0.5, num_epochs=4)
  w_ref, b_ref, m_ref = _perceptron_reference(X.astype(np.float32).astype(np.float64), d, 0.5, 4)
  np.testing.assert_allclose(np.asarray(w), w_ref, atol=1e-4)
  np.testing.assert_allclose(float(b), b_ref, atol=1e-4)
  assert per_epoch.tolist() == m_ref


def test_perceptron_converges_within_novikoffs_bound_on_separable_data():
  rng = np.random.default_rng(1)
  w_star, b_star = np.array([1.0, -2.0, 0.5]), 0.3
  X = rng.uniform(-1, 1, (400, 3))
  margin = X @ w_star + b_star
  X, margin = X[np.abs(margin) > 0.2], margin[np.abs(margin) > 0.2]  # a margin of at least 0.2 / |u|
  d = (margin > 0).astype(int)
  w, b, per_epoch = perceptron.train(X.astype(np.float32), d, num_epochs=60)
  assert per_epoch[-1] == 0  # converged: an epoch without a mistake
  assert per_epoch.sum() <= perceptron.mistake_bound(X, w_star, b_star)
  np.testing.assert_array_equal(np.asarray(perceptron.predict(w, b, X.astype(np.float32))), d)


def test_perceptron_bad_targets():
  with pytest.raises(ValueError, match="must be 0 or 1"):
    perceptron.train(np.zeros((3, 2), np.float32), np.array([0, 1, 2]))


def test_kmeans_matches_lloyd_in_numpy_and_lowers_inertia():
  rng = np.random.default_rng(0)
  X = np.concatenate([rng.normal(m, 0.3, (60, 2)) for m in ((0, 0), (3, 3), (0, 4))]).astype(np.float32)
  centres, inertia = bow.kmeans(jax.random.key(0), X, 3, num_iters=10)
  assert np.all(np.diff(np.asarray(inertia)) <= 1e-3)  # Lloyd's never raises the inertia
  # A fixed point of Lloyd's: every centre is the mean of the points nearest to it (NumPy).
  c = np.asarray(centres)
  nearest = np.argmin(((X[:, None, :] - c[None]) ** 2).sum(-1), axis=1)
  for j in range(3):
    np.testing.assert_allclose(c[j], X[nearest == j].mean(0), atol=1e-4)
  assert sorted(np.bincount(nearest).tolist()) == [60, 60, 60]  # the three blobs recovered


def test_histograms_count_every_patch_once():
  rng = np.random.default_rng(0)
  images = rng.random((4, 8, 8, 1)).astype(np.float32)
  patches = bow.extract_patches(images, 3, stride=1)
  assert patches.shape == (4, 36, 9)
  np.testing.assert_array_equal(patches[1, 7], images[1, 1:4, 1:4, 0].ravel())  # row 1, column 1 of the 6x6 grid
  centres = bow.normalise(rng.normal(size=(5, 9)).astype(np.float32))
  h = np.asarray(bow.histograms(images, centres, 3))
  np.testing.assert_allclose(h.sum(1), 1.0, rtol=1e-6)
  words = np.argmin(((np.asarray(bow.normalise(patches[0]))[:, None] - np.asarray(centres)[None]) ** 2).sum(-1), 1)
  np.testing.assert_allclose(h[0], np.bincount(words, minlength=5) / 36, atol=1e-7)
  with pytest.raises(ValueError, match="patch_size"):
    bow.extract_patches(images, 9)
