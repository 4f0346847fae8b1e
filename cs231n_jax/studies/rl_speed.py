"""Speed of compiled RL, in one run on one machine:

- environment steps per second of gymnax CartPole-v1 compiled (``jit`` of a ``lax.scan`` over steps,
  ``vmap`` over environments, random actions) against Gymnasium's CartPole-v1 stepped from a Python
  loop (random actions, resets on episode end);
- PPO training: K seeds as one ``jit(vmap(update))`` program against the same K seeds trained one
  after another (each its own compiled K=1 program), in environment steps per second, compile
  excluded (reported apart).
"""

from __future__ import annotations

import json
import time
from typing import Any

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
from etils import epath

from cs231n_jax.rl import envs
from cs231n_jax.tasks import rl


def base_config() -> ml_collections.ConfigDict:
  c = ml_collections.ConfigDict()
  c.runner = "cs231n_jax.studies.rl_speed:run"
  c.seed = 0
  c.env_name = "CartPole-v1"
  c.gymnasium_steps = 20_000
  c.gymnax_envs = (1, 64, 1024)
  c.gymnax_steps = 1000        # steps of every environment in one compiled call
  c.ppo_seeds = 8
  c.ppo_iterations = 20        # timed PPO iterations (after one compiled warm-up)
  c.ppo = rl.agent_defaults("ppo")
  return c


def gymnasium_steps_per_second(name: str, steps: int, seed: int) -> float:
  import gymnasium

  env = gymnasium.make(name)
  env.reset(seed=seed)
  rng = np.random.default_rng(seed)
  start = time.perf_counter()
  for _ in range(steps):
    _, _, terminated, truncated, _ = env.step(int(rng.integers(2)))
    if terminated or truncated:
      env.reset()
  return steps / (time.perf_counter() - start)


def gymnax_steps_per_second(e: envs.Env, num_envs: int, steps: int, seed: int) -> tuple[float, float]:
  """(steps/s, compile seconds) of ``steps`` random-action steps of ``num_envs`` environments."""

  @jax.jit
  def run(key):
    k0, key = jax.random.split(key)
    obs, state = envs.reset(e, k0, num_envs)

    def one(carry, key):
      state, obs, total = carry
      ka, ks = jax.random.split(key)
      t = envs.step(e, ks, state, obs, jax.random.randint(ka, (num_envs,), 0, e.num_actions))
      return (t.env_state, t.next_obs, total + t.reward.sum()), None

    return jax.lax.scan(one, (state, obs, jnp.zeros(())), jax.random.split(key, steps))[0][2]

  start = time.perf_counter()
  run(jax.random.PRNGKey(seed)).block_until_ready()
  compile_s = time.perf_counter() - start
  start = time.perf_counter()
  run(jax.random.PRNGKey(seed + 1)).block_until_ready()
  return num_envs * steps / (time.perf_counter() - start), compile_s


def ppo_steps_per_second(config: ml_collections.ConfigDict, num_seeds: int, iterations: int) -> tuple[float, float]:
  c = rl.base_config("ppo", config.env_name)
  c.agent = config.ppo
  c.num_seeds = num_seeds
  c.train.num_steps = iterations + 1
  task, _, agent, _ = rl.build(c)
  state = jax.jit(task.init)(jax.random.PRNGKey(config.seed), None)
  step = jax.jit(task.train_step)
  start = time.perf_counter()
  state, m = step(state, None, jax.random.PRNGKey(0))
  jax.block_until_ready(m)
  compile_s = time.perf_counter() - start
  start = time.perf_counter()
  for i in range(iterations):
    state, m = step(state, None, jax.random.PRNGKey(i + 1))
  jax.block_until_ready(m)
  return num_seeds * iterations * agent.env_steps_per_update / (time.perf_counter() - start), compile_s


def run(config: ml_collections.ConfigDict, workdir: str) -> dict[str, Any]:
  workdir = epath.Path(workdir)
  workdir.mkdir(parents=True, exist_ok=True)
  e = envs.make(config.env_name)
  out: dict[str, Any] = {"device": str(jax.devices()[0]), "env": config.env_name}
  out["gymnasium_python_loop_steps_per_s"] = gymnasium_steps_per_second(config.env_name, config.gymnasium_steps,
                                                                         config.seed)
  for n in config.gymnax_envs:
    sps, comp = gymnax_steps_per_second(e, n, config.gymnax_steps, config.seed)
    out[f"gymnax_{n}_envs_steps_per_s"], out[f"gymnax_{n}_envs_compile_s"] = sps, comp
    out[f"gymnax_{n}_envs_vs_gymnasium"] = sps / out["gymnasium_python_loop_steps_per_s"]
  K = config.ppo_seeds
  vm, vm_comp = ppo_steps_per_second(config, K, config.ppo_iterations)
  one, one_comp = ppo_steps_per_second(config, 1, config.ppo_iterations)
  out.update({f"ppo_{K}_seeds_vmapped_env_steps_per_s": vm, f"ppo_{K}_seeds_vmapped_compile_s": vm_comp,
              "ppo_1_seed_env_steps_per_s": one, "ppo_1_seed_compile_s": one_comp,
              f"ppo_{K}_seeds_vmapped_vs_one_after_another": vm / one})
  (workdir / "results.json").write_text(json.dumps(out, indent=2))
  for k, v in out.items():
    print(f"{k}: {v:.4g}" if isinstance(v, float) else f"{k}: {v}")
  return out
