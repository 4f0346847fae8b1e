"""Finite MDPs as arrays, and the lecture's exact / tabular algorithms on them.

An :class:`MDP` is the lecture's (S, A, R, P, γ) as tensors: ``P[s, a, s']`` the transition
probabilities, ``R[s, a]`` the expected reward, ``terminal[s]`` absorbing states whose value is 0,
``gamma``. Everything here is a pure function of those arrays (jittable, vmappable over MDPs).

The grid world: the lecture's slide gives the actions (1. right, 2. left, 3. up, 4. down) and
"r = −1 for each transition" but draws the grid only in a figure. We take Sutton & Barto's
Example 4.1 (Reinforcement Learning: An Introduction, 2nd ed., §4.1): a 4x4 grid, the top-left and
bottom-right cells terminal, reward −1 on every transition, moves off the grid leave the state
unchanged, undiscounted (γ = 1). Its optimal value is minus the number of steps to the nearest
terminal cell, and the equiprobable random policy's values are S&B's Figure 4.1 (−14, −20, −22 ...).
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from cs231n_jax.errors import ConfigError

# The lecture's action order (C12): 1. right, 2. left, 3. up, 4. down (0-based here).
GRID_ACTIONS = ("right", "left", "up", "down")
_MOVES = {"right": (0, 1), "left": (0, -1), "up": (-1, 0), "down": (1, 0)}


class MDP(NamedTuple):
  P: jax.Array         # [S, A, S] transition probabilities
  R: jax.Array         # [S, A] expected reward
  terminal: jax.Array  # [S] bool: absorbing, value 0
  gamma: float


def check_gamma(gamma: float, name: str = "gamma") -> float:
  g = float(gamma)
  if not 0.0 <= g <= 1.0:
    raise ConfigError(f"{name}: expected a discount factor in [0, 1], got {gamma!r}")
  return g


def grid_world(rows: int = 4, cols: int = 4, terminals=((0, 0), (3, 3)), reward: float = -1.0,
               gamma: float = 1.0) -> MDP:
  """Sutton & Barto's Example 4.1 (the default): state ``r * cols + c``; actions ``GRID_ACTIONS``."""
  gamma = check_gamma(gamma)
  S, A = rows * cols, len(GRID_ACTIONS)
  P = np.zeros((S, A, S), np.float32)
  R = np.full((S, A), reward, np.float32)
  term = np.zeros(S, bool)
  for (r, c) in terminals:
    if not (0 <= r < rows and 0 <= c < cols):
      raise ConfigError(f"terminals: cell {(r, c)} is outside the {rows}x{cols} grid")
    term[r * cols + c] = True
  for s in range(S):
    r, c = divmod(s, cols)
    for a, name in enumerate(GRID_ACTIONS):
      if term[s]:
        P[s, a, s], R[s, a] = 1.0, 0.0
        continue
      dr, dc = _MOVES[name]
      nr, nc = r + dr, c + dc
      if not (0 <= nr < rows and 0 <= nc < cols):
        nr, nc = r, c
      P[s, a, nr * cols + nc] = 1.0
  return MDP(jnp.asarray(P), jnp.asarray(R), jnp.asarray(term), gamma)


def random_mdp(key: jax.Array, num_states: int = 5, num_actions: int = 3, gamma: float = 0.9,
               concentration: float = 1.0) -> MDP:
  """A random MDP: ``P[s, a]`` from a Dirichlet, ``R ~ N(0, 1)``, no terminal states."""
  gamma = check_gamma(gamma)
  kp, kr = jax.random.split(key)
  P = jax.random.dirichlet(kp, jnp.full((num_states,), concentration), (num_states, num_actions))
  R = jax.random.normal(kr, (num_states, num_actions))
  return MDP(P, R, jnp.zeros(num_states, bool), gamma)


def bellman_q(mdp: MDP, V: jax.Array) -> jax.Array:
  """Q(s, a) = R(s, a) + γ Σ_s' P(s' | s, a) V(s'), with V = 0 at terminal states."""
  V = jnp.where(mdp.terminal, 0.0, V)
  return mdp.R + mdp.gamma * jnp.einsum("sat,t->sa", mdp.P, V)


