"""PPO on gymnax Breakout-MinAtar (10x10x4 binary frames, 3 actions), 2 seeds as one jit(vmap) program,
1,048,576 environment steps per seed: the CPU budget of this machine, about a tenth of the reference's.

The reference is gymnax's own PPO checkpoint (gymnax README, "Implemented Accelerated Environments":
Breakout-MinAtar, PPO, R: 28), trained by gymnax-blines' agents/Breakout-MinAtar/ppo.yaml for
10,000,000 environment steps on a GPU. Its settings are used here: 64 environments x 128 steps per
iteration, 4 epochs of 8 minibatches, clip 0.2, GAE(0.95), gamma 0.999, Adam 5e-4 constant (the
reference warms up over its first 5% of updates; not here), entropy 0.01, value 0.5, gradient norm 0.5,
separate ReLU MLPs 256-256 for actor and critic on the flattened 400-vector. ``eval.solved_return`` is
the reference's 28, so ``solved_seeds`` counts seeds that reached it (100 greedy episodes per seed).
Command: cs231n-jax train --config experiments/configs/rl/ppo_breakout_minatar.py --workdir workdirs/rl_ppo_breakout_minatar
Expected: greedy return 7.0 at every seed (100 episodes each), reached at 393k environment steps and flat from
  there to 1,048,576 (the reference: 28 after 10M); 0 of 2 seeds at the reference; CPU-2 at load ~20, 16 min 43 s
"""

from cs231n_jax.tasks import rl

REFERENCE_RETURN = 28.0           # gymnax README, Breakout-MinAtar PPO checkpoint
REFERENCE_ENV_STEPS = 10_000_000  # gymnax-blines agents/Breakout-MinAtar/ppo.yaml num_train_steps


def get_config():
  c = rl.base_config("ppo", "Breakout-MinAtar")
  c.num_seeds = 2
  c.agent.update(num_envs=64, num_steps=128, update_epochs=4, num_minibatches=8, gamma=0.999, gae_lambda=0.95,
                 clip_eps=0.2, entropy_coef=0.01, value_coef=0.5, learning_rate=5e-4, anneal_lr=False,
                 max_grad_norm=0.5, hidden=(256, 256), activation="relu", normalize_advantages=True)
  c.updates_per_step = 4  # 32,768 environment steps per seed per engine step
  c.eval.update(num_episodes=100, solved_return=REFERENCE_RETURN)
  c.train.update(num_steps=rl.iterations_for(c, 1_048_576), eval_every=4, log_every=1, checkpoint_every=4)
  return c
