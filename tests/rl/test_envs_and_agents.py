"""gymnax environments (termination vs truncation, checked actions), the agents' pieces against
NumPy references (GAE, the replay ring, the ε schedule), the Atari Q-network's shapes, golden
sampling values, and bad input named in one line."""

import dataclasses
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from cs231n_jax.config import load_config
from cs231n_jax.errors import ConfigError
from cs231n_jax.models.registry import get_model, list_models
from cs231n_jax.rl import dqn, envs
from cs231n_jax.rl.policy_gradient import gae
from cs231n_jax.tasks import rl


def test_unknown_environment_and_bad_actions_are_named():
  with pytest.raises(ConfigError, match="env.name"):
    envs.make("CartPole-v9")
  e = envs.make("CartPole-v1")
  _, state = e.env.reset(jax.random.PRNGKey(0), e.params)
  for bad in (2, -1, 0.5, np.array([0, 1])):
    with pytest.raises(ConfigError, match=r"action: expected an integer in \[0, 2\)"):
      envs.host_step(e, jax.random.PRNGKey(1), state, bad)
  obs, _, reward, terminated, truncated = envs.host_step(e, jax.random.PRNGKey(1), state, 1)
  assert obs.shape == (4,) and reward == 1.0 and not terminated and not truncated


def test_truncation_is_not_termination_and_keeps_the_final_observation():
  e = envs.make("CartPole-v1")
  e = e._replace(params=dataclasses.replace(e.params, max_steps_in_episode=5), max_steps=5)
  obs, state = envs.reset(e, jax.random.PRNGKey(0), 3)
  for i in range(5):
    t = envs.step(e, jax.random.PRNGKey(10 + i), state, obs, jnp.array([0, 1, 0], jnp.int32))
    if i < 4:
      assert not np.any(t.truncated) and not np.any(t.terminated)
      np.testing.assert_array_equal(t.final_obs, t.next_obs)
    obs, state = t.next_obs, t.env_state
  assert np.all(t.truncated) and not np.any(t.terminated)  # the time limit, the pole still up
  assert np.all(np.asarray(state.time) == 0)  # auto-reset: a new episode started
  assert not np.allclose(t.final_obs, t.next_obs)  # the real last observation is kept apart
  assert np.all(np.abs(np.asarray(t.next_obs)) <= 0.05)  # a reset state (uniform in ±0.05)


def test_termination_in_catch_and_episode_returns():
  e = envs.make("Catch-bsuite")
  obs, state = envs.reset(e, jax.random.PRNGKey(0), 4)
  ep = envs.episodes_init(4)
  for i in range(9):
    t = envs.step(e, jax.random.PRNGKey(i), state, obs, jnp.ones(4, jnp.int32))
    ep = envs.episodes_update(ep, t)
    obs, state = t.next_obs, t.env_state
  assert np.all(t.terminated) and not np.any(t.truncated)
  assert set(np.asarray(ep.last).tolist()) <= {-1.0, 1.0} and int(ep.finished) == 4


def numpy_gae(r, v, v_next, d, gamma, lam):
  adv = np.zeros_like(r)
  a = np.zeros(r.shape[1])
  for t in reversed(range(r.shape[0])):
    delta = r[t] + gamma * v_next[t] * (1 - d[t]) - v[t]
    a = delta + gamma * lam * (1 - d[t]) * a
    adv[t] = a
  return adv


def test_gae_against_numpy_and_its_limits():
  rng = np.random.default_rng(0)
  r, v, vn = (rng.normal(size=(7, 3)).astype(np.float32) for _ in range(3))
  d = (rng.uniform(size=(7, 3)) < 0.3).astype(np.float32)
  adv, target = gae(r, v, vn, d, 0.9, 0.8)
  np.testing.assert_allclose(adv, numpy_gae(r, v, vn, d, 0.9, 0.8), rtol=1e-5, atol=1e-5)
  np.testing.assert_allclose(target, np.asarray(adv) + v, rtol=1e-6)
  adv0, _ = gae(r, v, vn, d, 0.9, 0.0)  # λ = 0: the one-step TD error
  np.testing.assert_allclose(adv0, r + 0.9 * vn * (1 - d) - v, rtol=1e-5, atol=1e-5)