def value_iteration(mdp: MDP, num_iterations: int = 1000, tol: float = 0.0) -> tuple[jax.Array, jax.Array]:
  """The lecture's update Q_{i+1}(s, a) = E[r + γ max_a' Q_i(s', a') | s, a] (C13), all states at once,
  until the largest change is ``<= tol`` or ``num_iterations`` sweeps. Returns ``(Q*, V*)``."""

  def cond(carry):
    i, _, delta = carry
    return (i < num_iterations) & (delta > tol)

  def body(carry):
    i, Q, _ = carry
    new = bellman_q(mdp, Q.max(-1))
    return i + 1, new, jnp.max(jnp.abs(new - Q))

  Q0 = jnp.zeros_like(mdp.R)
  _, Q, _ = jax.lax.while_loop(cond, body, (0, Q0, jnp.asarray(jnp.inf, Q0.dtype)))
  return Q, jnp.where(mdp.terminal, 0.0, Q.max(-1))


def policy_evaluation(mdp: MDP, policy: jax.Array) -> jax.Array:
  """V^π exactly, from the linear system V = r_π + γ P_π V (terminal states held at 0):
  ``policy[s, a]`` = π(a | s). Needs a proper policy when γ = 1 (every state reaches a terminal)."""
  S = mdp.R.shape[0]
  live = (~mdp.terminal).astype(mdp.R.dtype)
  r_pi = jnp.sum(policy * mdp.R, -1) * live
  P_pi = jnp.einsum("sa,sat->st", policy, mdp.P) * live[:, None] * live[None, :]
  return jnp.linalg.solve(jnp.eye(S, dtype=mdp.R.dtype) - mdp.gamma * P_pi, r_pi)


def greedy(Q: jax.Array) -> jax.Array:
  """argmax_a Q(s, a) (the slides' "max" means argmax), ties to the lowest action index."""
  return jnp.argmax(Q, -1)


def epsilon_greedy(key: jax.Array, q_values: jax.Array, epsilon) -> jax.Array:
  """With probability ε a uniformly random action (explore), otherwise argmax_a Q (P14).
  ``q_values``: [..., A]; returns int32 actions of shape [...]."""
  k_explore, k_action = jax.random.split(key)
  shape, A = q_values.shape[:-1], q_values.shape[-1]
  explore = jax.random.uniform(k_explore, shape) < epsilon
  random_action = jax.random.randint(k_action, shape, 0, A)
  return jnp.where(explore, random_action, jnp.argmax(q_values, -1)).astype(jnp.int32)


@functools.partial(jax.jit, static_argnames=("num_steps", "num_envs"))
def q_learning(mdp: MDP, key: jax.Array, num_steps: int, learning_rate: float = 0.5, epsilon: float = 0.2,
               num_envs: int = 16) -> jax.Array:
  """Tabular Q-learning: ``num_envs`` episodes run side by side with ε-greedy behaviour from uniformly
  random non-terminal starts (a new start when one ends); each transition updates
  Q(s, a) += α (r + γ max_a' Q(s', a') − Q(s, a)), with no bootstrap from a terminal s'.
  Returns Q after ``num_steps`` steps of every environment."""
  S, A = mdp.R.shape
  live = ~mdp.terminal
  start_logits = jnp.where(live, 0.0, -jnp.inf)

  def step(carry, key):
    Q, s = carry
    k_act, k_next, k_start = jax.random.split(key, 3)
    a = epsilon_greedy(k_act, Q[s], epsilon)
    s_next = jax.random.categorical(k_next, jnp.log(mdp.P[s, a] + 1e-30))
    r = mdp.R[s, a]
    done = mdp.terminal[s_next]
    # the environments' transitions update the table one after another (each sees the latest Q)
    def one_fresh(Q, i):
      t = r[i] + mdp.gamma * jnp.where(done[i], 0.0, Q[s_next[i]].max())
      return Q.at[s[i], a[i]].add(learning_rate * (t - Q[s[i], a[i]])), None

    Q, _ = jax.lax.scan(one_fresh, Q, jnp.arange(s.shape[0]))
    restart = jax.random.categorical(k_start, start_logits, shape=s.shape)
    return (Q, jnp.where(done, restart, s_next)), None

  k0, key = jax.random.split(key)
  s0 = jax.random.categorical(k0, start_logits, shape=(num_envs,))
  (Q, _), _ = jax.lax.scan(step, (jnp.zeros((S, A), mdp.R.dtype), s0), jax.random.split(key, num_steps))
  return Q


def softmax_policy(theta: jax.Array) -> jax.Array:
  return jax.nn.softmax(theta, -1)


