"""Variance of the policy-gradient estimators (lecture 14, P17-P20) on gymnax CartPole-v1 at a fixed
policy, with bootstrap confidence intervals.

For N episodes of a fixed softmax policy π_θ (the MLP actor at its initialisation with ``seed``,
or after ``ppo_iterations`` PPO iterations), every episode gives one estimate g = Σ_t ∇_θ log π(a_t|s_t) w_t of
the policy gradient, with the weights

- ``return``: w_t = r(τ), the whole episode's return (P17);
- ``reward_to_go``: w_t = Σ_{t'>=t} r_{t'} (P18);
- ``discounted_baseline``: w_t = Σ_{t'>=t} γ^{t'−t} r_{t'} − b_t, with b_t the mean discounted
  reward-to-go at step t of a separate set of N episodes (a time-dependent baseline, P19-P20).

The reported variance of an estimator is the trace of the covariance of its per-episode estimates
(the sum of the per-parameter variances); its 95% confidence interval comes from ``bootstrap``
resamples of the episodes. The first two are unbiased for the undiscounted return; the third for
the discounted objective up to the γ^t factor the slides drop.

``cs231n-jax train --config experiments/configs/rl/variance.py --workdir workdirs/rl_variance``
"""

from __future__ import annotations

import json
from typing import Any

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
from etils import epath

from cs231n_jax.rl import envs
from cs231n_jax.rl.networks import ActorCritic

ESTIMATORS = ("return", "reward_to_go", "discounted_baseline")


def base_config() -> ml_collections.ConfigDict:
  c = ml_collections.ConfigDict()
  c.runner = "cs231n_jax.studies.rl_variance:run"
  c.seed = 0
  c.env_name = "CartPole-v1"
  c.num_episodes = 1000
  c.max_steps = 500
  c.gamma = 0.99
  c.bootstrap = 1000
  c.hidden = (64, 64)
  return c


def sample_episodes(e: envs.Env, net, params, key, num_episodes: int, max_steps: int) -> dict[str, jax.Array]:
  """Time-major arrays [max_steps, num_episodes] of each episode's first run: obs, action, reward, alive."""
  k_reset, k_steps = jax.random.split(key)
  obs, state = envs.reset(e, k_reset, num_episodes)

  def one(carry, key):
    obs, state, alive = carry
    k_act, k_env = jax.random.split(key)
    action = jax.random.categorical(k_act, net.apply({"params": params}, obs)[0]).astype(jnp.int32)
    t = envs.step(e, k_env, state, obs, action)
    out = {"obs": obs, "action": action, "reward": t.reward * alive, "alive": alive.astype(jnp.float32)}
    return (t.next_obs, t.env_state, alive & ~(t.terminated | t.truncated)), out

  _, traj = jax.lax.scan(one, (obs, state, jnp.ones(num_episodes, bool)), jax.random.split(k_steps, max_steps))
  return traj


def reward_to_go(rewards: jax.Array, gamma: float) -> jax.Array:
  """Σ_{t'>=t} γ^{t'−t} r_{t'} along the first (time) axis."""
  def back(g, r):
    g = r + gamma * g
    return g, g
  return jax.lax.scan(back, jnp.zeros_like(rewards[0]), rewards, reverse=True)[1]


def weights(traj: dict[str, jax.Array], estimator: str, gamma: float, baseline: jax.Array | None = None) -> jax.Array:
  """The per-step weights w_t [T, N] of ``estimator`` (zero after an episode's end)."""
  if estimator == "return":
    w = jnp.broadcast_to(traj["reward"].sum(0), traj["reward"].shape)
  elif estimator == "reward_to_go":
    w = reward_to_go(traj["reward"], 1.0)
  elif estimator == "discounted_baseline":
    w = reward_to_go(traj["reward"], gamma) - baseline[:, None]
  else:
    raise ValueError(f"estimator: expected one of {ESTIMATORS}, got {estimator!r}")
  return w * traj["alive"]


