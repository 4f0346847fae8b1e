"""kNN, linear SVM / softmax and image features: the lectures' worked examples exactly, the naive
and vectorised versions against each other and against autodiff, and bad input."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import matplotlib.colors
import numpy as np
import pytest

from cs231n_jax.classifiers import features as F
from cs231n_jax.classifiers.k_nearest_neighbor import KNearestNeighbor, cross_validate, summarize_cross_validation
from cs231n_jax.classifiers.linear_classifier import LinearSVM, Softmax
from cs231n_jax.classifiers.linear_svm import svm_loss_naive, svm_loss_vectorized
from cs231n_jax.classifiers.softmax import softmax_loss_naive, softmax_loss_vectorized
from cs231n_jax.gradcheck import KINK_THRESHOLD, SMOOTH_THRESHOLD, grad_check_sparse, max_error, three_way_errors
from cs231n_jax.layers import affine_forward
from cs231n_jax.layers.losses import softmax_losses, svm_losses

# Lecture 3's scores: rows are the classes cat, car, frog; columns the three images (a cat, a car,
# a frog).
SCORE_TABLE = np.array([[3.2, 1.3, 2.2], [5.1, 4.9, 2.5], [-1.7, 2.0, -3.1]])


def test_lecture2_l1_distance_example_is_456():
  test = np.array([[56, 32, 10, 18], [90, 23, 128, 133], [24, 26, 178, 200], [2, 0, 255, 220]], np.float32)
  train = np.array([[10, 20, 24, 17], [8, 10, 89, 100], [12, 16, 178, 170], [4, 32, 233, 112]], np.float32)
  np.testing.assert_array_equal(np.abs(test - train), [[46, 12, 14, 1], [82, 13, 39, 33], [12, 10, 0, 30], [2, 32, 22, 108]])
  knn = KNearestNeighbor(metric="l1")
  knn.train(train.reshape(1, -1), np.array([0]))
  for compute in (knn.compute_distances_two_loops, knn.compute_distances_one_loop, knn.compute_distances_no_loops):
    assert float(compute(test.reshape(1, -1))[0, 0]) == 456.0


@pytest.mark.parametrize("metric", ["l2", "l1"])
def test_three_distance_computations_agree_and_match_numpy(metric):
  rng = np.random.default_rng(0)
  x_train, x_test = rng.standard_normal((40, 12)).astype(np.float32), rng.standard_normal((9, 12)).astype(np.float32)
  knn = KNearestNeighbor(metric)
  knn.train(x_train, rng.integers(0, 4, 40))
  diff = x_test[:, None, :].astype(np.float64) - x_train[None, :, :]
  ref = np.abs(diff).sum(-1) if metric == "l1" else np.sqrt((diff**2).sum(-1))
  for compute in (knn.compute_distances_two_loops, knn.compute_distances_one_loop, knn.compute_distances_no_loops):
    np.testing.assert_allclose(compute(x_test), ref, rtol=1e-5, atol=1e-5)


def test_predict_labels_tie_rules_and_brute_force_reference():
  knn = KNearestNeighbor()
  knn.train(np.zeros((4, 1), np.float32), np.array([3, 1, 3, 1]))
  # Two nearest have labels 3 and 1: a tie between labels, which goes to the smaller label.
  assert int(knn.predict_labels(np.array([[0.1, 0.2, 5.0, 6.0]]), k=2)[0]) == 1
  # Equal distances: the lower training index comes first (stable), so 1-NN picks label 3.
  assert int(knn.predict_labels(np.array([[1.0, 1.0, 1.0, 1.0]]), k=1)[0]) == 3

  rng = np.random.default_rng(1)
  x_train, y_train = rng.standard_normal((60, 5)), rng.integers(0, 5, 60)
  x_test = rng.standard_normal((20, 5))
  knn.train(x_train, y_train)
  d = np.sqrt(((x_test[:, None] - x_train[None]) ** 2).sum(-1))
  for k in (1, 3, 7):
    nearest = np.argsort(d, axis=1, kind="stable")[:, :k]
    ref = [np.bincount(y_train[row], minlength=5).argmax() for row in nearest]
    np.testing.assert_array_equal(knn.predict(x_test, k=k), ref)


def test_cross_validation_folds_and_one_nn_is_perfect_on_training_data():
  rng = np.random.default_rng(2)
  x = rng.standard_normal((50, 4)).astype(np.float32)
  y = (x[:, 0] > 0).astype(np.int32)
  acc = cross_validate(x, y, [1, 3, 5], num_folds=5)
  assert sorted(acc) == [1, 3, 5] and all(len(v) == 5 for v in acc.values())
  best_k, stats = summarize_cross_validation(acc)
  assert stats[best_k][0] == max(m for m, _ in stats.values())
  knn = KNearestNeighbor()
  knn.train(x, y)
  assert np.mean(knn.predict(x, k=1) == y) == 1.0  # lecture 2: "K = 1 always works perfectly on training data"


def test_lecture2_linear_score_example_with_bias():
  W = np.array([[0.2, -0.5, 0.1, 2.0], [1.5, 1.3, 2.1, 0.0], [0.0, 0.25, 0.2, -0.3]])
  x = np.array([[56.0, 231.0, 24.0, 2.0]])
  b = np.array([1.1, 3.2, -1.2])
  scores, _ = affine_forward(x, W.T, b)
  # The slide's ship score 61.95 is Wx without its bias -1.2; with the bias it is 60.75.
  np.testing.assert_allclose(scores[0], [-96.8, 437.9, 60.75], atol=1e-9)
  assert (W @ x[0])[2] == pytest.approx(61.95)


def test_lecture3_svm_example_losses_and_mean():
  scores = SCORE_TABLE.T  # one row per image
  y = np.array([0, 1, 2])
  with jax.enable_x64(True):
    per_example = np.asarray(svm_losses(jnp.asarray(scores), jnp.asarray(y)))
    np.testing.assert_allclose(per_example, [2.9, 0.0, 12.9], atol=1e-9)
    # The full vectorised loss with X = I and W = the scores: the mean, 5.27 on the slide.
    loss, _ = svm_loss_vectorized(scores.copy(), np.eye(3), y, 0.0)
    assert loss == pytest.approx(5.266666666666667, abs=1e-12)
    # "W twice as large": the car example still has loss 0 (W is not unique).
    assert float(svm_losses(jnp.asarray(2 * scores[1:2]), jnp.asarray([1]))[0]) == 0.0


def test_lecture3_softmax_example_natural_log():
  s = np.array([3.2, 5.1, -1.7])
  np.testing.assert_allclose(np.exp(s), [24.5, 164.0, 0.18], atol=0.05)
  probs = np.exp(s) / np.exp(s).sum()
  np.testing.assert_allclose(probs, [0.13, 0.87, 0.00], atol=0.005)
  with jax.enable_x64(True):
    loss = float(softmax_losses(jnp.asarray(s[None]), jnp.asarray([0]))[0])
  assert loss == pytest.approx(2.04, abs=0.005)  # -ln(0.13)
  assert -math.log10(0.13) == pytest.approx(0.89, abs=0.005)  # the slide's base-10 slip, not used


def test_softmax_vs_svm_jiggle_question():
  scores = np.array([[10.0, -2.0, 3.0], [10.0, 9.0, 9.0], [10.0, -100.0, -100.0]])
  y = np.zeros(3, np.int64)
  with jax.enable_x64(True):
    np.testing.assert_array_equal(np.asarray(svm_losses(jnp.asarray(scores), jnp.asarray(y))), 0.0)
    soft = np.asarray(softmax_losses(jnp.asarray(scores), jnp.asarray(y)))
    jiggled = scores + np.array([[0, 0.1, -0.1], [0, 0, 0], [0, -0.1, 0.1]])
    np.testing.assert_array_equal(np.asarray(svm_losses(jnp.asarray(jiggled), jnp.asarray(y))), 0.0)
  assert soft[0] == pytest.approx(9.18e-4, rel=1e-3)
  assert soft[1] == pytest.approx(0.5514, abs=1e-4)
  assert soft[2] < 1e-40


def test_softmax_losses_are_numerically_stable_for_huge_scores():
  # Scores in the thousands overflow exp() in float32 without the max shift. With X = I the scores
  # are the rows of W: the first two examples are certain (loss 0), the third ties two classes at
  # 500 with its own class at 0, so its loss is 500 + ln 2.
  W = np.array([[1000.0, 0.0, -1000.0], [0.0, 2000.0, 0.0], [500.0, 500.0, 0.0]], np.float32)
  X, y = np.eye(3, dtype=np.float32), np.array([0, 1, 2])
  expected = (500 + math.log(2)) / 3
  for loss_fn in (softmax_loss_naive, softmax_loss_vectorized):
    loss, dW = loss_fn(W, X, y, 0.0)
    assert float(loss) == pytest.approx(expected, rel=1e-6) and np.all(np.isfinite(dW))


@pytest.fixture(scope="module")
def dev_data():
  rng = np.random.default_rng(0)
  X = np.hstack([rng.standard_normal((30, 20)), np.ones((30, 1))])  # bias trick
  y = rng.integers(0, 10, 30)
  return X, y


def test_initial_losses_svm_c_minus_1_and_softmax_ln_c(dev_data):
  X, y = dev_data
  loss, _ = svm_loss_vectorized(np.zeros((21, 10)), X, y, 0.0)
  assert loss == 9.0  # every margin is exactly 1: C - 1
  W = 1e-4 * np.random.default_rng(1).standard_normal((21, 10))
  loss, _ = softmax_loss_vectorized(W, X, y, 0.0)
  assert abs(loss - math.log(10)) < 0.01
  loss_reg, _ = softmax_loss_vectorized(W, X, y, 1e3)
  assert loss_reg > loss


@pytest.mark.parametrize("regularization", ["l2", "l1", "elastic"])
@pytest.mark.parametrize("kind", ["svm", "softmax"])
def test_naive_equals_vectorized_and_gradients_check(dev_data, kind, regularization):
  X, y = dev_data
  W = 1e-2 * np.random.default_rng(3).standard_normal((21, 10))
  naive, vectorized = (svm_loss_naive, svm_loss_vectorized) if kind == "svm" else (softmax_loss_naive, softmax_loss_vectorized)
  l1, g1 = naive(W, X, y, 0.05, regularization)
  l2, g2 = vectorized(W, X, y, 0.05, regularization)
  assert abs(l1 - l2) < 1e-12
  np.testing.assert_allclose(g1, g2, atol=1e-12)
  threshold = SMOOTH_THRESHOLD if kind == "softmax" and regularization == "l2" else KINK_THRESHOLD
  results = three_way_errors(lambda w: vectorized(w, jnp.asarray(X), jnp.asarray(y), 0.05, regularization)[0], (W,), 1.0, (g2,))
  assert max_error(results) < threshold, results


def test_grad_check_sparse_prints_and_returns_errors(dev_data, capsys):
  X, y = dev_data
  W = 1e-2 * np.random.default_rng(4).standard_normal((21, 10))
  _, grad = softmax_loss_vectorized(W, X, y, 0.0)
  errors = grad_check_sparse(lambda w: softmax_loss_vectorized(w, X, y, 0.0)[0], W, grad, num_checks=5, seed=0)
  assert len(errors) == 5 and max(errors) < SMOOTH_THRESHOLD
  assert capsys.readouterr().out.count("relative error") == 5


@pytest.mark.slow
@pytest.mark.parametrize("cls", [LinearSVM, Softmax])
def test_linear_classifier_trains_on_digits(cls):
  from cs231n_jax.data.digits import load_digits

  data = load_digits()
  x_train = np.hstack([data.train.images.reshape(len(data.train), -1), np.ones((len(data.train), 1), np.float32)])
  x_val = np.hstack([data.val.images.reshape(len(data.val), -1), np.ones((len(data.val), 1), np.float32)])
  clf = cls(seed=0)
  history = clf.train(x_train, data.train.labels, learning_rate=0.1, reg=1e-3, num_iters=300, batch_size=200)
  assert len(history) == 300 and np.mean(history[-20:]) < 0.5 * history[0]
  assert np.mean(clf.predict(x_val) == data.val.labels) >= 0.9  # curriculum E10's bar
  W = clf.W
  clf.train(x_train, data.train.labels, learning_rate=0.0, reg=0.0, num_iters=5)
  np.testing.assert_array_equal(clf.W, W)  # a zero learning rate leaves W alone


def test_weight_templates_are_the_columns_of_w_as_images():
  from cs231n_jax.studies.classifier_figures import weight_templates

  rng = np.random.default_rng(5)
  W = rng.standard_normal((4 * 3 * 2, 5))  # rows flattened from (H, W, C) = (4, 3, 2) images, 5 classes
  templates = weight_templates(W, (4, 3, 2))
  assert templates.shape == (5, 4, 3, 2)
  assert templates.min() == 0.0 and templates.max() == pytest.approx(255.0, rel=1e-14)  # float64 rounding only
  # One affine map for all classes (so the templates are comparable): template j is column j.
  scale = 255.0 / (W.max() - W.min())
  np.testing.assert_allclose(templates[2], (W[:, 2].reshape(4, 3, 2) - W.min()) * scale, rtol=1e-12)
  assert weight_templates(rng.standard_normal((64, 10)), (8, 8, 1)).shape == (10, 8, 8)  # grey: channel dropped
  with pytest.raises(ValueError, match=r"W \(65, 10\) must be \(D, C\) with D = prod\(8, 8, 1\) = 64"):
    weight_templates(np.zeros((65, 10)), (8, 8, 1))


def test_hog_dimension_of_the_lecture_example_and_on_digits():
  image = np.random.default_rng(0).uniform(0, 255, (240, 320, 3)).astype(np.float32)
  assert F.hog_feature(image).shape == (10_800,)  # 30 x 40 cells x 9 bins
  feats = F.extract_features(np.random.default_rng(1).uniform(size=(3, 32, 32, 3)).astype(np.float32), [F.hog_feature])
  assert feats.shape == (3, 4 * 4 * 9)
  # A vertical edge: all gradient points along x, i.e. angle 0, bin 0.
  edge = np.zeros((8, 8), np.float32)
  edge[:, 4:] = 1.0
  h = np.asarray(F.hog_feature(edge))
  assert h[0] > 0 and np.all(h[1:] == 0)


def test_hue_histogram_matches_matplotlib_and_numpy():
  image = np.random.default_rng(2).uniform(0, 255, (16, 16, 3)).astype(np.float32)
  hue = matplotlib.colors.rgb_to_hsv(image / 255.0)[..., 0] * 255.0
  ref, edges = np.histogram(hue, bins=np.linspace(0, 255, 11), density=True)
  np.testing.assert_allclose(F.color_histogram_hsv(image), ref * np.diff(edges), atol=1e-6)
  grey = np.full((4, 4, 3), 100.0, np.float32)
  np.testing.assert_array_equal(F.color_histogram_hsv(grey), [1.0] + [0.0] * 9)


@pytest.mark.parametrize("call,pattern", [
    (lambda: svm_loss_vectorized(np.zeros((3073, 10)), np.zeros((5, 3072)), np.zeros(5, int), 0.0),
     r"X \(5, 3072\) must be \(N, 3073\) to match W \(3073, 10\)"),
    (lambda: softmax_loss_naive(np.zeros((4, 3)), np.zeros((5, 4)), np.zeros(6, int), 0.0), r"y must have shape \(5,\)"),
    (lambda: softmax_loss_vectorized(np.zeros((4, 3)), np.zeros((2, 4)), np.array([0, 3]), 0.0), r"\[0, 3\)"),
    (lambda: svm_loss_vectorized(np.zeros((4, 3)), np.zeros((2, 4)), np.array([0, 1]), 0.0, "l3"), "regularization"),
    (lambda: KNearestNeighbor("cosine"), "metric"),
    (lambda: F.hog_feature(np.zeros((4, 4))), "smaller than one 8x8 cell"),
])
def test_bad_input(call, pattern):
  with pytest.raises(ValueError, match=pattern):
    call()


def test_knn_bad_input_names_shapes():
  knn = KNearestNeighbor()
  knn.train(np.zeros((10, 4)), np.zeros(10, int))
  with pytest.raises(ValueError, match=r"\(3, 5\) must be \(num_test, 4\)"):
    knn.predict(np.zeros((3, 5)))
  with pytest.raises(ValueError, match=r"k must be in \[1, 10\]"):
    knn.predict(np.zeros((3, 4)), k=11)
  with pytest.raises(ValueError, match=r"y must have shape \(10,\)"):
    knn.train(np.zeros((10, 4)), np.zeros(9, int))
  with pytest.raises(ValueError, match=r"KNearestNeighbor.train: labels must be in \[0, 2\).*\[-1, 1\]"):
    knn.train(np.zeros((3, 4)), np.array([0, -1, 1]))  # one_hot would drop the -1 votes silently
  with pytest.raises(ValueError, match=r"LinearClassifier.train: labels must be in"):
    LinearSVM().train(np.zeros((3, 4)), np.array([0, -1, 1]))
  # 10 examples in 5 folds train on 8: k = 20 would silently vote with 8 neighbours.
  with pytest.raises(ValueError, match=r"every k must be in \[1, 8\].*got \[20\]"):
    cross_validate(np.zeros((10, 4), np.float32), np.arange(10) % 2, [1, 20], num_folds=5)
