"""The RL task through the engine: K seeds as one vmapped program, per-seed metrics, a tiny learning
check on Catch, and the vmapped seeds equal to the same seeds trained on their own."""

import json

import jax
import numpy as np

from cs231n_jax.rl import envs
from cs231n_jax.tasks import rl
from cs231n_jax.train.metrics import read_jsonl


def catch_ppo_config(num_seeds=2):
  c = rl.base_config("ppo", "Catch-bsuite")
  c.num_seeds = num_seeds
  c.agent.update(num_envs=8, num_steps=16, learning_rate=3e-3, anneal_lr=False)
  c.eval.update(num_episodes=20, solved_return=1.0)
  c.train.update(num_steps=100, eval_every=50, log_every=50, checkpoint_every=100)
  return c


STAY_RETURN = -0.6


def test_stay_policy_return_on_catch():
  # the reference of the learning check: the paddle starts in the middle column; action 1 keeps it there
  env = envs.make("Catch-bsuite")
  obs, state = envs.reset(env, jax.random.PRNGKey(0), 2000)
  np.testing.assert_array_equal(np.asarray(obs).reshape(-1, 10, 5)[:, -1], np.tile([0, 0, 1, 0, 0], (2000, 1)))
  assert set(np.asarray(state.ball_x).tolist()) == {0, 1, 2, 3, 4}
  caught = np.mean(np.asarray(state.ball_x) == 2)  # a ball falls straight down its column
  assert abs(2 * caught - 1 - STAY_RETURN) < 0.06


def test_ppo_solves_catch_through_the_engine_with_per_seed_metrics(tmp_path):
  c = catch_ppo_config()
  results = rl.run(c, str(tmp_path))
  # learned: a paddle that stays in the middle column catches a ball only when it falls in that
  # column, one in five (expected return 1/5 - 4/5 = -0.6; test_stay_policy_return_on_catch);
  # after 12,800 steps per seed the greedy policy catches at least half at every seed (solving
  # Catch, return 1.0 at every seed, takes longer: experiments/configs/rl/ppo_catch.py)
  assert results["test_return_min"] >= STAY_RETURN + 0.6, results
  assert {"seeds_solved", "seed_0_solved_at_env_steps", "seed_1_solved_at_step"} <= set(results)
  records = read_jsonl(tmp_path / "metrics.jsonl")
  val = [r for r in records if r["split"] == "val"]
  assert [r["seed_1/env_steps"] for r in val] == [50 * 128, 100 * 128]  # each seed's own count
  train = [r for r in records if r["split"] == "train"]
  assert {"seed_0/episode_return", "seed_1/episode_return", "seed_0/env_steps", "seed_1/loss"} <= set(train[-1])
  assert train[-1]["seed_1/env_steps"] == (51 + 100) / 2 * 128  # the mean over the logging window (steps 51-100)
  assert train[-1]["examples_per_sec"] > 0  # environment steps of all seeds per second
  assert json.loads((tmp_path / "results.json").read_text())["test_seed_1/return"] == results["test_seed_1/return"]


def test_vmapped_seeds_equal_each_seed_trained_alone():
  # the task's seed axis does not depend on the agent: A2C (one gradient step per rollout) compiles
  # several times faster than PPO's nested epoch / minibatch scans
  c = rl.base_config("a2c", "Catch-bsuite")
  c.num_seeds = 2
  c.agent.update(num_envs=4, num_steps=8)
  c.train.num_steps = 3
  task, _, agent, _ = rl.build(c)
  key = jax.random.PRNGKey(5)
  state = task.init(key, None)
  state, metrics = jax.jit(task.train_step)(state, None, jax.random.PRNGKey(6))
  step_keys = jax.random.split(jax.random.split(jax.random.PRNGKey(6), 1)[0], 2)  # the task's per-seed keys
  for k, (ik, sk) in enumerate(zip(jax.random.split(key, 2), step_keys)):
    alone, m = jax.jit(agent.update)(agent.init(ik), sk)
    for a, b in zip(jax.tree.leaves(alone["params"]), jax.tree.leaves(jax.tree.map(lambda x: x[k], state["params"]))):
      np.testing.assert_allclose(a, b, rtol=2e-4, atol=2e-5)
    np.testing.assert_allclose(m["loss"], metrics[f"seed_{k}"]["loss"], rtol=1e-4, atol=1e-6)
