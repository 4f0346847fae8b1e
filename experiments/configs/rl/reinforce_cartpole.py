"""REINFORCE with a learned value baseline on gymnax CartPole-v1, 5 seeds as one jit(vmap) program.

Every iteration plays 8 whole episodes per seed (up to 500 steps each), weights each step's score by
the discounted reward-to-go minus V_phi(s_t) (normalised), fits V_phi to the reward-to-go, one Adam
step (1e-3). 600 iterations: at most 2.4M environment steps, in practice fewer (short early
episodes); results.json gives each seed's environment steps at its first solved evaluation (the goal
is within 1M).
Command: cs231n-jax train --config experiments/configs/rl/reinforce_cartpole.py --workdir workdirs/rl_reinforce_cartpole
Expected: 5 of 5 seeds solved (at 73k-118k env steps); test return 498.6 mean, 497.6 worst seed; CPU-2 (shared), 10 min 43 s
"""

from cs231n_jax.tasks import rl


def get_config():
  c = rl.base_config("reinforce", "CartPole-v1")
  c.num_seeds = 5
  c.agent.update(num_envs=8, baseline="value", baseline_decay=0.9, value_coef=0.5, normalize_advantages=True,
                 gamma=0.99, learning_rate=1e-3, anneal_lr=False, max_grad_norm=0.5, hidden=(64, 64),
                 activation="tanh")
  c.updates_per_step = 1
  c.eval.update(num_episodes=100, solved_return=475.0)
  c.train.update(num_steps=600, eval_every=10, log_every=10, checkpoint_every=100)
  return c
