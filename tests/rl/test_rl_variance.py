"""The estimator-variance study's pieces against NumPy (reward-to-go, the weights, the bootstrap
interval), and the ordering the lecture claims on a small CartPole sample."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from cs231n_jax.studies import rl_variance as V


def test_weights_against_numpy():
  rng = np.random.default_rng(0)
  T, N = 6, 3
  alive = np.ones((T, N), np.float32)
  alive[4:, 0] = 0.0  # the first episode ends after 4 steps
  traj = {"reward": jnp.asarray(rng.uniform(size=(T, N)).astype(np.float32) * alive), "alive": jnp.asarray(alive)}
  r = np.asarray(traj["reward"])
  togo = np.array([[sum(0.9 ** (k - t) * r[k, i] for k in range(t, T)) for i in range(N)] for t in range(T)])
  base = np.arange(T, dtype=np.float32)
  np.testing.assert_allclose(V.weights(traj, "discounted_baseline", 0.9, jnp.asarray(base)),
                             (togo - base[:, None]) * alive, rtol=1e-5, atol=1e-6)
  np.testing.assert_allclose(V.weights(traj, "return", 0.9), np.broadcast_to(r.sum(0), (T, N)) * alive, rtol=1e-6)
  np.testing.assert_allclose(V.weights(traj, "reward_to_go", 0.9), r[::-1].cumsum(0)[::-1] * alive, rtol=1e-5)
  b = np.asarray(V.time_baseline(traj, 0.9))
  np.testing.assert_allclose(b[5], togo[5, 1:].mean(), rtol=1e-5)  # only the running episodes count
  with pytest.raises(ValueError, match="estimator"):
    V.weights(traj, "vanilla", 0.9)


def test_bootstrap_interval_against_numpy():
  g = jnp.asarray(np.random.default_rng(1).normal(size=(40, 5)).astype(np.float32))
  key = jax.random.PRNGKey(3)
  lo, hi = V.bootstrap_ci(g, key, 300)
  idx = np.asarray(jax.random.randint(key, (300, 40), 0, 40))
  ref = [np.sum(np.var(np.asarray(g, np.float64)[i], axis=0, ddof=1)) for i in idx]
  np.testing.assert_allclose([lo, hi], np.percentile(ref, [2.5, 97.5]), rtol=1e-4)
  assert lo < V.total_variance(np.asarray(g, np.float64)) < hi


def test_variance_falls_from_return_to_reward_to_go_to_baseline_on_cartpole():
  c = V.base_config()
  c.update(num_episodes=128, max_steps=100, bootstrap=100)
  out = V.study(c)
  assert 15 < out["mean_return"] < 40  # the near-uniform initial policy: short episodes
  assert out["return"]["variance"] > out["reward_to_go"]["variance"] > out["discounted_baseline"]["variance"]
  for name in V.ESTIMATORS:
    lo, hi = out[name]["ci95"]
    assert lo < out[name]["variance"] < hi
