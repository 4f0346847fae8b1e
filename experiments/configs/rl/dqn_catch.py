"""DQN on gymnax Catch (bsuite, 10x5), 5 seeds as one jit(vmap) program; solved = return 1.0 (every
ball caught) over 100 greedy evaluation episodes per seed.
Command: cs231n-jax train --config experiments/configs/rl/dqn_catch.py --workdir workdirs/rl_dqn_catch
Expected: 5 of 5 seeds solved (at 3k-5k env steps); test return 1.0 at every seed; CPU-2 (shared), 3 min 7 s
"""

from cs231n_jax.tasks import rl


def get_config():
  c = rl.base_config("dqn", "Catch-bsuite")
  c.num_seeds = 5
  c.eval.update(num_episodes=100, solved_return=1.0)
  c.agent.update(num_envs=4, steps_per_update=1, gradient_steps=1, buffer_size=5_000, batch_size=64,
                 learning_starts=500, target_update_every=50, epsilon_fraction=0.2, learning_rate=1e-3,
                 hidden=(64,))
  c.updates_per_step = 25
  c.train.update(num_steps=200, eval_every=10, log_every=10, checkpoint_every=50)  # 20,000 env steps per seed
  return c
