"""VAE identities: the closed-form KL against Monte Carlo, ELBO <= IW_k <= log p(x) with log p(x) by
quadrature over a 2-D latent, log p(x) - ELBO = KL(q || p(z|x)), decoder likelihoods, bad input."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import stats

from cs231n_jax.generative import vae as V
from cs231n_jax.generative.autoencoder import ConvAutoencoder, EncoderClassifier, l2_loss


def test_closed_form_kl_matches_monte_carlo_within_three_standard_errors():
  rng = np.random.default_rng(0)
  mu = jnp.asarray(rng.normal(size=(6, 4)), jnp.float32)
  log_var = jnp.asarray(rng.normal(scale=0.7, size=(6, 4)), jnp.float32)
  closed = np.asarray(V.gaussian_kl(mu, log_var))
  mc, se = V.monte_carlo_kl(jax.random.key(0), mu, log_var, 20000)
  assert np.all(np.abs(closed - np.asarray(mc)) < 3 * np.asarray(se))
  assert np.all(closed > 0)
  np.testing.assert_allclose(np.asarray(V.gaussian_kl(jnp.zeros((1, 3)), jnp.zeros((1, 3)))), [0.0], atol=1e-7)


def test_closed_form_kl_in_float64_matches_the_textbook_formula():
  with jax.enable_x64(True):
    mu, log_var = jnp.array([[0.3, -1.2]]), jnp.array([[0.5, -0.4]])
    var = np.exp(np.asarray(log_var))
    want = 0.5 * np.sum(np.log(1 / var) + var + np.asarray(mu) ** 2 - 1)
    assert float(V.gaussian_kl(mu, log_var)[0]) == pytest.approx(want, rel=1e-12)


def test_reparameterised_samples_have_the_right_moments_and_gradients():
  mu, log_var = jnp.array([1.5, -2.0]), jnp.log(jnp.array([0.25, 4.0]))
  z = np.asarray(V.reparameterize(jax.random.key(1), mu, log_var, 50000))
  np.testing.assert_allclose(z.mean(0), [1.5, -2.0], atol=0.03)
  np.testing.assert_allclose(z.std(0), [0.5, 2.0], rtol=0.02)
  # d E[z] / d mu = 1 and d E[z^2] / d sigma^2 = 1: the path derivative goes through the sample.
  g = jax.grad(lambda m: V.reparameterize(jax.random.key(2), m, log_var, 1000).mean())(mu)
  np.testing.assert_allclose(np.asarray(g), [0.5, 0.5], rtol=1e-6)  # mean over 1000 x 2 entries -> 1/2 each


def test_decoder_log_likelihoods_match_scipy():
  x = np.array([[[[1.0], [0.0]]]], np.float32)  # (1, 1, 2, 1)
  logits = np.array([[[[0.3], [-2.0]]]], np.float32)
  got = float(V.decoder_log_likelihood("bernoulli", {"logits": jnp.asarray(logits)}, jnp.asarray(x))[0])
  p = 1 / (1 + np.exp(-logits))
  assert got == pytest.approx(float(np.log(p[0, 0, 0, 0]) + np.log(1 - p[0, 0, 1, 0])), rel=1e-5)
  mean, log_var = np.array([[[[0.2], [0.9]]]], np.float32), np.array([[[[-1.0], [0.5]]]], np.float32)
  got = float(V.decoder_log_likelihood("gaussian", {"mean": jnp.asarray(mean), "log_var": jnp.asarray(log_var)},
                                       jnp.asarray(x))[0])
  want = stats.norm.logpdf(x.ravel(), mean.ravel(), np.exp(0.5 * log_var.ravel())).sum()
  assert got == pytest.approx(want, rel=1e-5)


@pytest.fixture(scope="module")
def trained_2d_vae():
  """A 2-D-latent Bernoulli VAE fitted briefly to binarised digits (posterior not too wide or narrow)."""
  import optax

  from cs231n_jax.generative.data import load_level_digits

  data = load_level_digits(binarize=True)
  x = jnp.asarray(data.train[:512], jnp.float32)
  model = V.VAE(latent_dim=2, hidden=(64,), decoder="bernoulli")
  params = jax.jit(model.init)(jax.random.key(0), x[:1])["params"]
  tx = optax.adam(3e-3)
  state = tx.init(params)

  @jax.jit
  def step(p, s, k):
    g = jax.grad(lambda q: -V.elbo_terms(model, q, x, k)["elbo"].mean())(p)
    u, s = tx.update(g, s, p)
    return optax.apply_updates(p, u), s

  for i in range(150):
    params, state = step(params, state, jax.random.key(i))
  return model, params, jnp.asarray(data.test[:40], jnp.float32)


def test_elbo_is_below_log_px_by_quadrature_and_the_gap_is_the_posterior_kl(trained_2d_vae):
  """The bound of the lectures, with the 2016 slide's typo corrected: the KL term is against the *prior*
  p(z) (slide text line 824 divides by p(z|x)); the estimator with the closed-form KL(q || p(z)) must equal
  E_q[log p(x|z) + log p(z) - log q(z|x)], and the gap to log p(x) is KL(q || p(z|x)) >= 0 (the 2016
  transcript's "nonzero")."""
  model, params, x = trained_2d_vae
  k = 4000
  # E_q[log w] with log w = log p(x|z) + log p(z) - log q(z|x) is the ELBO; its Monte Carlo standard error
  # per image comes from the same draws. The closed-form-KL estimator must agree with it as well.
  log_w = np.asarray(jax.jit(V.log_importance_weights, static_argnums=(0, 4))(model, params, x, jax.random.key(7), k),
                     np.float64)
  elbo_mc, se = log_w.mean(0), log_w.std(0) / math.sqrt(k)
  elbo_closed_kl = np.asarray(jax.jit(V.elbo_terms, static_argnums=(0, 4))(model, params, x, jax.random.key(8), k)["elbo"])
  log_px = np.asarray(V.quadrature_log_prob(model, params, x), np.float64)
  kl_post = np.asarray(V.quadrature_posterior_kl(model, params, x), np.float64)
  quad_err = 0.01  # midpoint rule on a 200 x 200 grid (checked: halving the step changes log p(x) by < 1e-3)
  assert np.all(elbo_mc <= log_px + 4 * se + quad_err)
  assert np.all(np.abs(elbo_closed_kl - elbo_mc) <= 6 * se + quad_err)
  assert np.mean(log_px - elbo_mc) > 0.05  # a real gap: q is not the exact posterior
  assert np.all(np.abs((log_px - elbo_mc) - kl_post) <= 4 * se + quad_err)
  assert np.all(kl_post >= -1e-4)  # KL(q || p(z|x)) >= 0: the property the bound rests on
  finer = np.asarray(V.quadrature_log_prob(model, params, x[:4], size=400), np.float64)
  assert np.max(np.abs(finer - log_px[:4])) < 1e-3


def test_importance_weighting_tightens_towards_log_px(trained_2d_vae):
  model, params, x = trained_2d_vae
  log_px = np.asarray(V.quadrature_log_prob(model, params, x))
  iw1 = V.importance_weighted_log_prob(model, params, x, jax.random.key(1), k=1).mean()
  iw1000 = V.importance_weighted_log_prob(model, params, x, jax.random.key(2), k=1000).mean()
  assert iw1 < iw1000 <= log_px.mean() + 0.02
  assert log_px.mean() - iw1000 < 0.25 * (log_px.mean() - iw1)


def test_quadrature_grid_and_percentile_grid():
  zz, area = V.latent_grid(4, 2.0)
  assert zz.shape == (16, 2) and area == pytest.approx(1.0)
  np.testing.assert_allclose(np.unique(np.asarray(zz[:, 0])), [-1.5, -0.5, 0.5, 1.5])
  grid = V.prior_percentile_grid(10)
  assert grid.shape == (100, 2)
  assert grid[0, 0] == pytest.approx(stats.norm.ppf(0.05), rel=1e-5)
  assert grid[-1, 1] == pytest.approx(stats.norm.ppf(0.95), rel=1e-5)


def test_gaussian_decoder_variance_has_a_floor_and_conv_arch_builds():
  model = V.VAE(latent_dim=3, hidden=(8,), decoder="gaussian", arch="conv")
  params = jax.jit(model.init)(jax.random.key(0), jnp.zeros((1, 8, 8, 1)))["params"]
  out = model.apply({"params": params}, 50.0 * jnp.ones((2, 3)), method=V.VAE.decode)
  assert out["mean"].shape == (2, 8, 8, 1)
  assert float(out["log_var"].min()) >= V.MIN_DECODER_LOG_VAR
  samples = V.sample_images(model, params, jax.random.key(0), 5)
  assert samples.shape == (5, 8, 8, 1)


def test_bad_vae_inputs_raise_one_line_errors():
  model = V.VAE(latent_dim=2, hidden=(8,))
  params = jax.jit(model.init)(jax.random.key(0), jnp.zeros((1, 8, 8, 1)))["params"]
  cases = [
      (lambda: model.apply({"params": params}, jnp.zeros((1, 4, 4, 1)), method=V.VAE.encode), "x: the VAE was built for"),
      (lambda: model.apply({"params": params}, jnp.zeros((1, 3)), method=V.VAE.decode), "z: expected (..., 2)"),
      (lambda: V.VAE(decoder="poisson").init(jax.random.key(0), jnp.zeros((1, 8, 8, 1))), "decoder"),
      (lambda: V.VAE(arch="rnn").init(jax.random.key(0), jnp.zeros((1, 8, 8, 1))), "arch"),
      (lambda: V.importance_weighted_log_prob(model, params, jnp.zeros((1, 8, 8, 1)), jax.random.key(0), k=0), "k:"),
      (lambda: V.quadrature_log_prob(V.VAE(latent_dim=3), params, jnp.zeros((1, 8, 8, 1))), "latent_dim"),
  ]
  for fn, text in cases:
    with pytest.raises(ValueError) as e:
      fn()
    assert text in str(e.value) and "\n" not in str(e.value)


def test_autoencoder_shapes_loss_and_encoder_transfer():
  ae = ConvAutoencoder(code_dim=5)
  x = jnp.asarray(np.random.RandomState(0).rand(3, 8, 8, 1), jnp.float32)
  params = jax.jit(ae.init)(jax.random.key(0), x)["params"]
  out = ae.apply({"params": params}, x)
  assert out.shape == x.shape and float(out.min()) >= 0 and float(out.max()) <= 1
  assert float(l2_loss(out, x)) == pytest.approx(float(jnp.sum((out - x) ** 2) / 3), rel=1e-6)
  clf = EncoderClassifier(code_dim=5)
  cparams = jax.jit(clf.init)(jax.random.key(1), x)["params"]
  # The classifier's encoder has exactly the autoencoder encoder's parameter tree.
  assert jax.tree.structure(cparams["encoder"]) == jax.tree.structure(params["encoder"])
  codes = ae.apply({"params": params}, x, method=ConvAutoencoder.encode)
  logits = clf.apply({"params": dict(cparams, encoder=params["encoder"])}, x)
  want = jax.nn.relu(codes) @ cparams["classifier"]["kernel"] + cparams["classifier"]["bias"]
  np.testing.assert_allclose(np.asarray(logits), np.asarray(want), rtol=1e-5, atol=1e-6)
  with pytest.raises(ValueError, match="x: the autoencoder was built for"):
    ae.apply({"params": params}, jnp.zeros((1, 4, 4, 1)), method=ConvAutoencoder.encode)


def test_vae_inputs_reject_levels_the_decoder_does_not_model():
  from cs231n_jax.generative.analysis import vae_inputs

  bernoulli = V.VAE(latent_dim=2, hidden=(8,), decoder="bernoulli")
  gaussian = V.VAE(latent_dim=2, hidden=(8,), decoder="gaussian")
  seventeen = np.full((2, 8, 8, 1), 16, np.int32)
  cases = [
      (lambda: vae_inputs(bernoulli, seventeen, jax.random.key(0), 2), "levels: expected intensity levels 0..1"),
      (lambda: vae_inputs(gaussian, seventeen + 1, jax.random.key(0), 17), "levels: expected intensity levels 0..16"),
      (lambda: vae_inputs(gaussian, np.zeros((2, 4, 4, 1), np.int32), jax.random.key(0), 17),
       "levels: expected shape (N, 8, 8, 1)"),
  ]
  for fn, text in cases:
    with pytest.raises(ValueError) as e:
      fn()
    assert text in str(e.value) and "\n" not in str(e.value)
  # Under jit (the training step) the levels are tracers: only their dtype can be checked.
  traced = jax.jit(lambda v: vae_inputs(bernoulli, v, jax.random.key(0), 2))(seventeen // 16)
  np.testing.assert_array_equal(np.asarray(traced), 1.0)
  with pytest.raises(ValueError, match="levels: expected integer intensity levels 0..1, got dtype float32"):
    jax.jit(lambda v: vae_inputs(bernoulli, v, jax.random.key(0), 2))(np.ones((2, 8, 8, 1), np.float32))
  x = np.asarray(vae_inputs(gaussian, seventeen, jax.random.key(0), 17))
  assert np.all((x >= 16 / 17) & (x < 1.0))  # dequantised inside the top level's bin
  np.testing.assert_array_equal(np.asarray(vae_inputs(bernoulli, seventeen // 16, jax.random.key(0), 2)), 1.0)
