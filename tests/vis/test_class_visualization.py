"""Class visualization: the Gaussian blur equals scipy's, the percentile clips zero the right pixels, and
gradient ascent raises the target score of a network to the top."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from cs231n_jax.vis import class_visualization as cv


def test_gaussian_blur_equals_scipy():
  from scipy.ndimage import gaussian_filter

  x = np.random.default_rng(0).random((2, 9, 11, 3)).astype(np.float32)
  for sigma in (0.5, 1.3):
    expected = gaussian_filter(x, sigma=(0, sigma, sigma, 0), mode="reflect")
    np.testing.assert_allclose(np.asarray(cv.gaussian_blur(jnp.asarray(x), sigma)), expected, atol=1e-6)


def test_percentile_clip_zeroes_the_smallest_pixels():
  x = jnp.asarray(np.random.default_rng(1).random((1, 10, 10, 3)), jnp.float32)
  out = np.asarray(cv._zero_below_percentile(x, cv._pixel_norm(x), 30.0))
  norms = np.sqrt((np.asarray(x) ** 2).sum(-1))[0]
  zeroed = (out[0] == 0).all(-1)
  np.testing.assert_array_equal(zeroed, norms < np.percentile(norms, 30))
  assert zeroed.sum() == 30


def test_gradient_ascent_makes_each_class_the_top_one():
  # A nearest-template classifier: every class wins inside the pixel box (at its template).
  templates = jax.random.uniform(jax.random.PRNGKey(0), (10, 64))
  fn = lambda x: -jnp.sum((x.reshape(x.shape[0], 1, -1) - templates) ** 2, axis=-1)  # noqa: E731
  config = cv.ClassVisConfig(steps=150, learning_rate=0.05, l2_reg=1e-3, blur_every=50, blur_sigma=0.5, jitter=1)
  images, history = jax.jit(lambda t: cv.visualize_class(fn, t, (8, 8, 1), config))(jnp.arange(10))
  assert images.shape == (10, 8, 8, 1) and float(images.min()) >= 0 and float(images.max()) <= 1
  np.testing.assert_array_equal(np.asarray(jnp.argmax(fn(images), -1)), np.arange(10))
  assert float(history[-1]) > float(history[0])
  # With the small-value clip last in each step, at least that share of every image's pixels is 0.
  clipped = cv.ClassVisConfig(steps=20, learning_rate=0.05, value_clip_percentile=25.0, grad_clip_percentile=10.0)
  images, _ = jax.jit(lambda t: cv.visualize_class(fn, t, (8, 8, 1), clipped))(jnp.arange(3))
  assert np.all((np.asarray(images) == 0).reshape(3, -1).mean(1) >= 0.25)
  with pytest.raises(ValueError, match="value_clip_percentile"):
    cv.ClassVisConfig(value_clip_percentile=100.0)


def test_the_score_and_the_log_softmax_objectives_reach_their_own_maximisers():
  # Two pixels in [0, 1]; S_0 = x1 + x2, S_1 = 3 x2, S_2 = 0. The lecture's score S_0 is largest at (1, 1),
  # where class 1 wins (p_0 = e^2 / (e^2 + e^3 + 1)); log p_0 is largest at (1, 0) (p_0 = e / (e + 2)).
  w = jnp.array([[1.0, 0.0, 0.0], [1.0, 3.0, 0.0]])
  fn = lambda x: x.reshape(x.shape[0], -1) @ w  # noqa: E731
  for objective, corner, p0 in (("score", [1.0, 1.0], np.e ** 2 / (np.e ** 2 + np.e ** 3 + 1)),
                                ("log_softmax", [1.0, 0.0], np.e / (np.e + 2))):
    config = cv.ClassVisConfig(steps=100, learning_rate=0.05, l2_reg=0.0, objective=objective)
    images, history = jax.jit(lambda t, c=config: cv.visualize_class(fn, t, (1, 2, 1), c))(jnp.array([0]))
    np.testing.assert_allclose(np.asarray(images).ravel(), corner, atol=1e-6)
    assert float(jax.nn.softmax(fn(images))[0, 0]) == pytest.approx(p0, rel=1e-5)
    # The history starts at the objective of the zero image: S_0 = 0, log p_0 = -log 3.
    assert float(history[0]) == pytest.approx(0.0 if objective == "score" else -np.log(3.0), abs=1e-6)
  with pytest.raises(ValueError, match="objective: expected one of"):
    cv.ClassVisConfig(objective="softmax")
