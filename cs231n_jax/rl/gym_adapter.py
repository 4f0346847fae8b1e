"""The agents on a user's Gymnasium environment (one not written in JAX): the environments are stepped
on the host, in a Python loop, around the compiled policy and the compiled update.

:class:`HostEnvs` holds ``num_envs`` Gymnasium environments side by side with the same conventions
as :mod:`cs231n_jax.rl.envs`: flat float32 observations, termination and truncation apart, and on
an episode's end the real last observation kept (``final_obs``) while the environment is reset
(``next_obs`` is the new episode's first). :func:`rollout` runs the PPO / A2C policy for
``num_steps`` steps and returns the same time-major trajectory as the compiled rollout, so the
learning half of those agents (:func:`cs231n_jax.rl.policy_gradient.actor_critic_learner`) trains
on it unchanged. The engine runs such a task with ``train.step = "host"``
(:func:`cs231n_jax.tasks.rl.run_gym`).
"""

from __future__ import annotations

from typing import Any, Callable

import jax
import numpy as np

from cs231n_jax.errors import ConfigError
from cs231n_jax.rl import envs


def spec(name: str) -> envs.Env:
  """An :class:`envs.Env` description (actions, observation size, time limit) of Gymnasium
  environment ``name``; an unknown name or a non-discrete action space is a one-line ``ConfigError``."""
  import gymnasium

  if name not in gymnasium.envs.registry:
    raise ConfigError(f"env.name: expected a registered Gymnasium environment such as 'CartPole-v1', got {name!r}")
  env = gymnasium.make(name)
  try:
    if not isinstance(env.action_space, gymnasium.spaces.Discrete):
      raise ConfigError(f"env.name: the agents need a discrete action space; {name!r} has {type(env.action_space).__name__}")
    max_steps = env.spec.max_episode_steps or 0
    return envs.Env(None, None, name, int(env.action_space.n), int(np.prod(env.observation_space.shape)), int(max_steps))
  finally:
    env.close()


class HostEnvs:
  """``num_envs`` Gymnasium environments stepped from Python, reset on their episodes' ends."""

  def __init__(self, name: str, num_envs: int):
    import gymnasium

    self.spec = spec(name)
    self.envs = [gymnasium.make(name) for _ in range(num_envs)]
    self.obs: np.ndarray | None = None
    self.running = np.zeros(num_envs)
    self.last = np.zeros(num_envs)
    self.finished = 0

  def reset(self, seed: int) -> np.ndarray:
    self.obs = np.stack([self._flat(e.reset(seed=seed + i)[0]) for i, e in enumerate(self.envs)])
    self.running[:] = 0.0
    return self.obs

  @staticmethod
  def _flat(obs) -> np.ndarray:
    return np.asarray(obs, np.float32).reshape(-1)

  def step(self, actions) -> dict[str, np.ndarray]:
    """One step of every environment; ``actions`` [num_envs] integers in the action space."""
    actions = [envs.check_action(self.spec, a) for a in np.asarray(actions)]  # all checked before any step
    out = {k: [] for k in ("next_obs", "final_obs", "reward", "terminated", "truncated")}
    for i, (e, a) in enumerate(zip(self.envs, actions)):
      obs, reward, terminated, truncated, _ = e.step(a)
      final = self._flat(obs)
      self.running[i] += reward
      if terminated or truncated:
        obs, _ = e.reset()
        self.last[i], self.running[i] = self.running[i], 0.0
        self.finished += 1
      out["next_obs"].append(self._flat(obs))
      out["final_obs"].append(final)
      out["reward"].append(float(reward))
      out["terminated"].append(bool(terminated))
      out["truncated"].append(bool(truncated and not terminated))
    out = {k: np.asarray(v, np.float32 if k != "terminated" and k != "truncated" else bool) for k, v in out.items()}
    self.obs = out["next_obs"]
    return out

  def close(self) -> None:
    for e in self.envs:
      e.close()


def rollout(host: HostEnvs, policy: Callable, value: Callable, params: Any, key: jax.Array,
            num_steps: int) -> tuple[dict[str, np.ndarray], np.ndarray]:
  """``num_steps`` steps of the sampled policy in every host environment: the trajectory (the fields
  of the compiled rollout: obs, action, logp, value, reward, done, truncated, v_final), time-major,
  and the observation after it. ``policy(params, obs, key) -> (action, logp, value)`` and
  ``value(params, obs) -> V`` are compiled functions."""
  steps = []
  for t in range(num_steps):
    obs = host.obs
    action, logp, v = (np.asarray(x) for x in policy(params, obs, jax.random.fold_in(key, t)))
    out = host.step(action)
    steps.append({"obs": obs, "action": action.astype(np.int32), "logp": logp, "value": v, "reward": out["reward"],
                  "done": (out["terminated"] | out["truncated"]).astype(np.float32), "truncated": out["truncated"],
                  "final_obs": out["final_obs"]})
  traj = {k: np.stack([s[k] for s in steps]) for k in steps[0]}
  final = traj.pop("final_obs")
  T, N = traj["reward"].shape
  v_final = np.asarray(value(params, final.reshape(T * N, -1))).reshape(T, N)
  # bootstrap through a truncation only (gamma V(s_final) is folded into the reward by the learner)
  traj["v_final"] = np.where(traj["truncated"], v_final, 0.0).astype(np.float32)
  return traj, host.obs


def evaluate(name: str, act: Callable, params: Any, seed: int, num_episodes: int) -> np.ndarray:
  """Undiscounted returns of ``num_episodes`` greedy episodes, stepped side by side (one compiled
  ``act(params, obs)`` call per step for all of them): [num_episodes]."""
  host = HostEnvs(name, num_episodes)
  try:
    obs = host.reset(seed)
    returns, alive = np.zeros(num_episodes), np.ones(num_episodes, bool)
    while alive.any():
      out = host.step(np.asarray(act(params, obs)))
      returns += np.where(alive, out["reward"], 0.0)
      alive &= ~(out["terminated"] | out["truncated"])
      obs = out["next_obs"]
    return returns
  finally:
    host.close()
