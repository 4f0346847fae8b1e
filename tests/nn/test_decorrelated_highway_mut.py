"""Decorrelated batch norm (whitening), highway layers and the MUT1-3 cells."""

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.test_util import check_grads

from cs231n_jax.errors import ConfigError
from cs231n_jax.nn.decorrelated_norm import DecorrelatedBatchNorm, whiten
from cs231n_jax.nn.highway import Highway
from cs231n_jax.nn.mut_cells import VARIANTS, MUTCell


def _correlated(seed, n, d):
  rng = np.random.default_rng(seed)
  A = rng.normal(size=(d, d))
  return (rng.normal(size=(n, d)) @ A + rng.normal(size=d) * 3).astype(np.float32)


def test_whitened_batch_has_identity_covariance_and_matches_numpy_zca():
  x = _correlated(0, 512, 8)
  y, _, _ = whiten(jnp.asarray(x), eps=1e-5)
  y = np.asarray(y, np.float64)
  cov = np.cov(y, rowvar=False, bias=True)
  assert np.abs(cov - np.eye(8)).max() < 1e-3  # the lecture's claim: covariance ≈ I
  assert np.abs(y.mean(0)).max() < 1e-4
  # Plain BN leaves the correlations: its covariance is far from I.
  bn = (x - x.mean(0)) / x.std(0)
  assert np.abs(np.cov(bn, rowvar=False, bias=True) - np.eye(8)).max() > 0.1
  # NumPy ZCA reference in float64.
  xd = x.astype(np.float64)
  c = np.cov(xd, rowvar=False, bias=True) + 1e-5 * np.eye(8)
  lam, U = np.linalg.eigh(c)
  ref = (xd - xd.mean(0)) @ (U @ np.diag(lam**-0.5) @ U.T)
  np.testing.assert_allclose(y, ref, atol=2e-3)


def test_whitening_gradient_float64():
  with jax.enable_x64(True):
    x = jnp.asarray(_correlated(1, 40, 4), jnp.float64)
    w = jnp.asarray(np.random.default_rng(2).normal(size=(40, 4)))
    check_grads(lambda x: jnp.sum(whiten(x, 1e-5)[0] * w), (x,), order=1, modes=["rev"], atol=1e-6, rtol=1e-6)


def test_decorrelated_bn_module_train_and_eval_with_groups():
  x = jnp.asarray(_correlated(3, 256, 6)).reshape(16, 4, 4, 6)  # NHWC: 256 samples of 6 features
  layer = DecorrelatedBatchNorm(groups=2, momentum=0.0)
  variables = layer.init(jax.random.key(0), x, train=True)
  y, state = layer.apply(variables, x, train=True, mutable=["batch_stats"])
  flat = np.asarray(y, np.float64).reshape(-1, 6)
  for g in range(2):
    block = flat[:, 3 * g:3 * g + 3]
    assert np.abs(np.cov(block, rowvar=False, bias=True) - np.eye(3)).max() < 1e-3
  # momentum 0: the running statistics are this batch's, so evaluation reproduces training.
  y_eval = layer.apply({**variables, **state}, x, train=False)
  np.testing.assert_allclose(np.asarray(y_eval), np.asarray(y), atol=1e-4)
  # Evaluation of one example does not depend on the others.
  one = layer.apply({**variables, **state}, x[:1], train=False)
  np.testing.assert_allclose(np.asarray(one), np.asarray(y_eval[:1]), atol=1e-6)
  with pytest.raises(ConfigError, match="groups"):
    DecorrelatedBatchNorm(groups=4).init(jax.random.key(0), x, train=True)


