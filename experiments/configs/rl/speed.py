"""Speed of compiled RL, every row in one run: gymnax CartPole-v1 compiled (jit + scan + vmap, random
actions, 1 / 64 / 1024 environments) against Gymnasium's CartPole-v1 in a Python loop, in environment
steps per second; whole PPO runs (40 iterations x 512 environment steps per seed) of 8 seeds as one
jit(vmap(train)) program against the same 8 seeds run one after another; and one seed three ways: the
compiled run, the Gymnasium adapter (host Gymnasium, compiled JAX policy and update) and a CleanRL-style
loop (host Gymnasium SyncVectorEnv, PyTorch policy; skipped with the reason printed without torch).
Compile is reported apart. The table is written to <workdir>/table.md.
Command: cs231n-jax train --config experiments/configs/rl/speed.py --workdir workdirs/rl_speed
Expected: (CPU-2 at load ~20, so ratios only) Gymnasium loop 34k steps/s; gymnax 1 / 64 / 1024 environments 0.6x /
  10.7x / 133x of it; 8 seeds as one program 1.85x faster than one after another (0.67x counting compile);
  one compiled seed 11x the Gymnasium adapter and 15x the CleanRL-style PyTorch loop (1 thread)
"""

from cs231n_jax.studies import rl_speed


def get_config():
  c = rl_speed.base_config()
  c.gymnasium_steps = 20_000
  c.gymnax_envs = (1, 64, 1024)
  c.gymnax_steps = 1000
  c.ppo_seeds = 8
  c.ppo_updates = 40
  c.ppo.update(num_envs=4, num_steps=128, update_epochs=4, num_minibatches=4, learning_rate=2.5e-4, anneal_lr=True)
  c.torch_threads = 1  # one intra-op thread: with 2 cores shared by many processes, 2 threads ran 54 env steps/s
  return c
