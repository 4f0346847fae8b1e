"""The Gymnasium adapter: Gymnasium environments stepped on the host with the compiled agents' conventions
(termination apart from truncation, the final observation kept under auto-reset, checked actions),
and PPO trained on Gymnasium's CartPole-v1 through the engine's host step."""

import json

import numpy as np
import pytest

from cs231n_jax.errors import ConfigError
from cs231n_jax.rl import gym_adapter as G
from cs231n_jax.tasks import rl
from cs231n_jax.train.metrics import read_jsonl


def test_spec_and_bad_names():
  s = G.spec("CartPole-v1")
  assert (s.num_actions, s.obs_size, s.max_steps) == (2, 4, 500)
  with pytest.raises(ConfigError, match="env.name: expected a registered Gymnasium environment"):
    G.spec("CartPole-v9")
  with pytest.raises(ConfigError, match="env.name: the agents need a discrete action space"):
    G.spec("Pendulum-v1")


def test_host_envs_termination_final_observation_and_checked_actions():
  host = G.HostEnvs("CartPole-v1", 2)
  obs = host.reset(seed=0)
  assert obs.shape == (2, 4) and obs.dtype == np.float32
  with pytest.raises(ConfigError, match=r"action: expected an integer in \[0, 2\)"):
    host.step([0, 2])
  for t in range(200):  # always push right: the pole falls within a few dozen steps
    out = host.step([1, 1])
    if out["terminated"].any():
      break
    assert not out["truncated"].any() and host.finished == 0
    np.testing.assert_array_equal(out["final_obs"], out["next_obs"])
  done = out["terminated"]
  assert done.any() and not out["truncated"].any()
  i = int(np.argmax(done))
  assert abs(out["final_obs"][i, 2]) > 0.2  # the last observation: the pole past its 12 degrees
  assert np.all(np.abs(out["next_obs"][i]) <= 0.05)  # the new episode's first (a reset state)
  assert host.finished == done.sum() and host.last[i] == t + 1  # one reward per step until the end
  host.close()


def test_ppo_learns_gymnasium_cartpole_through_the_host_step(tmp_path):
  c = rl.gym_config("ppo", "CartPole-v1")
  c.agent.update(num_envs=4, num_steps=64, anneal_lr=False, learning_rate=1e-3)
  c.eval.num_episodes = 5
  c.train.update(num_steps=16, eval_every=16, log_every=8, checkpoint_every=16)
  results = rl.run_gym(c, str(tmp_path))
  # a greedy policy that pushes one way ends its episodes in about 9-10 steps; after 4,096 steps
  # the greedy policy keeps the pole up many times longer
  assert results["test_return"] >= 60, results
  assert results["test_env_steps"] == 16 * 4 * 64
  train = [r for r in read_jsonl(tmp_path / "metrics.jsonl") if r["split"] == "train"]
  assert [r["step"] for r in train] == [8, 16] and train[-1]["episodes"] > 0
  assert json.loads((tmp_path / "results.json").read_text())["test_return"] == results["test_return"]
  with pytest.raises(ConfigError, match="train.step"):
    c.train.step = "jit"
    rl.gym_task(c)
