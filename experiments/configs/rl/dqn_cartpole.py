"""DQN (the lecture's Algorithm 1) on gymnax CartPole-v1, 5 seeds as one jit(vmap) program, 500k
environment steps per seed.

4 environments, one gradient step (minibatch 128 from a 10k replay ring) per 4 environment steps,
epsilon 1 -> 0.05 over the first 10%, target network theta_{i-1} refreshed every 500 environment
steps, Huber loss on y - Q(s, a), Adam 2.5e-4, ReLU MLP 120-84; learning starts after 10k steps.
Command: cs231n-jax train --config experiments/configs/rl/dqn_cartpole.py --workdir workdirs/rl_dqn_cartpole
Expected: 5 of 5 seeds solved (at 120k-300k env steps); test return 500.0 at every seed; CPU-2 (shared), 15 min 34 s
"""

from cs231n_jax.tasks import rl


def get_config():
  c = rl.base_config("dqn", "CartPole-v1")
  c.num_seeds = 5
  c.agent.update(num_envs=4, steps_per_update=1, gradient_steps=1, buffer_size=10_000, batch_size=128,
                 learning_starts=10_000, target_update_every=125, epsilon_start=1.0, epsilon_end=0.05,
                 epsilon_fraction=0.1, loss="huber", gamma=0.99, learning_rate=2.5e-4, anneal_lr=False,
                 max_grad_norm=10.0, hidden=(120, 84), activation="relu")
  c.updates_per_step = 50  # 200 environment steps per seed per engine step
  c.eval.update(num_episodes=100, solved_return=475.0)
  c.train.update(num_steps=rl.iterations_for(c, 500_000), eval_every=100, log_every=100, checkpoint_every=500)
  return c
