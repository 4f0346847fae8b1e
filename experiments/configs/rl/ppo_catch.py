"""PPO on gymnax Catch (bsuite, 10x5), 5 seeds as one jit(vmap) program; solved = return 1.0 (every
ball caught) over 100 greedy evaluation episodes per seed.
Command: cs231n-jax train --config experiments/configs/rl/ppo_catch.py --workdir workdirs/rl_ppo_catch
Expected: 3 of 5 seeds solved (at 1.3k, 3.8k, 14k env steps); test return 0.836 mean, 0.58 worst seed;
  CPU-2 (shared), 4 min 11 s
"""

from cs231n_jax.tasks import rl


def get_config():
  c = rl.base_config("ppo", "Catch-bsuite")
  c.num_seeds = 5
  c.eval.update(num_episodes=100, solved_return=1.0)
  c.agent.update(num_envs=8, num_steps=16, learning_rate=3e-3, anneal_lr=False)
  c.updates_per_step = 1
  c.train.update(num_steps=150, eval_every=10, log_every=10, checkpoint_every=50)  # 19,200 env steps per seed
  return c
