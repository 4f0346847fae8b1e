"""A2C on gymnax Catch (bsuite, 10x5), 5 seeds as one jit(vmap) program; solved = return 1.0 (every
ball caught) over 100 greedy evaluation episodes per seed.
Command: cs231n-jax train --config experiments/configs/rl/a2c_catch.py --workdir workdirs/rl_a2c_catch
Expected: 5 of 5 seeds solved (at 7.7k-17.9k env steps); test return 1.0 at every seed; CPU-2 (shared), 4 min 52 s
"""

from cs231n_jax.tasks import rl


def get_config():
  c = rl.base_config("a2c", "Catch-bsuite")
  c.num_seeds = 5
  c.eval.update(num_episodes=100, solved_return=1.0)
  c.agent.update(num_envs=16, num_steps=8, learning_rate=3e-3, anneal_lr=False)
  c.updates_per_step = 1
  c.train.update(num_steps=300, eval_every=20, log_every=20, checkpoint_every=100)  # 38,400 env steps per seed
  return c
