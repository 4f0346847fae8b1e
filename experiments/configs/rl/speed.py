"""Speed of the compiled rollout and of vmapped seeds: gymnax CartPole-v1 (jit + scan + vmap, random
actions, 1 / 64 / 1024 environments) against Gymnasium's CartPole-v1 in a Python loop, and PPO with 8
seeds as one jit(vmap) program against one seed at a time, in environment steps per second (compile
reported apart).
Command: cs231n-jax train --config experiments/configs/rl/speed.py --workdir workdirs/rl_speed
Expected: Gymnasium loop 34k steps/s; gymnax compiled 186k (1 env, 5.5x), 3.06M (64 envs, 90x), 2.76M
  (1024 envs, 81x); PPO 8 seeds vmapped 29.5k env steps/s vs 20.6k for one seed (1.43x); CPU-2, loaded (load ~40)
"""

from cs231n_jax.studies import rl_speed


def get_config():
  c = rl_speed.base_config()
  c.gymnasium_steps = 20_000
  c.gymnax_envs = (1, 64, 1024)
  c.gymnax_steps = 1000
  c.ppo_seeds = 8
  c.ppo_iterations = 20
  return c