def test_replay_ring_against_numpy():
  buf = dqn.replay_init(5, 2)
  ref = np.zeros(5)
  pos = 0
  for i in range(4):
    items = {"obs": jnp.full((3, 2), float(i)), "action": jnp.arange(3, dtype=jnp.int32), "reward": jnp.arange(3.0) + 10 * i,
             "next_obs": jnp.zeros((3, 2)), "terminated": jnp.zeros(3, bool)}
    buf = dqn.replay_add(buf, items)
    for j in range(3):
      ref[pos] = 10 * i + j
      pos = (pos + 1) % 5
  np.testing.assert_array_equal(buf["reward"], ref)
  assert int(buf["size"]) == 5 and int(buf["position"]) == pos
  b = dqn.replay_sample(buf, jax.random.PRNGKey(0), 64)
  assert set(np.asarray(b["reward"]).tolist()) <= set(ref.tolist())


def test_epsilon_schedule():
  c = rl.agent_defaults("dqn")
  eps = [float(dqn.epsilon_schedule(c, s, 1000)) for s in (0, 250, 500, 900)]
  np.testing.assert_allclose(eps, [1.0, 0.525, 0.05, 0.05], rtol=1e-6)


def test_atari_q_network_shapes():
  assert "atari_q_network" in list_models("policy")
  net = get_model("atari_q_network", num_actions=6)
  x = jax.ShapeDtypeStruct((2, 84, 84, 4), jnp.uint8)
  params = jax.eval_shape(net.init, jax.ShapeDtypeStruct((2,), jnp.uint32), x)["params"]  # shapes, nothing computed
  assert jax.eval_shape(net.apply, {"params": params}, x).shape == (2, 6)
  shapes = jax.tree.map(lambda p: p.shape, params)
  assert shapes["conv1"]["kernel"] == (8, 8, 4, 16) and shapes["conv2"]["kernel"] == (4, 4, 16, 32)
  assert shapes["fc"]["kernel"] == (9 * 9 * 32, 256) and shapes["q"]["kernel"] == (256, 6)
  assert sum(p.size for p in jax.tree.leaves(params)) == (8 * 8 * 4 * 16 + 16) + (4 * 4 * 16 * 32 + 32) + (2592 * 256 + 256) + (256 * 6 + 6)


def test_policy_sampling_golden_values():
  # the rollouts' action sampling: jax.random.categorical on the policy's logits (threefry2x32, jax 0.10)
  logits = jnp.log(jnp.array([[0.7, 0.2, 0.1]] * 10))
  actions = jax.random.categorical(jax.random.PRNGKey(123), logits).tolist()
  assert actions == GOLDEN_POLICY_SAMPLES


GOLDEN_POLICY_SAMPLES = [0, 0, 1, 0, 1, 2, 0, 0, 0, 0]  # recorded once; a change means the sampling changed


@pytest.mark.parametrize("field,value,agent", [
    ("env.name", "Pong-v0", "ppo"), ("agent.gamma", 1.2, "ppo"), ("agent.gamma", -0.5, "dqn"),
    ("agent.buffer_size", 32, "dqn"), ("agent.name", "sarsa", "ppo"), ("agent.num_minibatches", 3, "ppo"),
    ("agent.baseline", "median", "reinforce"), ("agent.gae_lambda", 2.0, "a2c")])
def test_bad_config_is_one_line_naming_the_field(field, value, agent):
  c = rl.base_config(agent)
  block, name = field.split(".")
  c[block][name] = value
  with pytest.raises(ConfigError, match=field.replace(".", r"\.")) as info:
    rl.check_config(c)
  assert "\n" not in str(info.value)


def test_breakout_minatar_environment_and_its_config():
  # MinAtar Breakout: 10x10x4 binary frames flattened to 400, 3 actions (no-op, left, right), a
  # 1000-step time limit; the config keeps the gymnax reference's PPO settings
  e = envs.make("Breakout-MinAtar")
  assert (e.num_actions, e.obs_size, e.max_steps) == (3, 400, 1000)
  obs, state = envs.reset(e, jax.random.PRNGKey(0), 2)
  assert obs.shape == (2, 400) and obs.dtype == jnp.float32 and set(np.unique(np.asarray(obs)).tolist()) == {0.0, 1.0}
  frame = np.asarray(obs).reshape(2, 10, 10, 4)  # channels: paddle, ball, trail, bricks
  np.testing.assert_array_equal(frame[:, 9, :, 0].sum(-1), [1, 1])  # one paddle cell in the bottom row
  np.testing.assert_array_equal(frame[:, 1:4, :, 3], 1)  # three full rows of bricks
  c = load_config(Path(__file__).parents[2] / "experiments/configs/rl/ppo_breakout_minatar.py")
  rl.check_config(c)
  a = c.agent
  assert (a.num_envs, a.num_steps, a.update_epochs, a.num_minibatches, a.gamma, a.hidden) == (64, 128, 4, 8, 0.999, (256, 256))
  assert c.eval.solved_return == 28.0 and c.train.num_steps * c.updates_per_step * 64 * 128 == 1_048_576
