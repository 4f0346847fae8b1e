"""PPO on gymnax CartPole-v1, 5 seeds trained as one jit(vmap) program, 500k environment steps per seed.

4 environments x 128 steps per iteration, 4 epochs of 4 minibatches, clip 0.2, GAE(0.95), gamma 0.99,
Adam 2.5e-4 annealed to 0, tanh MLP 64-64 actor and critic (purejaxrl's CartPole settings). Every
~20k environment steps the greedy policy plays 100 episodes per seed; results.json gives, per seed,
the environment steps at the first evaluation with mean return >= 475 (solved).
Command: cs231n-jax train --config experiments/configs/rl/ppo_cartpole.py --workdir workdirs/rl_ppo_cartpole
Expected: 5 of 5 seeds solved (first at 20k-41k env steps); test return 497.8 mean, 489.1 worst seed;
  CPU-2 (shared), 3 min 34 s
"""

from cs231n_jax.tasks import rl


def get_config():
  c = rl.base_config("ppo", "CartPole-v1")
  c.num_seeds = 5
  c.agent.update(num_envs=4, num_steps=128, update_epochs=4, num_minibatches=4, gamma=0.99, gae_lambda=0.95,
                 clip_eps=0.2, entropy_coef=0.01, value_coef=0.5, learning_rate=2.5e-4, anneal_lr=True,
                 max_grad_norm=0.5, hidden=(64, 64), activation="tanh", normalize_advantages=True)
  c.updates_per_step = 1
  c.eval.update(num_episodes=100, solved_return=475.0)
  c.train.update(num_steps=rl.iterations_for(c, 500_000), eval_every=40, log_every=40, checkpoint_every=200)
  return c