def time_baseline(traj: dict[str, jax.Array], gamma: float) -> jax.Array:
  """b_t: the mean discounted reward-to-go at step t over the episodes still running then."""
  g = reward_to_go(traj["reward"], gamma)
  return jnp.sum(g * traj["alive"], 1) / jnp.maximum(traj["alive"].sum(1), 1.0)


def per_episode_gradients(net, params, traj: dict[str, jax.Array], w: jax.Array) -> jax.Array:
  """[N, P]: Σ_t ∇_θ log π(a_t|s_t) w_t of every episode, θ the actor's parameters, flattened."""
  actor = params["actor"]

  def one(actor, obs, action, w):
    logits, _ = net.apply({"params": {**params, "actor": actor}}, obs)
    logp = jnp.take_along_axis(jax.nn.log_softmax(logits), action[:, None], -1)[:, 0]
    return jnp.sum(logp * w)

  grads = jax.vmap(jax.grad(one), in_axes=(None, 1, 1, 1))(actor, traj["obs"], traj["action"], w)
  return jnp.concatenate([x.reshape(x.shape[0], -1) for x in jax.tree.leaves(grads)], 1)


def total_variance(g: np.ndarray) -> float:
  """The trace of the covariance of the rows of ``g`` (unbiased)."""
  return float(np.sum(np.var(g, axis=0, ddof=1)))


def bootstrap_ci(g: jax.Array, key: jax.Array, num_resamples: int, level: float = 0.95) -> tuple[float, float]:
  """Percentile interval of the total variance over ``num_resamples`` resamples of the rows of ``g``."""
  n = g.shape[0]
  idx = jax.random.randint(key, (num_resamples, n), 0, n)
  counts = jax.vmap(lambda i: jnp.bincount(i, length=n))(idx).astype(g.dtype)  # [B, N]
  s1, s2 = counts @ g / n, counts @ (g * g) / n
  var = jnp.sum(s2 - s1 * s1, 1) * n / (n - 1)
  lo, hi = np.percentile(np.asarray(var), [50 * (1 - level), 50 * (1 + level)])
  return float(lo), float(hi)


def study(c: ml_collections.ConfigDict) -> dict[str, Any]:
  e = envs.make(c.env_name)
  net = ActorCritic(num_actions=e.num_actions, features=tuple(c.hidden), activation="tanh")
  k_init, k_base, k_eval, k_boot = jax.random.split(jax.random.PRNGKey(c.seed), 4)
  params = net.init(k_init, jnp.zeros((1, e.obs_size)))["params"]
  # arrays are arguments of the compiled functions, not constants folded into them
  sample = jax.jit(lambda p, k: sample_episodes(e, net, p, k, c.num_episodes, c.max_steps))
  baseline = time_baseline(sample(params, k_base), c.gamma)  # fitted on other episodes than those it is used on
  traj = sample(params, k_eval)
  out: dict[str, Any] = {"episodes": c.num_episodes, "mean_return": float(traj["reward"].sum(0).mean()),
                         "mean_length": float(traj["alive"].sum(0).mean())}
  grad_fn = jax.jit(lambda p, traj, w: per_episode_gradients(net, p, traj, w))
  for name in ESTIMATORS:
    g = grad_fn(params, traj, weights(traj, name, c.gamma, baseline))
    lo, hi = bootstrap_ci(g, jax.random.fold_in(k_boot, ESTIMATORS.index(name)), c.bootstrap)
    out[name] = {"variance": total_variance(np.asarray(g, np.float64)), "ci95": [lo, hi],
                 "mean_gradient_norm": float(jnp.linalg.norm(g.mean(0)))}
  return out


def run(config: ml_collections.ConfigDict, workdir: str) -> dict[str, Any]:
  out = study(config)
  d = epath.Path(workdir)
  d.mkdir(parents=True, exist_ok=True)
  (d / "results.json").write_text(json.dumps(out, indent=2))
  for name in ESTIMATORS:
    lo, hi = out[name]["ci95"]
    print(f"{name:>20}: variance {out[name]['variance']:.4g}  (95% bootstrap CI {lo:.4g} - {hi:.4g})")
  return out
