"""Deep Q-learning with experience replay: the lecture's Algorithm 1 (C9, P10-P14) as one jittable
iteration, vectorised over ``num_envs`` environments.

- The replay memory 𝒟 of capacity N is a ring of device arrays (obs, action, reward, next obs,
  terminated) in the agent's state, so it is checkpointed and restored with everything else.
- Actions are ε-greedy (P14) with ε annealed linearly from ``epsilon_start`` to ``epsilon_end`` over
  ``epsilon_fraction`` of the run; the greedy action is argmax_a Q (the slides print "max").
- Targets y_j = r_j for a terminal φ_{j+1}, else r_j + γ max_a' Q(φ_{j+1}, a'; θ⁻) with θ⁻ the slides'
  θ_{i−1}: a copy of θ refreshed every ``target_update_every`` iterations (P10; Algorithm 1 as printed
  uses θ itself, i.e. ``target_update_every = 1`` with the copy taken before the update).
  A time-limit truncation is not terminal: its transition stores the real last observation and bootstraps.
- The loss is the squared error (y_j − Q(φ_j, a_j; θ))² of the slides or, by config, its Huber form.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import optax

from cs231n_jax.errors import ConfigError
from cs231n_jax.rl import envs
from cs231n_jax.rl.mdp import epsilon_greedy
from cs231n_jax.rl.networks import QNetwork
from cs231n_jax.rl.policy_gradient import Agent, make_optimizer


def epsilon_schedule(c, env_steps, total_env_steps: int):
  """Linear from ``epsilon_start`` to ``epsilon_end`` over the first ``epsilon_fraction`` of the run."""
  frac = jnp.clip(env_steps / max(c.epsilon_fraction * total_env_steps, 1.0), 0.0, 1.0)
  return c.epsilon_start + frac * (c.epsilon_end - c.epsilon_start)


def replay_init(capacity: int, obs_size: int) -> dict:
  return {"obs": jnp.zeros((capacity, obs_size)), "action": jnp.zeros(capacity, jnp.int32),
          "reward": jnp.zeros(capacity), "next_obs": jnp.zeros((capacity, obs_size)),
          "terminated": jnp.zeros(capacity, bool), "position": jnp.zeros((), jnp.int32), "size": jnp.zeros((), jnp.int32)}


def replay_add(buf: dict, items: dict) -> dict:
  """Append a batch of transitions (leading axis) at the ring's position."""
  capacity, n = buf["obs"].shape[0], items["action"].shape[0]
  idx = (buf["position"] + jnp.arange(n)) % capacity
  out = {k: buf[k].at[idx].set(items[k]) for k in items}
  return {**out, "position": (buf["position"] + n) % capacity, "size": jnp.minimum(buf["size"] + n, capacity)}


def replay_sample(buf: dict, key: jax.Array, batch_size: int) -> dict:
  """A uniformly random minibatch from the filled part of the memory."""
  idx = jax.random.randint(key, (batch_size,), 0, jnp.maximum(buf["size"], 1))
  return {k: buf[k][idx] for k in ("obs", "action", "reward", "next_obs", "terminated")}


def check(c) -> None:
  if c.buffer_size < c.batch_size:
    raise ConfigError(f"agent.buffer_size: the replay capacity ({c.buffer_size}) must be at least agent.batch_size "
                      f"({c.batch_size})")
  if c.loss not in ("mse", "huber"):
    raise ConfigError(f"agent.loss: expected 'mse' or 'huber', got {c.loss!r}")


