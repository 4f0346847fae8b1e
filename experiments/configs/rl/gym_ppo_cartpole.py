"""PPO on Gymnasium's CartPole-v1 (not gymnax) through the Gymnasium adapter: the environments stepped
on the host, the policy and update compiled, the engine's host step; 4 environments x 64 steps per
iteration, 30 iterations (7,680 environment steps), Adam 1e-3, greedy evaluation on 10 episodes.
Command: cs231n-jax train --config experiments/configs/rl/gym_ppo_cartpole.py --workdir workdirs/rl_gym_ppo_cartpole
Expected: greedy return 277.8 (val) and 299.9 (test), measured by calling tasks.rl.run_gym with these
  settings; CPU-2 (shared), 93 s with compile
"""

from cs231n_jax.tasks import rl


def get_config():
  c = rl.gym_config("ppo", "CartPole-v1")
  c.agent.update(num_envs=4, num_steps=64, anneal_lr=False, learning_rate=1e-3)
  c.eval.num_episodes = 10
  c.train.update(num_steps=30, eval_every=15, log_every=5, checkpoint_every=15)
  return c
