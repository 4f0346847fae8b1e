"""Jittable augmentations: shapes, determinism, the exact geometry of crops, flips and cutout."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from cs231n_jax.data import augment

KEY = jax.random.PRNGKey(0)


def images(n=5, h=8, w=8, c=3, seed=0):
  return jax.random.normal(jax.random.PRNGKey(seed), (n, h, w, c))


def test_flip_is_deterministic_an_involution_and_mirrors():
  x = images()
  a = augment.random_flip_lr(KEY, x)
  np.testing.assert_array_equal(a, augment.random_flip_lr(KEY, x))
  np.testing.assert_array_equal(augment.random_flip_lr(KEY, augment.random_flip_lr(KEY, x, 1.0), 1.0), x)
  np.testing.assert_array_equal(augment.random_flip_lr(KEY, x, 1.0), x[:, :, ::-1])
  np.testing.assert_array_equal(augment.random_flip_lr(KEY, x, 0.0), x)
  flipped = [bool(np.array_equal(a[i], x[i, :, ::-1])) for i in range(5)]
  same = [bool(np.array_equal(a[i], x[i])) for i in range(5)]
  assert all(f or s for f, s in zip(flipped, same))


def test_random_crop_is_a_window_of_the_padded_image():
  x = images(n=6)
  p = 2
  out = jax.jit(augment.random_crop, static_argnums=2)(KEY, x, p)
  assert out.shape == x.shape
  padded = np.pad(np.asarray(x), ((0, 0), (p, p), (p, p), (0, 0)))
  offsets = set()
  for i in range(6):
    matches = [(dy, dx) for dy in range(2 * p + 1) for dx in range(2 * p + 1)
               if np.array_equal(out[i], padded[i, dy:dy + 8, dx:dx + 8])]
    assert matches, f"image {i} is not a crop of its padded self"
    offsets.add(matches[0])
  assert len(offsets) > 1  # different images got different shifts
  np.testing.assert_array_equal(augment.random_crop(KEY, x, 0), x)
  np.testing.assert_array_equal(out, augment.random_crop(KEY, x, p))
  with pytest.raises(ValueError, match="padding: expected a non-negative"):
    augment.random_crop(KEY, x, -1)


def test_color_jitter_bounds():
  x = images()
  bright = augment.color_jitter(KEY, x, brightness=0.3, contrast=0.0)
  shift = np.asarray((bright - x).mean(axis=(1, 2, 3)))
  np.testing.assert_allclose(np.asarray(bright - x), shift[:, None, None, None] * np.ones(x.shape), atol=1e-5)
  assert np.all(np.abs(shift) <= 0.3) and np.std(shift) > 0
  con = augment.color_jitter(KEY, x, brightness=0.0, contrast=0.5)
  np.testing.assert_allclose(con.mean(axis=(1, 2, 3)), x.mean(axis=(1, 2, 3)), atol=1e-5)
  ratio = np.asarray(con.std(axis=(1, 2, 3)) / x.std(axis=(1, 2, 3)))
  assert np.all((ratio >= 0.5 - 1e-5) & (ratio <= 1.5 + 1e-5))


def test_pca_color_jitter_moves_along_principal_components():
  rng = np.random.default_rng(0)
  colours = rng.standard_normal((2000, 3)) @ np.array([[2.0, 0.5, 0.0], [0.0, 1.0, 0.2], [0.0, 0.0, 0.3]])
  x = jnp.asarray(colours.reshape(20, 10, 10, 3), jnp.float32)
  eigvals, eigvecs = augment.pca_basis(x)
  np.testing.assert_allclose(eigvecs @ jnp.diag(eigvals) @ eigvecs.T, np.cov(colours, rowvar=False), rtol=1e-3, atol=1e-3)
  out = augment.pca_color_jitter(KEY, x, eigvals, eigvecs)
  offset = np.asarray(out - x)
  np.testing.assert_allclose(offset, offset[:, :1, :1, :] * np.ones_like(offset), atol=1e-5)  # one offset per image
  np.testing.assert_array_equal(augment.pca_color_jitter(KEY, x, eigvals, eigvecs, std=0.0), x)
  with pytest.raises(ValueError, match=r"eigvals, eigvecs: expected shapes \(3,\) and \(3, 3\)"):
    augment.pca_color_jitter(KEY, x, eigvals[:2], eigvecs)


def test_cutout_zeroes_one_clipped_square():
  x = jnp.ones((50, 10, 10, 1))
  out = np.asarray(augment.cutout(KEY, x, 4))
  for img in out[..., 0]:
    ys, xs = np.nonzero(img == 0)
    assert len(ys) > 0
    h, w = ys.max() - ys.min() + 1, xs.max() - xs.min() + 1
    assert len(ys) == h * w and h <= 4 and w <= 4  # a rectangle: the square clipped by the border
    assert h >= 2 and w >= 2
  assert (out == 0).sum(axis=(1, 2, 3)).max() == 16
  with pytest.raises(ValueError, match=r"size: expected a square side in \(0, 10\]"):
    augment.cutout(KEY, x, 11)


def test_ten_crop_and_the_resnet_test_protocol():
  x = images(n=2, h=12, w=12, c=3)
  views = augment.ten_crop(x, 8)
  assert views.shape == (10, 2, 8, 8, 3)
  np.testing.assert_array_equal(views[0], x[:, :8, :8])
  np.testing.assert_array_equal(views[3], x[:, 4:, 4:])
  np.testing.assert_array_equal(views[4], x[:, 2:10, 2:10])
  np.testing.assert_array_equal(views[5:], views[:5, :, :, ::-1])
  scales = augment.multi_scale_ten_crop(x, scales=(8, 10, 12, 14, 16), crop=8)
  assert len(scales) == 5 and sum(v.shape[0] for v in scales) == 50
  probs = augment.average_over_views(lambda v: jax.nn.softmax(v.mean(axis=(1, 2))), scales)
  assert probs.shape == (2, 3)
  np.testing.assert_allclose(probs.sum(axis=-1), 1.0, rtol=1e-6)
  with pytest.raises(ValueError, match="scales: every scale must be >= crop"):
    augment.multi_scale_ten_crop(x, scales=(6,), crop=8)


def test_random_scale_crop_shape_and_identity_at_unit_scale():
  x = images(n=3, h=16, w=16, c=3)
  out = jax.jit(augment.random_scale_crop, static_argnums=(2, 3))(KEY, x, (20, 30), 12)
  assert out.shape == (3, 12, 12, 3)
  same = augment.random_scale_crop(KEY, x, (16, 16), 16)
  np.testing.assert_allclose(same, x, atol=1e-5)
  with pytest.raises(ValueError, match="scale_range: expected crop <= low <= high"):
    augment.random_scale_crop(KEY, x, (8, 30), 12)


def test_augment_pipeline_by_name_is_jittable_and_deterministic():
  x = images()
  ops = (("crop", {"padding": 1}), ("cutout", {"size": 3}), ("color", {"brightness": 0.1, "contrast": 0.1}))
  fn = jax.jit(lambda k, im: augment.augment(k, im, ops))
  np.testing.assert_array_equal(fn(KEY, x), fn(KEY, x))
  assert not np.array_equal(fn(KEY, x), fn(jax.random.PRNGKey(1), x))
  with pytest.raises(ValueError, match="augment: expected names from"):
    augment.augment(KEY, x, (("rotate", {}),))
  with pytest.raises(ValueError, match="images: expected an NHWC batch"):
    augment.random_flip_lr(KEY, x[0])


def test_random_affine_is_the_identity_at_zero_and_rotates_about_the_centre():
  key = jax.random.PRNGKey(3)
  images = jax.random.uniform(jax.random.PRNGKey(4), (4, 9, 9, 2))
  np.testing.assert_allclose(augment.random_affine(key, images, degrees=0.0, scale=0.0), images, atol=1e-6)
  a = augment.random_affine(key, images, degrees=15.0, scale=0.1)
  b = jax.jit(lambda k, x: augment.random_affine(k, x, degrees=15.0, scale=0.1))(key, images)
  assert a.shape == images.shape and a.dtype == images.dtype
  np.testing.assert_allclose(a, b, atol=1e-6)  # deterministic given the key, and jittable
  assert not np.allclose(a, images)
  # A centred, radially symmetric blob f = exp(-r^2 / 8) is unchanged by any rotation up to bilinear
  # interpolation's error, at most h^2/8 * (|f_xx| + |f_yy|) <= 2/8 * 1/4 = 0.0625 on a unit grid,
  # plus the blob's value where a corner samples outside the image (exp(-4) < 0.02): < 0.08.
  # An off-centre dot moves.
  yy, xx = np.mgrid[:9, :9] - 4.0
  blob = np.exp(-(yy ** 2 + xx ** 2) / 8.0).astype(np.float32)[None, :, :, None].repeat(4, 0)
  rotated = augment.random_affine(key, jnp.asarray(blob), degrees=45.0)
  assert float(jnp.abs(rotated - blob).max()) < 0.08
  dot = np.zeros((4, 9, 9, 1), np.float32)
  dot[:, 1, 4] = 1.0
  assert float(jnp.abs(augment.random_affine(key, jnp.asarray(dot), degrees=45.0) - dot).sum()) > 1.0
  with pytest.raises(ValueError, match="degrees: expected a non-negative angle"):
    augment.random_affine(key, images, degrees=-1.0)
  with pytest.raises(ValueError, match="scale: expected 0 <= scale < 1"):
    augment.random_affine(key, images, scale=1.0)
