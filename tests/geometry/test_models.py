"""The 3-D networks and NeRF's maths: PointNet's permutation invariance (exact), the input transform
at the identity, shapes, volume rendering and hierarchical (inverse-CDF) sampling against NumPy, the ray caster."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from cs231n_jax.geometry import rendering, sdf
from cs231n_jax.models import get_model, list_models

KEY = jax.random.key(0)


def test_the_3d_family_is_registered():
  assert set(list_models("3d")) == {"pointnet", "voxel_cnn", "occupancy_net", "nerf"}


def test_pointnet_is_exactly_permutation_invariant():
  model = get_model("pointnet", num_classes=12, features=(16, 32), head=(16,))
  x = jax.random.normal(KEY, (3, 64, 3))
  variables = model.init(KEY, x)
  perm = jax.random.permutation(jax.random.key(1), 64)
  out = model.apply(variables, x)
  assert out.shape == (3, 12)
  np.testing.assert_array_equal(out, model.apply(variables, x[:, perm]))
  # without the max-pool's symmetry (e.g. flattening) the order would matter: the encoder's features differ per point
  with pytest.raises(ValueError, match=r"points: expected a batch of point clouds \(B, N, 3\)"):
    model.apply(variables, x[0])


def test_input_transform_starts_at_the_identity():
  from cs231n_jax.geometry.models import InputTransform

  x = jax.random.normal(KEY, (2, 32, 3))
  t = InputTransform()
  np.testing.assert_allclose(t.apply(t.init(KEY, x), x), x, atol=1e-6)


def test_voxel_cnn_and_occupancy_shapes():
  cnn = get_model("voxel_cnn", num_classes=5, features=(4, 8), hidden=16)
  v = jnp.zeros((2, 8, 8, 8, 1))
  assert cnn.apply(cnn.init(KEY, v), v).shape == (2, 5)
  occ = get_model("occupancy_net", code_size=8, encoder_features=(8,), decoder=(16,))
  cloud, q = jnp.zeros((2, 10, 3)), jnp.zeros((2, 7, 3))
  variables = occ.init(KEY, cloud, q)
  assert occ.apply(variables, cloud, q).shape == (2, 7)
  # the shape code does not depend on the order of the cloud's points
  c = jax.random.normal(KEY, (2, 10, 3))
  np.testing.assert_array_equal(occ.apply(variables, c, q), occ.apply(variables, c[:, ::-1], q))


def test_positional_encoding():
  x = jnp.array([[0.25, -0.5, 1.0]])
  enc = rendering.positional_encoding(x, 2)
  assert enc.shape == (1, 3 * (1 + 2 * 2))
  ref = np.concatenate([x[0], np.sin(np.pi * x[0]), np.sin(2 * np.pi * x[0]), np.cos(np.pi * x[0]), np.cos(2 * np.pi * x[0])])
  np.testing.assert_allclose(enc[0], ref, atol=1e-6)


def test_volume_rendering_matches_numpy():
  rng = np.random.default_rng(0)
  sigma = rng.uniform(0, 3, (4, 6)).astype(np.float32)
  rgb = rng.uniform(0, 1, (4, 6, 3)).astype(np.float32)
  t = np.sort(rng.uniform(1, 3, (4, 6)), -1).astype(np.float32)
  bg = np.array([1.0, 1.0, 1.0], np.float32)
  out, w, _ = rendering.volume_render(jnp.asarray(sigma), jnp.asarray(rgb), jnp.asarray(t), bg)
  for r in range(4):  # the quadrature written as a loop
    trans, colour, acc = 1.0, np.zeros(3), 0.0
    for i in range(6):
      delta = t[r, i + 1] - t[r, i] if i < 5 else 1e10
      alpha = 1 - np.exp(-sigma[r, i] * delta)
      colour += trans * alpha * rgb[r, i]
      acc += trans * alpha
      np.testing.assert_allclose(w[r, i], trans * alpha, rtol=1e-4, atol=1e-6)
      trans *= 1 - alpha
    np.testing.assert_allclose(out[r], colour + (1 - acc) * bg, rtol=1e-4)
  # an opaque first sample gives its colour; empty space gives the background
  solid, _, _ = rendering.volume_render(jnp.full((1, 3), 1e4), jnp.asarray(rgb[:1, :3]), jnp.asarray(t[:1, :3]), bg)
  np.testing.assert_allclose(solid[0], rgb[0, 0], atol=1e-5)
  empty, _, _ = rendering.volume_render(jnp.zeros((1, 3)), jnp.asarray(rgb[:1, :3]), jnp.asarray(t[:1, :3]), bg)
  np.testing.assert_allclose(empty[0], bg)


def reference_inverse_cdf(bins, weights, u):
  """NumPy: the piecewise-constant pdf ∝ weights + 1e-5 on ``bins`` (sample_pdf's floor), its CDF inverted by
  linear interpolation (exact for a piecewise-linear CDF)."""
  w = np.asarray(weights, np.float64) + 1e-5
  cdf = np.concatenate([[0.0], np.cumsum(w / w.sum())])
  return np.interp(u, cdf, bins), cdf


def test_inverse_cdf_samples_follow_a_piecewise_constant_pdf():
  bins = np.array([[0.0, 0.5, 1.5, 2.0, 4.0], [1.0, 1.2, 1.4, 3.0, 3.5]])
  weights = np.array([[0.0, 2.0, 0.0, 1.0], [1.0, 0.0, 0.0, 3.0]])
  # deterministic quantiles: exactly the inverse CDF at u = i / (n + 1)
  n = 7
  got = np.asarray(rendering.sample_pdf(KEY, jnp.asarray(bins), jnp.asarray(weights), n, randomized=False))
  u = np.arange(1, n + 1) / (n + 1)
  for r in range(2):
    np.testing.assert_allclose(got[r], reference_inverse_cdf(bins[r], weights[r], u)[0], atol=1e-5)
  # random samples: the Kolmogorov-Smirnov distance to the piecewise-linear CDF under its 5% critical value,
  # and (almost) no mass in the zero-weight bins
  m = 20_000
  s = np.asarray(rendering.sample_pdf(KEY, jnp.asarray(bins), jnp.asarray(weights), m))
  for r in range(2):
    _, cdf = reference_inverse_cdf(bins[r], weights[r], 0.0)
    x = np.sort(s[r])
    model = np.interp(x, bins[r], cdf)
    ks = max(np.max(np.arange(1, m + 1) / m - model), np.max(model - np.arange(m) / m))
    assert ks < 1.36 / np.sqrt(m), ks
  assert np.mean((s[0] > 1.5) & (s[0] < 2.0)) < 1e-3 and np.mean((s[0] >= 0.5) & (s[0] <= 1.5)) > 0.6


def test_hierarchical_samples_are_the_sorted_union_without_gradient():
  near, far = 2.0, 4.0
  t = rendering.stratified_samples(KEY, 3, 6, near, far)
  weights = jax.random.uniform(jax.random.key(1), (3, 6))
  key = jax.random.key(2)
  got = rendering.hierarchical_samples(key, t, weights, 5, near, far)
  tn = np.asarray(t, np.float64)
  mids = 0.5 * (tn[:, 1:] + tn[:, :-1])
  bins = np.concatenate([np.full((3, 1), near), mids, np.full((3, 1), far)], -1)
  fine = np.asarray(rendering.sample_pdf(key, jnp.asarray(bins, jnp.float32), weights, 5))
  np.testing.assert_allclose(got, np.sort(np.concatenate([tn, fine], -1), -1), atol=1e-6)
  assert np.all(np.diff(np.asarray(got), axis=-1) >= 0) and got.shape == (3, 11)
  # the fine samples carry no gradient into the coarse weights (the paper trains the coarse net by its own loss)
  g = jax.grad(lambda w: jnp.sum(rendering.hierarchical_samples(key, t, w, 5, near, far) ** 2))(weights)
  np.testing.assert_array_equal(g, 0.0)


def test_sphere_tracer_hits_a_sphere_exactly():
  scene = rendering.Scene(objects=(sdf.sphere(1.0),), albedos=((1.0, 0.0, 0.0),), light=(0.0, 0.0, -1.0), ambient=0.0)
  o = jnp.array([[0.0, 0.0, -5.0], [0.0, 3.0, -5.0]])
  d = jnp.array([[0.0, 0.0, 1.0], [0.0, 0.0, 1.0]])
  t, hit = rendering.sphere_trace(scene, o, d)
  assert bool(hit[0]) and not bool(hit[1])
  np.testing.assert_allclose(float(t[0]), 4.0, atol=1e-4)
  colour = jax.jit(rendering.shade, static_argnums=0)(scene, o, d)  # one compilation, 8x faster than eager
  np.testing.assert_allclose(colour, [[1.0, 0.0, 0.0], [1.0, 1.0, 1.0]], atol=1e-4)  # head-on light; background
  assert float(rendering.psnr(colour, colour + 0.1)) == pytest.approx(20.0, abs=1e-3)


def test_the_exact_field_through_the_quadrature():
  """The exact scene as a NeRF field: a head-on ray gets the ray caster's colour, a miss the background, and the
  whole view's PSNR against the ray caster rises with the samples (the ceiling of a NeRF's sampling)."""
  scene = rendering.Scene(objects=(sdf.sphere(0.6),), albedos=((0.9, 0.2, 0.2),), light=(0.3, -0.2, 1.0))
  camera = rendering.orbit_camera(0.3, 0.4, 3.0, 16)
  eye = np.asarray(camera.position, np.float32)
  # the view's 256 rays, then a head-on ray through the sphere's centre and a ray that misses
  o, d = rendering.camera_rays(camera, 16)
  o = jnp.concatenate([o, jnp.asarray([eye, eye])])
  d = jnp.concatenate([d, jnp.asarray([-eye / np.linalg.norm(eye), [0.0, 0.0, 1.0]])])
  truth = jax.jit(rendering.shade, static_argnums=0)(scene, o, d)
  field, bg = rendering.exact_field(scene), jnp.ones(3)
  coarse, fine = (rendering.quadrature_render(field, o, d, 2.0, 4.0, s, bg) for s in (8, 128))
  np.testing.assert_allclose(coarse[-2], truth[-2], atol=1e-5)
  np.testing.assert_array_equal(coarse[-1], [1.0, 1.0, 1.0])
  psnr = [float(rendering.psnr(c[:-2], truth[:-2])) for c in (coarse, fine)]
  assert psnr[1] > psnr[0] + 6.0, psnr
  # hierarchical sampling: 8 coarse + 8 fine samples drawn from the coarse weights beat the 8 coarse alone
  hier = rendering.quadrature_render(field, o, d, 2.0, 4.0, 8, bg, fine_samples=8)
  np.testing.assert_allclose(hier[-2], truth[-2], atol=1e-5)
  np.testing.assert_array_equal(hier[-1], [1.0, 1.0, 1.0])
  assert float(rendering.psnr(hier[:-2], truth[:-2])) > psnr[0] + 3.0, psnr  # measured: 37.6 -> 45.9 dB


def test_edge_pixels_and_error_breakdown():
  img = np.ones((6, 7, 3))
  img[2:4, 3:5] = [0.9, 0.2, 0.2]  # a red square on white
  ref = np.zeros((6, 7), bool)
  for i in range(6):  # the definition as a loop over 4-neighbours
    for j in range(7):
      for di, dj in ((1, 0), (-1, 0), (0, 1), (0, -1)):
        if 0 <= i + di < 6 and 0 <= j + dj < 7 and np.abs(img[i, j] - img[i + di, j + dj]).max() > 0.1:
          ref[i, j] = True
  np.testing.assert_array_equal(rendering.edge_pixels(img), ref)
  assert ref.sum() == 4 + 8  # the square and the 8 white pixels beside it
  pred = img.copy()
  pred[2, 3] = 1.0  # one wrong pixel, on an edge
  b = rendering.error_breakdown(pred, img)
  assert b["edge_error_share"] == 1.0 and b["psnr_non_edge"] == pytest.approx(120.0)
  assert b["edge_pixel_fraction"] == pytest.approx(12 / 42)
  np.testing.assert_allclose(b["psnr_edge"], -10 * np.log10(np.mean([0.01, 0.64, 0.64]) / 12))