def finite_horizon_return(mdp: MDP, theta: jax.Array, p0: jax.Array, horizon: int) -> jax.Array:
  """J(θ) = E[Σ_{t<H} γ^t r_t] exactly, for the tabular softmax policy π_θ(a | s) = softmax(θ[s])_a and
  start distribution ``p0`` (a backward recursion; differentiable, so ``jax.grad`` of it is the analytic
  policy gradient the REINFORCE estimates are checked against)."""
  pi = softmax_policy(theta)

  def back(V, _):
    Q = bellman_q(mdp, V)
    return jnp.sum(pi * Q, -1), None

  V, _ = jax.lax.scan(back, jnp.zeros(mdp.R.shape[0], mdp.R.dtype), None, length=horizon)
  return jnp.dot(p0, V)


@functools.partial(jax.jit, static_argnames=("horizon", "num"))
def sample_trajectories(mdp: MDP, theta: jax.Array, p0: jax.Array, horizon: int, key: jax.Array,
                        num: int) -> dict[str, jax.Array]:
  """``num`` trajectories of ``horizon`` steps under π_θ: states, actions, rewards, each [num, H]."""
  pi = softmax_policy(theta)
  k0, key = jax.random.split(key)
  s0 = jax.random.categorical(k0, jnp.log(p0 + 1e-30), shape=(num,))

  def step(s, key):
    ka, ks = jax.random.split(key)
    a = jax.random.categorical(ka, jnp.log(pi[s] + 1e-30))
    s_next = jax.random.categorical(ks, jnp.log(mdp.P[s, a] + 1e-30))
    s_next = jnp.where(mdp.terminal[s], s, s_next)
    return s_next, (s, a, jnp.where(mdp.terminal[s], 0.0, mdp.R[s, a]))

  _, (s, a, r) = jax.lax.scan(step, s0, jax.random.split(key, horizon))
  return {"states": s.T, "actions": a.T, "rewards": r.T}


def discounted_reward_to_go(rewards: jax.Array, gamma: float) -> jax.Array:
  """G_t = Σ_{t' >= t} γ^{t'−t} r_{t'} along the last axis."""

  def back(g, r):
    g = r + gamma * g
    return g, g

  _, G = jax.lax.scan(back, jnp.zeros(rewards.shape[:-1], rewards.dtype), jnp.moveaxis(rewards, -1, 0), reverse=True)
  return jnp.moveaxis(G, 0, -1)


def reinforce_gradients(theta: jax.Array, traj: dict[str, jax.Array], gamma: float, estimator: str,
                        baseline: jax.Array | None = None) -> jax.Array:
  """Per-trajectory REINFORCE estimates of ∇_θ J, [num, *theta.shape]:

  - ``"return"``: r(τ) Σ_t ∇ log π(a_t | s_t), with r(τ) = Σ_t γ^t r_t (P17);
  - ``"reward_to_go"``: Σ_t γ^t G_t ∇ log π(a_t | s_t), G_t the discounted reward-to-go (P18, P19).
    The factor γ^t keeps it unbiased for J = E[Σ γ^t r_t]; the slides' Σ_t G_t ∇ log π drops it
    (the usual practice: it estimates a different, undiscounted-in-time direction);
  - ``"baseline"``: as ``reward_to_go`` with G_t − b(s_t) (P20), ``baseline[s]`` a state baseline.
  """
  H = traj["rewards"].shape[1]
  disc = gamma ** jnp.arange(H, dtype=traj["rewards"].dtype)

  # ∇_θ log softmax(θ[s])_a: (one_hot(a) − π(s)) in row s, zero elsewhere
  S, A = theta.shape
  pi = softmax_policy(theta)
  score = (jax.nn.one_hot(traj["states"], S, dtype=theta.dtype)[..., :, None]
           * (jax.nn.one_hot(traj["actions"], A, dtype=theta.dtype) - pi[traj["states"]])[..., None, :])
  if estimator == "return":
    weights = jnp.broadcast_to(jnp.sum(disc * traj["rewards"], -1, keepdims=True), traj["rewards"].shape)
  elif estimator in ("reward_to_go", "baseline"):
    G = discounted_reward_to_go(traj["rewards"], gamma)
    if estimator == "baseline":
      if baseline is None:
        raise ConfigError("baseline: the 'baseline' estimator needs a state baseline b[s]")
      G = G - baseline[traj["states"]]
    weights = disc * G
  else:
    raise ConfigError(f"estimator: expected 'return', 'reward_to_go' or 'baseline', got {estimator!r}")
  return jnp.einsum("nt,nt...->n...", weights, score)