def dqn(e: envs.Env, c, total_updates: int) -> Agent:
  check(c)
  net = QNetwork(num_actions=e.num_actions, features=tuple(c.hidden), activation=c.activation)
  num_envs = c.num_envs
  total_env_steps = total_updates * num_envs * c.steps_per_update
  tx = make_optimizer(c.learning_rate, c.max_grad_norm, total_updates * c.gradient_steps if c.anneal_lr else 0)

  def q(params, obs):
    return net.apply({"params": params}, obs)

  def init(key):
    k_net, k_env = jax.random.split(key)
    params = net.init(k_net, jnp.zeros((1, e.obs_size)))["params"]
    obs, env_state = envs.reset(e, k_env, num_envs)
    return {"params": params, "target_params": params, "opt_state": tx.init(params), "env_state": env_state,
            "obs": obs, "replay": replay_init(c.buffer_size, e.obs_size), "episodes": envs.episodes_init(num_envs),
            "env_steps": jnp.zeros((), jnp.int32), "updates": jnp.zeros((), jnp.int32)}

  def loss_fn(params, target_params, b):
    q_next = q(target_params, b["next_obs"]).max(-1)
    y = jax.lax.stop_gradient(b["reward"] + c.gamma * jnp.where(b["terminated"], 0.0, q_next))
    q_sa = jnp.take_along_axis(q(params, b["obs"]), b["action"][:, None], -1)[:, 0]
    err = y - q_sa
    per = optax.huber_loss(err) if c.loss == "huber" else err ** 2
    return jnp.mean(per), jnp.mean(q_sa)

  def update(state, key):
    k_act, k_learn = jax.random.split(key)
    eps = epsilon_schedule(c, state["env_steps"], total_env_steps)

    def act_step(carry, key):
      env_state, obs, replay, episodes = carry
      k_a, k_e = jax.random.split(key)
      action = epsilon_greedy(k_a, q(state["params"], obs), eps)
      t = envs.step(e, k_e, env_state, obs, action)
      replay = replay_add(replay, {"obs": obs, "action": action, "reward": t.reward, "next_obs": t.final_obs,
                                   "terminated": t.terminated})
      return (t.env_state, t.next_obs, replay, envs.episodes_update(episodes, t)), None

    (env_state, obs, replay, episodes), _ = jax.lax.scan(
        act_step, (state["env_state"], state["obs"], state["replay"], state["episodes"]),
        jax.random.split(k_act, c.steps_per_update))
    env_steps = state["env_steps"] + c.steps_per_update * num_envs
    learn = env_steps >= c.learning_starts

    def grad_step(carry, key):
      params, opt_state = carry
      b = replay_sample(replay, key, c.batch_size)
      (loss, q_mean), grads = jax.value_and_grad(loss_fn, has_aux=True)(params, state["target_params"], b)
      updates, new_opt = tx.update(grads, opt_state, params)
      new_params = optax.apply_updates(params, updates)
      params = jax.tree.map(lambda a, b: jnp.where(learn, a, b), new_params, params)
      opt_state = jax.tree.map(lambda a, b: jnp.where(learn, a, b), new_opt, opt_state)
      return (params, opt_state), (loss, q_mean)

    (params, opt_state), (loss, q_mean) = jax.lax.scan(
        grad_step, (state["params"], state["opt_state"]), jax.random.split(k_learn, c.gradient_steps))
    updates = state["updates"] + learn.astype(jnp.int32)
    refresh = learn & (updates % c.target_update_every == 0)
    target = jax.tree.map(lambda p, t: jnp.where(refresh, p, t), params, state["target_params"])
    new = {"params": params, "target_params": target, "opt_state": opt_state, "env_state": env_state, "obs": obs,
           "replay": replay, "episodes": episodes, "env_steps": env_steps, "updates": updates}
    metrics = {"loss": loss.mean(), "q_mean": q_mean.mean(), "epsilon": eps, "episode_return": episodes.last.mean(),
               "episodes": episodes.finished, "env_steps": env_steps}
    return new, metrics

  def act(params, obs):
    return jnp.argmax(q(params, obs), -1).astype(jnp.int32)

  return Agent(init, update, act, lambda s: s["params"], lambda s, p: {**s, "params": p},
               num_envs * c.steps_per_update, "dqn")
