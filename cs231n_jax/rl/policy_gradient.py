"""On-policy agents: REINFORCE (P16-P20), advantage actor-critic with GAE (P21-P23) and PPO.

Each is an :class:`Agent`: ``init(key) -> state`` and ``update(state, key) -> (state, metrics)``, one
iteration = a rollout of the current policy in ``num_envs`` gymnax environments (a ``lax.scan``) and
the gradient steps on it, all one jittable function, so a whole run vmaps over seeds.

Fixed from the lecture's actor-critic listing (C10): the reward-to-go sums r_{t'} (not r_t), the
score is ∇_θ log π_θ(a_t | s_t), and the updates are θ ← θ + αΔθ (ascent on J), φ ← φ − βΔφ (descent
on the critic's squared error) — here as one optax minimisation of −J_surrogate + c_v·‖A‖².
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable

import jax
import jax.numpy as jnp
import optax

from cs231n_jax.rl import envs
from cs231n_jax.rl.networks import ActorCritic


@dataclasses.dataclass(frozen=True)
class Agent:
  """``init(key) -> state``; ``update(state, key) -> (state, metrics)`` (scalars, ``"loss"`` among them);
  ``act(params, obs) -> actions`` the greedy evaluation policy; ``params(state)`` what is evaluated
  and kept as best; ``env_steps_per_update`` for throughput (an upper bound for REINFORCE)."""

  init: Callable[[jax.Array], Any]
  update: Callable[[Any, jax.Array], tuple[Any, dict]]
  act: Callable[[Any, jax.Array], jax.Array]
  params: Callable[[Any], Any]
  with_params: Callable[[Any, Any], Any]
  env_steps_per_update: int
  name: str


def gae(rewards, values, next_values, dones, gamma: float, lam: float):
  """Generalised advantage estimation along the first (time) axis: δ_t = r_t + γ V(s_{t+1})(1−done_t)
  − V(s_t), A_t = δ_t + γλ(1−done_t) A_{t+1}; returns (advantages, value targets A + V)."""

  def back(a_next, x):
    r, v, v_next, d = x
    delta = r + gamma * v_next * (1.0 - d) - v
    a = delta + gamma * lam * (1.0 - d) * a_next
    return a, a

  _, adv = jax.lax.scan(back, jnp.zeros_like(values[0]), (rewards, values, next_values, dones), reverse=True)
  return adv, adv + values


def make_optimizer(lr: float, max_grad_norm: float, anneal_steps: int = 0) -> optax.GradientTransformation:
  schedule = optax.linear_schedule(lr, 0.0, anneal_steps) if anneal_steps else lr
  chain = [optax.clip_by_global_norm(max_grad_norm)] if max_grad_norm > 0 else []
  return optax.chain(*chain, optax.adam(schedule, eps=1e-5))


def _network(e: envs.Env, c) -> ActorCritic:
  return ActorCritic(num_actions=e.num_actions, features=tuple(c.hidden), activation=c.activation)


def _greedy(net):
  def act(params, obs):
    return jnp.argmax(net.apply({"params": params}, obs)[0], -1).astype(jnp.int32)
  return act


def _rollout(e: envs.Env, net, params, env_state, obs, episodes, key, num_steps: int):
  """``num_steps`` steps of the sampled policy in every environment. Per step: obs, action, log π,
  V(s), reward, done, and the bootstrap value V(s_{t+1}) (0 after a termination; V(final obs) after a
  truncation; V(next obs) otherwise)."""

  def one(carry, key):
    env_state, obs, episodes = carry
    k_act, k_env = jax.random.split(key)
    logits, value = net.apply({"params": params}, obs)
    action = jax.random.categorical(k_act, logits).astype(jnp.int32)
    logp = jax.nn.log_softmax(logits)[jnp.arange(action.shape[0]), action]
    t = envs.step(e, k_env, env_state, obs, action)
    _, v_final = net.apply({"params": params}, t.final_obs)
    done = t.terminated | t.truncated
    # bootstrap through a truncation: fold γ V(s_final) into the reward and cut the episode there
    out = {"obs": obs, "action": action, "logp": logp, "value": value, "reward": t.reward,
           "done": done.astype(jnp.float32), "truncated": t.truncated,
           "v_final": jnp.where(t.truncated, v_final, 0.0)}
    return (t.env_state, t.next_obs, envs.episodes_update(episodes, t)), out

  (env_state, obs, episodes), traj = jax.lax.scan(one, (env_state, obs, episodes), jax.random.split(key, num_steps))
  return env_state, obs, episodes, traj


def actor_critic_learner(e: envs.Env, c, total_updates: int, clip: bool):
  """The learning half of A2C / PPO, apart from the rollout: ``(net, tx, learn)`` with
  ``learn(params, opt_state, traj, last_value, key) -> (params, opt_state, (loss, pg, v_loss, entropy))``
  on a rollout ``traj`` (time-major dict of :func:`_rollout`'s fields) and V(s) of the observation
  after it. :func:`actor_critic` (gymnax, compiled rollout) and the Gymnasium adapter (host
  rollout, :mod:`cs231n_jax.rl.gym_adapter`) share it."""
  net = _network(e, c)
  epochs = c.update_epochs if clip else 1
  minibatches = c.num_minibatches if clip else 1
  tx = make_optimizer(c.learning_rate, c.max_grad_norm, total_updates * epochs * minibatches if c.anneal_lr else 0)

  def loss_fn(params, b):
    logits, value = net.apply({"params": params}, b["obs"])
    logp_all = jax.nn.log_softmax(logits)
    logp = jnp.take_along_axis(logp_all, b["action"][..., None], -1)[..., 0]
    adv = b["adv"]
    if c.normalize_advantages:
      adv = (adv - adv.mean()) / (adv.std() + 1e-8)
    if clip:
      ratio = jnp.exp(logp - b["logp"])
      pg = -jnp.mean(jnp.minimum(ratio * adv, jnp.clip(ratio, 1 - c.clip_eps, 1 + c.clip_eps) * adv))
    else:
      pg = -jnp.mean(logp * adv)
    v_loss = 0.5 * jnp.mean((value - b["target"]) ** 2)
    entropy = -jnp.mean(jnp.sum(jnp.exp(logp_all) * logp_all, -1))
    return pg + c.value_coef * v_loss - c.entropy_coef * entropy, (pg, v_loss, entropy)

  def learn(params, opt_state, traj, last_value, k_perm):
    num_steps, num_envs = traj["reward"].shape
    next_values = jnp.concatenate([traj["value"][1:], last_value[None]], 0)
    rewards = traj["reward"] + c.gamma * traj["v_final"]
    adv, target = gae(rewards, traj["value"], next_values, traj["done"], c.gamma, c.gae_lambda)
    batch = {"obs": traj["obs"], "action": traj["action"], "logp": traj["logp"], "adv": adv, "target": target}
    batch = jax.tree.map(lambda x: x.reshape((num_steps * num_envs,) + x.shape[2:]), batch)

    def epoch(carry, key):
      params, opt_state = carry
      perm = jax.random.permutation(key, num_steps * num_envs)
      mbs = jax.tree.map(lambda x: x[perm].reshape((minibatches, -1) + x.shape[1:]), batch)

      def minibatch(carry, mb):
        params, opt_state = carry
        (loss, aux), grads = jax.value_and_grad(loss_fn, has_aux=True)(params, mb)
        updates, opt_state = tx.update(grads, opt_state, params)
        return (optax.apply_updates(params, updates), opt_state), (loss, *aux)

      return jax.lax.scan(minibatch, (params, opt_state), mbs)

    (params, opt_state), stats = jax.lax.scan(epoch, (params, opt_state), jax.random.split(k_perm, epochs))
    return params, opt_state, stats

  return net, tx, learn


def actor_critic(e: envs.Env, c, total_updates: int, clip: bool) -> Agent:
  """A2C (``clip=False``: one gradient step per rollout on −Σ A log π) or PPO (``clip=True``: the
  clipped surrogate, ``update_epochs`` passes over ``num_minibatches`` minibatches). Both use GAE(λ)
  advantages and a learned critic; ``c``: the config's ``agent`` block."""
  net, tx, learn = actor_critic_learner(e, c, total_updates, clip)
  num_envs, num_steps = c.num_envs, c.num_steps

  def init(key):
    k_net, k_env = jax.random.split(key)
    params = net.init(k_net, jnp.zeros((1, e.obs_size)))["params"]
    obs, env_state = envs.reset(e, k_env, num_envs)
    return {"params": params, "opt_state": tx.init(params), "env_state": env_state, "obs": obs,
            "episodes": envs.episodes_init(num_envs), "env_steps": jnp.zeros((), jnp.int32)}

  def update(state, key):
    k_roll, k_perm = jax.random.split(key)
    env_state, obs, episodes, traj = _rollout(e, net, state["params"], state["env_state"], state["obs"],
                                              state["episodes"], k_roll, num_steps)
    _, last_value = net.apply({"params": state["params"]}, obs)
    params, opt_state, (loss, pg, v_loss, entropy) = learn(state["params"], state["opt_state"], traj, last_value, k_perm)
    new = {"params": params, "opt_state": opt_state, "env_state": env_state, "obs": obs, "episodes": episodes,
           "env_steps": state["env_steps"] + num_steps * num_envs}
    metrics = {"loss": loss.mean(), "policy_loss": pg.mean(), "value_loss": v_loss.mean(), "entropy": entropy.mean(),
               "episode_return": episodes.last.mean(), "episodes": episodes.finished, "env_steps": new["env_steps"]}
    return new, metrics

  return Agent(init, update, _greedy(net), lambda s: s["params"], lambda s, p: {**s, "params": p},
               num_steps * num_envs, "ppo" if clip else "a2c")


BASELINES = ("none", "moving_average", "value")


def reinforce(e: envs.Env, c, total_updates: int) -> Agent:
  """REINFORCE on whole episodes: every iteration starts ``num_envs`` fresh episodes and runs them to
  their end (at most the environment's ``max_steps``); the score of every step is weighted by
  G_t − b(s_t), G_t = Σ_{t'>=t} γ^{t'−t} r_{t'} the discounted reward-to-go (P18, P19), b the
  baseline (P20): ``none``, ``moving_average`` (a constant: an exponential moving average of the
  reward-to-go seen so far) or ``value`` (a learned V_φ(s), fitted to G_t by squared error). Like
  the slides (and common practice) the γ^t factor of the exact discounted gradient is left out.
  An episode cut by the time limit is bootstrapped with γ V_φ(s_final) when the baseline is learned.
  """
  net = _network(e, c)
  # an iteration's rollout length: the time limit, or ``rollout_steps`` when shorter (Catch's episodes
  # are 9 steps under a 1000-step limit); an episode still running then is cut without a bootstrap
  num_envs, horizon = c.num_envs, min(c.get("rollout_steps", 0) or e.max_steps, e.max_steps)
  tx = make_optimizer(c.learning_rate, c.max_grad_norm, total_updates if c.anneal_lr else 0)

  def init(key):
    k_net, _ = jax.random.split(key)
    params = net.init(k_net, jnp.zeros((1, e.obs_size)))["params"]
    return {"params": params, "opt_state": tx.init(params), "baseline": jnp.zeros(()),
            "episodes": envs.episodes_init(num_envs), "env_steps": jnp.zeros((), jnp.int32)}

  def update(state, key):
    k_reset, k_roll = jax.random.split(key)
    obs, env_state = envs.reset(e, k_reset, num_envs)
    env_state, _, _, traj = _rollout(e, net, state["params"], env_state, obs, envs.episodes_init(num_envs), k_roll,
                                     horizon)
    # steps up to and including each environment's first episode end
    ended_before = jnp.cumsum(traj["done"], 0) - traj["done"]
    valid = (ended_before == 0).astype(jnp.float32)
    rewards = traj["reward"] * valid
    boot = traj["v_final"] * valid if c.baseline == "value" else 0.0

    def back(g, x):
      r, b, d = x
      g = r + c.gamma * (b + g * (1.0 - d))
      return g, g

    _, G = jax.lax.scan(back, jnp.zeros(num_envs), (rewards, boot * jnp.ones_like(rewards), traj["done"]), reverse=True)
    G = jax.lax.stop_gradient(G)
    n = jnp.maximum(valid.sum(), 1.0)

    def loss_fn(params):
      logits, value = net.apply({"params": params}, traj["obs"])
      logp = jnp.take_along_axis(jax.nn.log_softmax(logits), traj["action"][..., None], -1)[..., 0]
      if c.baseline == "value":
        b = jax.lax.stop_gradient(value)
      elif c.baseline == "moving_average":
        b = state["baseline"]
      else:
        b = 0.0
      adv = G - b
      if c.normalize_advantages:
        mean = jnp.sum(adv * valid) / n
        std = jnp.sqrt(jnp.sum(((adv - mean) * valid) ** 2) / n)
        adv = (adv - mean) / (std + 1e-8)
      pg = -jnp.sum(logp * adv * valid) / n
      v_loss = 0.5 * jnp.sum((value - G) ** 2 * valid) / n if c.baseline == "value" else 0.0
      return pg + c.value_coef * v_loss, (pg, v_loss)

    (loss, (pg, v_loss)), grads = jax.value_and_grad(loss_fn, has_aux=True)(state["params"])
    updates, opt_state = tx.update(grads, state["opt_state"], state["params"])
    mean_G = jnp.sum(G * valid) / n
    baseline = jnp.where(state["env_steps"] == 0, mean_G,
                         c.baseline_decay * state["baseline"] + (1 - c.baseline_decay) * mean_G)
    returns = jnp.sum(rewards, 0)
    steps = jnp.sum(valid).astype(jnp.int32)
    finished = state["episodes"].finished + num_envs
    episodes = envs.Episodes(jnp.zeros(num_envs), returns, finished)
    new = {"params": optax.apply_updates(state["params"], updates), "opt_state": opt_state, "baseline": baseline,
           "episodes": episodes, "env_steps": state["env_steps"] + steps}
    metrics = {"loss": loss, "policy_loss": pg, "value_loss": v_loss, "episode_return": returns.mean(),
               "episodes": finished, "env_steps": new["env_steps"]}
    return new, metrics

  return Agent(init, update, _greedy(net), lambda s: s["params"], lambda s, p: {**s, "params": p},
               num_envs * horizon, "reinforce")
