"""DQN on Catch, 2 seeds vmapped, small: the SIGKILL / restart test's run (replay ring and env states
are in the checkpoints)."""

from cs231n_jax.tasks import rl


def get_config():
  c = rl.base_config("dqn", "Catch-bsuite")
  c.num_seeds = 2
  c.agent.update(num_envs=4, steps_per_update=1, gradient_steps=1, buffer_size=512, batch_size=32,
                 learning_starts=64, target_update_every=20, hidden=(32,), learning_rate=1e-3)
  c.updates_per_step = 5
  c.eval.update(num_episodes=10, solved_return=1.0)
  c.train.update(num_steps=300, eval_every=150, log_every=20, checkpoint_every=20, keep_checkpoints=2,
                 async_checkpoints=True)
  return c
