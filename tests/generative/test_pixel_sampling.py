"""The sequential sampler (one jitted scan of H*W*C steps, first-pixel modes), the exact NLL, bad
input, and a pixel model's training on the engine (resumed)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from cs231n_jax.generative import autoregressive as ar
from cs231n_jax.generative.baselines import IndependentPixels, fit_independent
from cs231n_jax.generative.data import check_levels, discrete_bound_offset, load_level_digits, nats_to_bits_per_dim
from cs231n_jax.generative.pixelcnn import PixelCNN
from cs231n_jax.models.registry import get_model
from cs231n_jax.tasks.likelihood import train_pixel_model

TINY = (3, 3, 1)


def tiny_pixelcnn(levels=2, shape=TINY):
  return PixelCNN(num_levels=levels, image_shape=shape, features=6, num_layers=1, first_kernel=3, head_features=6)


def scan_lengths(jaxpr, depth=0, out=None):
  """(length, nesting depth) of every scan in a (closed) jaxpr, recursively."""
  out = [] if out is None else out
  for eqn in jaxpr.eqns:
    if eqn.primitive.name == "scan":
      out.append((eqn.params["length"], depth))
    for v in eqn.params.values():
      for sub in (v if isinstance(v, (tuple, list)) else (v,)):
        inner = getattr(sub, "jaxpr", sub)
        if hasattr(inner, "eqns"):
          scan_lengths(inner, depth + (eqn.primitive.name == "scan"), out)
  return out


def test_sampler_is_one_scan_of_h_w_c_network_evaluations():
  model = tiny_pixelcnn(shape=(4, 5, 1))
  params = ar.init_pixel_model(model, 0)
  jaxpr = jax.make_jaxpr(lambda p, k: ar.sample(model, {"params": p}, k, 2))(params, jax.random.key(0))
  outer = [length for length, depth in scan_lengths(jaxpr.jaxpr) if depth == 0]
  assert outer == [20] == [ar.num_sampling_steps(model)]


def test_samples_have_the_model_shape_and_levels_and_are_reproducible():
  model = tiny_pixelcnn(levels=5)
  params = ar.init_pixel_model(model, 1)
  a = ar.sample(model, {"params": params}, jax.random.key(3), 16)
  b = ar.sample(model, {"params": params}, jax.random.key(3), 16)
  assert a.shape == (16, 3, 3, 1) and a.dtype == jnp.int32
  assert int(a.min()) >= 0 and int(a.max()) <= 4
  np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
  check_levels(np.asarray(a), 5, TINY)


def test_sampler_draws_from_the_model_distribution():
  # Independent pixels with known marginals: sample frequencies within 4 standard errors.
  p = np.array([0.2, 0.8], np.float32)
  model = IndependentPixels(num_levels=2, image_shape=(2, 2, 1))
  variables = {"params": {"logits": jnp.log(jnp.broadcast_to(p, (2, 2, 1, 2)))}}
  x = np.asarray(ar.sample(model, variables, jax.random.key(0), 4000))
  se = np.sqrt(0.8 * 0.2 / 4000)
  assert np.all(np.abs(x.reshape(4000, -1).mean(0) - 0.8) < 4 * se)


@pytest.mark.parametrize("mode,probs,target", [("empirical", [0.9, 0.1], 0.1), ("uniform", None, 0.5)])
def test_first_pixel_modes(mode, probs, target):
  model = tiny_pixelcnn()
  params = ar.init_pixel_model(model, 2)
  n = 3000
  x = np.asarray(ar.sample(model, {"params": params}, jax.random.key(5), n, first_pixel=mode, first_pixel_probs=probs))
  freq = x[:, 0, 0, 0].mean()
  assert abs(freq - target) < 3 * np.sqrt(target * (1 - target) / n)


def test_first_pixel_marginal_is_the_smoothed_training_frequency():
  images = np.zeros((10, 2, 2, 1), np.int32)
  images[:3, 0, 0, 0] = 1
  np.testing.assert_allclose(ar.first_pixel_marginal(images, 2), [7.5 / 11, 3.5 / 11])


def test_exact_nll_is_the_sum_of_per_pixel_cross_entropies():
  model = tiny_pixelcnn(levels=3)
  params = ar.init_pixel_model(model, 0)
  x = np.random.RandomState(0).randint(0, 3, (5, *TINY))
  logits = np.asarray(model.apply({"params": params}, jnp.asarray(x)), np.float64)
  logp = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
  manual = np.array([sum(logp[n, i, j, 0, x[n, i, j, 0]] for i in range(3) for j in range(3)) for n in range(5)])
  np.testing.assert_allclose(ar.log_prob(model, {"params": params}, x), manual, rtol=1e-5)
  report = ar.nll_report(model, {"params": params}, x)
  assert report["bits_per_dim"] == pytest.approx(-manual.mean() / (9 * np.log(2)), rel=1e-5)


def test_bad_inputs_raise_one_line_value_errors():
  model = tiny_pixelcnn(levels=2)
  params = {"params": ar.init_pixel_model(model, 0)}
  cases = [
      (lambda: ar.log_prob(model, params, np.full((1, *TINY), 2)), "intensity levels 0..1"),
      (lambda: ar.log_prob(model, params, np.full((1, *TINY), -1)), "intensity levels 0..1"),
      (lambda: ar.log_prob(model, params, np.full((1, *TINY), 0.5)), "non-integer"),
      (lambda: ar.log_prob(model, params, np.zeros((1, 4, 4, 1), np.int32)), "(N, 3, 3, 1)"),
      (lambda: ar.sample(model, params, jax.random.key(0), 2, shape=(8, 8, 1)), "shape: PixelCNN was built for (3, 3, 1)"),
      (lambda: ar.sample(model, params, jax.random.key(0), 2, first_pixel="corner"), "first_pixel"),
      (lambda: ar.sample(model, params, jax.random.key(0), 2, first_pixel="empirical"), "first_pixel_probs"),
      (lambda: model.apply(params, jnp.zeros((1, 8, 8, 1), jnp.int32)), "images: PixelCNN was built for"),
      (lambda: get_model("pixelgan", num_levels=2, image_shape=TINY), "model.name"),
      (lambda: get_model("pixelcnn", num_levels=2, image_shape=TINY, hidden=3), "model.hidden"),
  ]
  for fn, text in cases:
    with pytest.raises(ValueError) as e:
      fn()
    assert text in str(e.value) and "\n" not in str(e.value)


def test_digit_levels_use_the_project_split():
  data = load_level_digits(binarize=False)
  assert (len(data.train), len(data.val), len(data.test)) == (1257, 180, 360)
  assert data.num_levels == 17 and data.train.max() == 16 and data.train.dtype == np.int32
  binary = load_level_digits(binarize=True)
  np.testing.assert_array_equal(binary.test, (data.test >= 8).astype(np.int32))
  assert 0.3 < binary.train.mean() < 0.35  # ~32% of the pixels are ink


def test_independent_baseline_matches_the_curriculum_number():
  data = load_level_digits(binarize=True)
  model, variables = fit_independent(data.train, 2)
  # 25.21 nats/image on the curriculum's own split (002_generative.md, sec. 5.1); this split: 25.21 too.
  assert ar.nll_report(model, variables, data.test)["nats"] == pytest.approx(25.21, abs=0.01)


def test_unit_conversions():
  assert nats_to_bits_per_dim(64 * np.log(2), 64) == pytest.approx(1.0)
  assert discrete_bound_offset(64, 17) == pytest.approx(64 * np.log(17))
  assert ar.log_uniform_nats((8, 8, 1), 2) == pytest.approx(64 * np.log(2))


def test_training_lowers_the_validation_nll_and_a_resumed_run_ends_where_a_whole_one_does(tmp_path):
  data = load_level_digits(binarize=True)
  model = PixelCNN(num_levels=2, image_shape=(8, 8, 1), features=8, num_layers=1, first_kernel=3, head_features=8)
  kw = dict(learning_rate=3e-3, batch_size=128, seed=0)
  train, val = data.train[:512], data.val
  straight = train_pixel_model(model, train, val, num_epochs=3, **kw)  # 4 steps an epoch, a temporary workdir
  assert straight.val_losses[-1] < straight.val_losses[0] < 45.0 and straight.epochs == 3
  first = train_pixel_model(model, train, val, num_epochs=2, workdir=str(tmp_path), **kw)
  resumed = train_pixel_model(model, train, val, num_epochs=3, workdir=str(tmp_path), **kw)
  assert first.epochs == 2 and resumed.epochs == 3 and resumed.results["status"] == "trained"
  assert resumed.val_losses == pytest.approx(straight.val_losses, rel=1e-6)
  for a, b in zip(jax.tree.leaves(straight.best_params), jax.tree.leaves(resumed.best_params)):
    np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
