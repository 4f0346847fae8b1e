"""Advantage actor-critic with GAE on gymnax CartPole-v1, 5 seeds as one jit(vmap) program, 500k
environment steps per seed.

The lecture's actor-critic (its listing's typos fixed: reward-to-go over r_{t'}, score of log π_θ,
ascent for θ and descent for φ) with GAE(λ) advantages: 16 environments x 8 steps per iteration, one
Adam step per iteration on −Σ A log π + 0.5 (V − target)² − 0.01 H, gamma 0.99, λ 0.95.
Command: cs231n-jax train --config experiments/configs/rl/a2c_cartpole.py --workdir workdirs/rl_a2c_cartpole
Expected: 4 of 5 seeds solved (at 20k-205k env steps; seed 0 peaked at 438); test return 471.1 mean,
  378.9 worst seed; CPU-2 (shared), 4 min 55 s
"""

from cs231n_jax.tasks import rl


def get_config():
  c = rl.base_config("a2c", "CartPole-v1")
  c.num_seeds = 5
  c.agent.update(num_envs=16, num_steps=8, gamma=0.99, gae_lambda=0.95, entropy_coef=0.01, value_coef=0.5,
                 learning_rate=1e-3, anneal_lr=True, max_grad_norm=0.5, hidden=(64, 64), activation="tanh",
                 normalize_advantages=False)
  c.updates_per_step = 20  # 2560 environment steps per seed per engine step
  c.eval.update(num_episodes=100, solved_return=475.0)
  c.train.update(num_steps=rl.iterations_for(c, 500_000), eval_every=8, log_every=8, checkpoint_every=40)
  return c
