"""REINFORCE on gymnax Catch (bsuite, 10x5), 5 seeds as one jit(vmap) program; solved = return 1.0 (every
ball caught) over 100 greedy evaluation episodes per seed.
Command: cs231n-jax train --config experiments/configs/rl/reinforce_catch.py --workdir workdirs/rl_reinforce_catch
Expected: 5 of 5 seeds solved (at 8.6k-17.3k env steps); test return 1.0 at every seed; CPU-2 (shared), 4 min 1 s
"""

from cs231n_jax.tasks import rl


def get_config():
  c = rl.base_config("reinforce", "Catch-bsuite")
  c.num_seeds = 5
  c.eval.update(num_episodes=100, solved_return=1.0)
  c.agent.update(num_envs=16, rollout_steps=9, baseline="value", learning_rate=3e-3)  # Catch: 9-step episodes
  c.updates_per_step = 1
  c.train.update(num_steps=300, eval_every=20, log_every=20, checkpoint_every=100)  # 300 x 16 episodes of 9 steps
  return c
