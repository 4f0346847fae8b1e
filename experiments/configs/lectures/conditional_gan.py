"""A class-conditional GAN on the 8x8 digits (the 2016 unsupervised lecture; Mirza and Osindero 2014): the MLP
generator reads [z, onehot(y)], the MLP discriminator [x, onehot(y)]; Adam(2e-4, b1 = 0.5) for both, one update each
per step, the non-saturating loss, trained by the engine (tasks/conditional_gan.py). Afterwards 100 samples per
class are judged by a logistic-regression classifier of the real training digits: its accuracy on the samples
against the requested class, per class; conditional_samples.png in the workdir (row = class).

Command: cs231n-jax train --config experiments/configs/lectures/conditional_gan.py --workdir workdirs/conditional_gan

Expected: measured on CPU-2 under load (75 s), seed 0, 3,000 steps: the judge calls 98.7 % of the 1,000 samples the
requested class (per class 1.00, 0.99, 0.95, 0.99, 1.00, 1.00, 1.00, 0.99, 0.96, 0.99); the same judge reads 96.9 % of
the real test digits.
"""

from cs231n_jax.tasks.conditional_gan import base_config


def get_config():
  c = base_config()
  c.train.num_steps = 3000
  c.train.checkpoint_every = 3000
  return c
