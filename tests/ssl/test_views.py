"""Paired views: shapes, per-example randomness, determinism, references, and bad input."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import ndimage

from cs231n_jax.ssl import views


def digits(n=6):
  from sklearn.datasets import load_digits

  return jnp.asarray(load_digits().images[:n, :, :, None] / 16.0, jnp.float32)


def test_digit_views_are_static_shaped_per_example_and_deterministic():
  x = digits()
  key = jax.random.PRNGKey(0)
  fn = jax.jit(lambda k, im: views.views(k, im, [views.DIGITS_PIPELINE] * 2))
  a, b = fn(key, x)
  assert a.shape == b.shape == x.shape
  a2, b2 = fn(key, x)
  np.testing.assert_array_equal(a, a2)
  np.testing.assert_array_equal(b, b2)
  # The two views of a pair differ, and so do two examples' transforms (same image twice).
  assert float(jnp.abs(a - b).mean()) > 1e-3
  same = jnp.stack([x[0], x[0]])
  c, _ = fn(key, same)
  assert float(jnp.abs(c[0] - c[1]).mean()) > 1e-3
  # A view stays close to its image (a small transformation, not noise of the image's size).
  assert float(jnp.abs(a - x).mean()) < float(jnp.abs(x).mean())


def test_rotation_matches_scipy_and_shift_is_a_translation():
  image = np.zeros((9, 9, 1), np.float32)
  image[2:7, 4, 0] = 1.0
  key = jax.random.PRNGKey(3)
  out = views.rotate(key, jnp.asarray(image), degrees=30.0)
  angle = float(jax.random.uniform(key, (), minval=-30.0, maxval=30.0))
  # dm-pix rotates counter-clockwise in (row, col) coordinates; scipy's rotate in the (col, row) plane
  # with reshape=False about the centre: the same map (mirror images in the two conventions cancel).
  ref = ndimage.rotate(image[..., 0], angle, reshape=False, order=1, mode="constant", cval=0.0)
  np.testing.assert_allclose(np.asarray(out[..., 0]), ref, atol=1e-4)
  # An integer shift of exactly (1, -1): the dm-pix affine transform equals np.roll with zero fill.
  moved = views.pix.affine_transform(jnp.asarray(image), jnp.eye(3), offset=jnp.array([1.0, -1.0, 0.0]), order=1,
                                     mode="constant", cval=0.0)
  ref = np.zeros_like(image)
  ref[:-1, 1:] = image[1:, :-1]
  np.testing.assert_allclose(np.asarray(moved), ref, atol=1e-6)


def test_full_crop_is_identity_and_colour_ops_keep_range_of_shapes():
  x = jax.random.uniform(jax.random.PRNGKey(1), (16, 16, 3))
  full = views.resized_crop(jax.random.PRNGKey(2), x, scale=(1.0, 1.0), ratio=(1.0, 1.0))
  np.testing.assert_allclose(full, x, atol=1e-5)
  grey = views.grey(jax.random.PRNGKey(0), x, prob=1.0)
  np.testing.assert_allclose(grey[..., 0], grey[..., 2])
  np.testing.assert_allclose(grey[..., 0], 0.2989 * x[..., 0] + 0.5870 * x[..., 1] + 0.1140 * x[..., 2], atol=1e-5)
  a, b = jax.jit(lambda k, im: views.views(k, im, [views.COLOR_PIPELINE, views.COLOR_PIPELINE + " | blur"]))(
      jax.random.PRNGKey(4), x[None].repeat(3, 0))
  assert a.shape == b.shape == (3, 16, 16, 3)
  # Probability 0 is the identity.
  np.testing.assert_array_equal(views.blur(jax.random.PRNGKey(0), x, prob=0.0), x)


def test_bad_input_is_named():
  x = digits(2)
  with pytest.raises(ValueError, match="pipeline 1 .* shape \\(6, 6, 1\\), expected \\(8, 8, 1\\)"):
    views.views(jax.random.PRNGKey(0), x, ["noise", lambda k, im: im[1:7, 1:7]])
  with pytest.raises(ValueError, match="unknown augmentation 'hflip'"):
    views.parse_pipeline("rotate | hflip")
  with pytest.raises(ValueError, match="resized_crop.scale"):
    views.resized_crop(jax.random.PRNGKey(0), x[0], scale=(0.0, 1.0))
  with pytest.raises(ValueError, match="grey: expected an RGB image"):
    views.grey(jax.random.PRNGKey(0), x[0])
  with pytest.raises(ValueError, match="NHWC"):
    views.views(jax.random.PRNGKey(0), x[0], ["noise"])
