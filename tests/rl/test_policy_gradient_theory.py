"""The REINFORCE chain (P16-P20) as a test: on a small MDP whose J(θ) is known exactly, the Monte Carlo
estimates of ∇J agree with jax.grad of the exact J within 3 standard errors."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from cs231n_jax.errors import ConfigError
from cs231n_jax.rl import mdp as M

H, GAMMA, N = 6, 0.9, 20000


@functools.cache
def setup():
  mdp = M.random_mdp(jax.random.PRNGKey(7), num_states=4, num_actions=3, gamma=GAMMA)
  theta = 0.5 * jax.random.normal(jax.random.PRNGKey(8), (4, 3))
  p0 = jnp.array([0.4, 0.3, 0.2, 0.1])
  return mdp, theta, p0


@functools.cache
def trajectories(seed):  # shared by the tests of this module (sampling 20,000 trajectories once per seed)
  mdp, theta, p0 = setup()
  return M.sample_trajectories(mdp, theta, p0, H, jax.random.PRNGKey(seed), N)


@pytest.mark.parametrize("estimator", ["return", "reward_to_go", "baseline"])
def test_reinforce_estimate_within_three_standard_errors_of_the_analytic_gradient(estimator):
  mdp, theta, p0 = setup()
  exact = jax.grad(M.finite_horizon_return, argnums=1)(mdp, theta, p0, H)
  traj = trajectories(9)
  baseline = M.policy_evaluation(mdp, M.softmax_policy(theta)) if estimator == "baseline" else None
  g = np.asarray(M.reinforce_gradients(theta, traj, GAMMA, estimator, baseline), np.float64)
  mean, se = g.mean(0), g.std(0, ddof=1) / np.sqrt(N)
  z = np.abs(mean - np.asarray(exact)) / se
  assert np.all(z < 3.0), (estimator, z)
  assert np.max(np.abs(np.asarray(exact))) > 5 * se.max()  # the gradient is resolved, not just noise


def test_reward_to_go_and_baseline_reduce_the_variance_here():
  mdp, theta, p0 = setup()
  traj = trajectories(9)
  b = M.policy_evaluation(mdp, M.softmax_policy(theta))
  var = {e: float(np.asarray(M.reinforce_gradients(theta, traj, GAMMA, e, b)).var(0).sum())
         for e in ("return", "reward_to_go", "baseline")}
  assert var["reward_to_go"] < var["return"] and var["baseline"] < var["reward_to_go"], var


def test_exact_return_matches_sampled_mean_return():
  mdp, theta, p0 = setup()
  traj = trajectories(10)
  ret = np.asarray(jnp.sum(traj["rewards"] * GAMMA ** jnp.arange(H), -1))
  assert abs(ret.mean() - float(M.finite_horizon_return(mdp, theta, p0, H))) < 3 * ret.std() / np.sqrt(N)


def test_discounted_reward_to_go_against_numpy():
  r = np.random.default_rng(0).normal(size=(3, 7)).astype(np.float32)
  ref = np.array([[sum(0.9 ** (k - t) * r[i, k] for k in range(t, 7)) for t in range(7)] for i in range(3)])
  np.testing.assert_allclose(np.asarray(M.discounted_reward_to_go(jnp.asarray(r), 0.9)), ref, rtol=1e-5, atol=1e-5)


def test_unknown_estimator_is_named():
  _, theta, _ = setup()
  with pytest.raises(ConfigError, match="estimator"):
    M.reinforce_gradients(theta, trajectories(9), GAMMA, "vanilla")
