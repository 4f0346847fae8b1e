"""The 2016 unsupervised lecture's classical models: the CD-1 gradient and free energy of a Bernoulli RBM
against NumPy, principal angles against scipy, and the two engine runners at toy sizes."""

import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.linalg

from cs231n_jax.errors import ConfigError
from cs231n_jax.generative import rbm
from cs231n_jax.tasks import unsupervised as U


def _sigmoid(x):
  return 1.0 / (1.0 + np.exp(-x))


def _tiny(seed=0, v=5, h=3, n=4):
  rng = np.random.default_rng(seed)
  params = {"W": rng.normal(size=(v, h)), "b": rng.normal(size=v), "c": rng.normal(size=h)}
  return params, (rng.random((n, v)) < 0.5).astype(np.float64), rng.random((n, h)), rng.random((n, v))


@pytest.mark.parametrize("sample_visible", [False, True])
def test_cd1_gradient_matches_numpy(sample_visible):
  p, v0, u_h, u_v = _tiny()
  with jax.enable_x64(True):
    grads, stats = rbm.cd1_gradient({k: jnp.asarray(a) for k, a in p.items()}, jnp.asarray(v0), jnp.asarray(u_h),
                                    jnp.asarray(u_v) if sample_visible else None)
    grads = {k: np.asarray(g) for k, g in grads.items()}
    err = float(stats["reconstruction_error"])
  ph0 = _sigmoid(v0 @ p["W"] + p["c"])
  h0 = (u_h < ph0).astype(float)
  pv1 = _sigmoid(h0 @ p["W"].T + p["b"])
  v1 = (u_v < pv1).astype(float) if sample_visible else pv1
  ph1 = _sigmoid(v1 @ p["W"] + p["c"])
  n = len(v0)
  ref = {"W": -(v0.T @ ph0 - v1.T @ ph1) / n, "b": -(v0 - v1).mean(0), "c": -(ph0 - ph1).mean(0)}
  for k in ref:
    np.testing.assert_allclose(grads[k], ref[k], rtol=1e-10, atol=1e-12)
  np.testing.assert_allclose(err, np.mean(np.sum((v0 - pv1) ** 2, 1)), rtol=1e-10)


def test_free_energy_is_minus_log_sum_over_hidden_states():
  p, v0, _, _ = _tiny(1, v=4, h=3)
  with jax.enable_x64(True):
    fe = np.asarray(rbm.free_energy({k: jnp.asarray(a) for k, a in p.items()}, jnp.asarray(v0)))
  hs = np.array(list(itertools.product([0, 1], repeat=3)), float)
  for row, f in zip(v0, fe):
    energies = -(row @ p["b"]) - hs @ p["c"] - (row @ p["W"]) @ hs.T
    np.testing.assert_allclose(f, -np.log(np.exp(-energies).sum()), rtol=1e-10)


def test_principal_angles_match_scipy():
  rng = np.random.default_rng(0)
  a, b = rng.normal(size=(9, 3)), rng.normal(size=(9, 4))
  np.testing.assert_allclose(rbm.principal_angles(a, b), np.sort(scipy.linalg.subspace_angles(a, b)), atol=1e-10)
  np.testing.assert_allclose(rbm.principal_angles(a, a @ rng.normal(size=(3, 3))), 0.0, atol=1e-6)


def _config(**kw):
  c = U.base_config()
  c.train.num_steps = 400
  c.train.eval_every = 400
  c.train.log_every = 100
  c.train.progress = False
  for k, v in kw.items():
    node = c
    *parents, leaf = k.split(".")
    for q in parents:
      node = node[q]
    node[leaf] = v
  return c


def test_tied_linear_autoencoder_spans_the_top_principal_subspace(tmp_path):
  r = U.run_linear_ae(_config(**{"model.num_hidden": 4, "optimizer.schedule.name": "cosine"}), str(tmp_path))
  # span(W) against the top-4 PCA directions of the same training set (principal_angles equals scipy's, above)
  assert r["max_principal_angle_deg"] < 2.0
  assert 0.9999 * r["pca_train_reconstruction_error"] <= r["train_loss"] < 1.01 * r["pca_train_reconstruction_error"]  # PCA: the optimum
  with pytest.raises(ConfigError, match="model.num_hidden"):
    U.run_linear_ae(_config(**{"model.num_hidden": 64}), str(tmp_path / "x"))


def test_rbm_greedy_stack_reconstructs_better_and_probes(tmp_path):
  c = _config(**{"runner": U.RBM_RUNNER, "data.subtract_mean": False, "rbm.hidden_sizes": (32, 16), "optimizer.name": "momentum",
                 "optimizer.learning_rate": 0.5, "train.num_steps": 150, "train.eval_every": 150, "train.log_every": 10})
  c.optimizer.momentum = 0.5
  r = U.run_rbm(c, str(tmp_path))
  first, last = r["layers"][0]["train_reconstruction_error_first_last"]
  assert last < 0.7 * first
  assert r["layers"][1]["visible"] == 32 and r["layers"][1]["hidden"] == 16
  assert r["probe_test_accuracy"]["rbm1"] > 0.8
  with pytest.raises(ConfigError, match="data"):
    U.run_rbm(_config(**{"data.subtract_mean": True}), str(tmp_path / "y"))