def test_highway_layer_formula_and_carry_behaviour():
  x = jnp.asarray(np.random.default_rng(0).normal(size=(5, 7)), jnp.float32)
  layer = Highway(gate_bias=-2.0)
  v = layer.init(jax.random.key(0), x)
  p = v["params"]
  h = np.maximum(np.asarray(x) @ np.asarray(p["H"]["kernel"]) + np.asarray(p["H"]["bias"]), 0)
  t = 1 / (1 + np.exp(-(np.asarray(x) @ np.asarray(p["T"]["kernel"]) + np.asarray(p["T"]["bias"]))))
  np.testing.assert_allclose(np.asarray(layer.apply(v, x)), t * h + (1 - t) * np.asarray(x), atol=1e-5)
  # A closed gate (bias -> -inf) carries x through exactly.
  closed = jax.tree_util.tree_map(lambda a: a, v)
  closed["params"]["T"]["bias"] = jnp.full((7,), -1e4)
  np.testing.assert_allclose(np.asarray(layer.apply(closed, x)), np.asarray(x), atol=1e-6)


def _np_mut(variant, p, h, x):
  s = lambda a: 1 / (1 + np.exp(-a))  # noqa: E731
  p = {k: np.asarray(v, np.float64) for k, v in p.items()}
  if variant == "mut1":
    z = s(x @ p["W_xz"] + p["b_z"])
    r = s(x @ p["W_xr"] + h @ p["W_hr"] + p["b_r"])
    c = np.tanh((r * h) @ p["W_hh"] + np.tanh(x) + p["b_h"])
  elif variant == "mut2":
    z = s(x @ p["W_xz"] + h @ p["W_hz"] + p["b_z"])
    r = s(x + h @ p["W_hr"] + p["b_r"])
    c = np.tanh((r * h) @ p["W_hh"] + x @ p["W_xh"] + p["b_h"])
  else:
    z = s(x @ p["W_xz"] + np.tanh(h) @ p["W_hz"] + p["b_z"])
    r = s(x @ p["W_xr"] + h @ p["W_hr"] + p["b_r"])
    c = np.tanh((r * h) @ p["W_hh"] + x @ p["W_xh"] + p["b_h"])
  return c * z + h * (1 - z)


@pytest.mark.parametrize("variant", VARIANTS)
def test_mut_cells_scan_equals_numpy_loop_and_are_causal(variant):
  rng = np.random.default_rng(0)
  xs = rng.normal(size=(2, 6, 5)).astype(np.float32)
  rnn = nn.RNN(MUTCell(5, variant=variant))
  v = rnn.init(jax.random.key(1), xs)
  p = {k: v2 for k, v2 in v["params"]["cell"].items()}
  # Random biases so that every term is exercised.
  p = {k: (a + 0.3 * rng.normal(size=a.shape).astype(np.float32) if k.startswith("b_") else a) for k, a in p.items()}
  out = np.asarray(rnn.apply({"params": {"cell": p}}, xs))
  h = np.zeros((2, 5))
  for t in range(6):
    h = _np_mut(variant, p, h, xs[:, t].astype(np.float64))
    np.testing.assert_allclose(out[:, t], h, atol=1e-5)
  # Causality: h at step 2 of sequence 0 reads x at steps 0..2 of sequence 0 only.
  jac = jax.jacobian(lambda x: rnn.apply({"params": {"cell": p}}, x)[0, 2])(jnp.asarray(xs))  # (5, 2, 6, 5)
  assert float(jnp.abs(jac[:, 0, 3:]).max()) == 0.0 and float(jnp.abs(jac[:, 1]).max()) == 0.0
  assert float(jnp.abs(jac[:, 0, :3]).max()) > 0


def test_mut1_needs_matching_widths():
  with pytest.raises(ConfigError, match="must equal features"):
    nn.RNN(MUTCell(4, variant="mut1")).init(jax.random.key(0), jnp.zeros((1, 3, 5)))
  v = nn.RNN(MUTCell(4, variant="mut3")).init(jax.random.key(0), jnp.zeros((1, 3, 5)))  # MUT3 has W_xh
  assert v["params"]["cell"]["W_xh"].shape == (5, 4)
