"""The speed study's pieces (studies/rl_speed.py) at toy sizes. No time is asserted: the study's
numbers are benchmarks of a machine, reported in the docs; here only that the two ways of running K
seeds do the same work, and that the table and the optional PyTorch row behave."""

import importlib.util

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from cs231n_jax.rl.policy_gradient import Agent
from cs231n_jax.studies import rl_speed


def test_vmapped_whole_runs_train_the_same_seeds_as_runs_one_after_another():
  # the study's two ways of running K seeds on a stand-in agent (a random walk per seed: nothing to
  # compile but the scan and the vmap; that the real agents vmap over seeds exactly is
  # tests/tasks/test_rl_task.py's check)
  def update(state, key):
    state = {"x": state["x"] + jax.random.normal(key), "n": state["n"] + 1}
    return state, {"episode_return": state["x"] * state["n"]}

  agent = Agent(init=lambda key: {"x": jax.random.normal(key), "n": jnp.zeros(())}, update=update, act=None,
                params=None, with_params=None, env_steps_per_update=1, name="walk")
  keys = jax.random.split(jax.random.PRNGKey(0), 3)
  w = rl_speed.whole_runs(agent, 5, keys)
  np.testing.assert_allclose(w["vmapped_final_return"], w["sequential_final_return"], rtol=1e-6)
  assert len(set(np.round(w["vmapped_final_return"], 4))) == 3  # three different seeds
  # the same run by hand: init from the first half of the seed's key, 5 updates from the second
  k_init, k_run = jax.random.split(keys[1])
  state = agent.init(k_init)
  for k in jax.random.split(k_run, 5):
    state, m = update(state, k)
  np.testing.assert_allclose(w["sequential_final_return"][1], m["episode_return"], atol=1e-5)  # eager vs compiled float32
  assert all(w[k] > 0 for k in ("vmapped_compile_s", "vmapped_run_s", "one_seed_compile_s", "sequential_run_s"))
  assert w["one_seed_run_s"] == pytest.approx(w["sequential_run_s"] / 3)


def fake_results(torch: bool):
  r = {"env": "CartPole-v1", "gymnasium_python_loop_steps_per_s": 100.0, "gymnax_1_envs_steps_per_s": 300.0,
       "gymnax_64_envs_steps_per_s": 6400.0, "ppo_seeds": 4, "ppo_updates": 2, "ppo_env_steps_per_run": 1024,
       "whole_run_vmapped_compile_s": 10.0, "whole_run_vmapped_run_s": 2.0, "whole_run_one_seed_compile_s": 5.0,
       "whole_run_sequential_run_s": 4.0, "whole_run_one_seed_run_s": 1.0, "whole_run_vmapped_final_return": [1.0, 3.0],
       "whole_run_sequential_final_return": [1.0, 3.0], "whole_run_vmapped_vs_sequential": 2.0,
       "whole_run_vmapped_vs_sequential_with_compile": 0.75, "whole_run_vmapped_env_steps_per_s": 2048.0,
       "whole_run_one_seed_env_steps_per_s": 1024.0, "adapter_run_s": 5.0, "adapter_env_steps_per_s": 204.8,
       "adapter_last_return": 20.0, "compiled_one_seed_vs_adapter": 5.0}
  if torch:
    r.update({"cleanrl_torch_run_s": 8.0, "cleanrl_torch_env_steps_per_s": 128.0, "cleanrl_torch_last_return": 15.0,
              "cleanrl_torch_threads": 2, "compiled_one_seed_vs_cleanrl_torch": 8.0,
              "vmapped_k_seeds_vs_cleanrl_torch_k_runs": 16.0, "adapter_vs_cleanrl_torch": 1.6})
  else:
    r["cleanrl_torch_skipped"] = "torch is not installed (No module named 'torch')"
  return r


def test_table_rows_and_ratios():
  t = rl_speed.table(fake_results(torch=True))
  assert "| gymnax CartPole-v1, jit(scan(vmap)), 64 environments | 6,400 | 64.0x |" in t
  assert "| one jit(vmap(train)) program | 4 | 10.0 | 2.00 | 2,048 | 2.0 (mean) |" in t
  assert "4 seeds as one program vs one after another (run time): 2.00x; counting each side's compile: 0.75x" in t
  assert "PyTorch policy (2 threads) | 1 | none | 8.00 | 128 | 15.0 |" in t
  assert "4 seeds as one program vs 4 CleanRL-style runs one after another: 16.0x" in t
  skipped = rl_speed.table(fake_results(torch=False))
  assert "| CleanRL-style PyTorch loop | skipped: torch is not installed" in skipped and "CleanRL-style runs" not in skipped


@pytest.mark.skipif(importlib.util.find_spec("torch") is None, reason="torch not installed (the optional 'bench' extra)")
def test_cleanrl_style_torch_loop_runs():
  c = rl_speed.base_config()
  c.ppo.update(num_envs=2, num_steps=16, num_minibatches=2, update_epochs=1)
  seconds, last_return, threads = rl_speed.cleanrl_torch_run_s(c, 2)
  assert seconds > 0 and threads >= 1
  # 3 iterations x 2 environments x 16 steps (one warm-up, two timed), seeded: episodes of a nearly uniform
  # policy last about 20 steps, so episodes have ended and their returns (+1 per step) are counted
  assert last_return > 0
