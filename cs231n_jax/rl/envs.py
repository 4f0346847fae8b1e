"""gymnax environments for the agents: a name check, flat float observations, a batched step that
keeps termination and truncation apart, episode bookkeeping and a greedy evaluation loop.

gymnax (>= 1.0) ``env.step(key, state, action, params)`` returns ``(obs, state, reward, terminated,
truncated, info)`` and resets an environment whose episode ended (either way) in the same call: the
returned ``obs`` is then the new episode's first observation and ``info["final_observation"]`` the
real last one. The agents bootstrap through a truncation (a time limit: the state was not terminal,
so its successor's value counts) and never through a termination.
"""

from __future__ import annotations

from typing import Any, Callable, NamedTuple

import gymnax
import jax
import jax.numpy as jnp
import numpy as np

from cs231n_jax.errors import ConfigError

# The environments the agents are configured and tested on (gymnax has more; any discrete-action
# gymnax environment name works).
ENV_NAMES = ("CartPole-v1", "Catch-bsuite", "Breakout-MinAtar")


class Env(NamedTuple):
  env: Any
  params: Any
  name: str
  num_actions: int
  obs_size: int
  max_steps: int


def make(name: str) -> Env:
  """A discrete-action gymnax environment by name; an unknown name is a one-line ``ConfigError``."""
  if name not in gymnax.registered_envs:
    raise ConfigError(f"env.name: expected a gymnax environment such as {', '.join(ENV_NAMES)}, got {name!r}")
  env, params = gymnax.make(name)
  space = env.action_space(params)
  if not hasattr(space, "n"):
    raise ConfigError(f"env.name: the agents need a discrete action space; {name!r} has {type(space).__name__}")
  obs_shape = env.observation_space(params).shape
  return Env(env, params, name, int(space.n), int(np.prod(obs_shape)), int(params.max_steps_in_episode))


def flat(obs: jax.Array) -> jax.Array:
  """Observations as float32 vectors ([..., obs_size]); the batch axes are kept."""
  return obs.astype(jnp.float32)


def reset(e: Env, key: jax.Array, num_envs: int):
  """``num_envs`` fresh episodes: (flat observations [num_envs, obs_size], env states)."""
  obs, state = jax.vmap(e.env.reset, (0, None))(jax.random.split(key, num_envs), e.params)
  return flat(obs).reshape(num_envs, -1), state


class Transition(NamedTuple):
  obs: jax.Array          # s_t (flat)
  next_obs: jax.Array     # the observation the agent acts on next (a new episode's first after a reset)
  final_obs: jax.Array    # s_{t+1} of this transition (the real last observation when the episode ended)
  reward: jax.Array
  terminated: jax.Array   # s_{t+1} is terminal: no bootstrap
  truncated: jax.Array    # the time limit ended the episode: bootstrap from final_obs
  env_state: Any


def step(e: Env, key: jax.Array, env_state, obs: jax.Array, action: jax.Array) -> Transition:
  """One step of every environment (auto-reset); the batch is the first axis of ``action``."""
  n = action.shape[0]
  next_obs, state, reward, terminated, truncated, info = jax.vmap(e.env.step, (0, 0, 0, None))(
      jax.random.split(key, n), env_state, action, e.params)
  return Transition(obs, flat(next_obs).reshape(n, -1), flat(info["final_observation"]).reshape(n, -1),
                    reward.astype(jnp.float32), terminated.astype(bool), jnp.logical_and(truncated, ~terminated),
                    state)


def check_action(e: Env, action) -> int:
  """A host action for ``e`` as an int; outside the action space a one-line ``ConfigError``."""
  a = np.asarray(action)
  if a.shape != () or not np.issubdtype(a.dtype, np.integer) or not 0 <= int(a) < e.num_actions:
    raise ConfigError(f"action: expected an integer in [0, {e.num_actions}) for {e.name}, got {action!r}")
  return int(a)


def host_step(e: Env, key: jax.Array, env_state, action):
  """One checked step of a single environment from host code (the notebook, a rendered episode)."""
  obs, state, reward, terminated, truncated, info = e.env.step(key, env_state, check_action(e, action), e.params)
  return flat(obs).reshape(-1), state, float(reward), bool(terminated), bool(truncated)


class Episodes(NamedTuple):
  """Running episode return per environment and the return of each one's last finished episode."""
  running: jax.Array
  last: jax.Array
  finished: jax.Array  # episodes finished so far (all environments)


def episodes_init(num_envs: int) -> Episodes:
  return Episodes(jnp.zeros(num_envs), jnp.zeros(num_envs), jnp.zeros((), jnp.int32))


def episodes_update(ep: Episodes, t: Transition) -> Episodes:
  done = t.terminated | t.truncated
  running = ep.running + t.reward
  return Episodes(jnp.where(done, 0.0, running), jnp.where(done, running, ep.last),
                  ep.finished + jnp.sum(done).astype(jnp.int32))


def evaluate(e: Env, act: Callable[[Any, jax.Array], jax.Array], params, key: jax.Array, num_episodes: int,
             max_steps: int | None = None) -> jax.Array:
  """Undiscounted returns of ``num_episodes`` episodes of ``act(params, obs) -> actions`` (each
  episode's first ending, by termination or the time limit): [num_episodes]."""
  max_steps = max_steps or e.max_steps
  k_reset, key = jax.random.split(key)
  obs, state = reset(e, k_reset, num_episodes)

  def cond(c):
    t, _, _, _, alive, _ = c
    return (t < max_steps) & jnp.any(alive)

  def body(c):
    t, obs, state, ret, alive, key = c
    key, k = jax.random.split(key)
    tr = step(e, k, state, obs, act(params, obs))
    ret = ret + jnp.where(alive, tr.reward, 0.0)
    alive = alive & ~(tr.terminated | tr.truncated)
    return t + 1, tr.next_obs, tr.env_state, ret, alive, key

  init = (jnp.zeros((), jnp.int32), obs, state, jnp.zeros(num_episodes), jnp.ones(num_episodes, bool), key)
  return jax.lax.while_loop(cond, body, init)[3]
