"""A 20-layer, 64-wide digits classifier of highway layers (y = T ⊙ H + (1 − T) ⊙ x, gate bias −2; lecture 10),
trained by the engine with SGD + momentum 0.9 and default (LeCun-normal) initialisation: the depth experiment of
Srivastava et al. at digits scale.

Command: cs231n-jax train --config experiments/configs/lectures/highway_mlp20.py --workdir workdirs/highway_mlp20

Expected: digits, seed 0, measured on CPU-2 under load (78 s): test accuracy 0.942 (val 0.961, train 0.964)
after 400 steps; its plain twin (plain_mlp20.py) stays at chance, 0.103.
"""

from cs231n_jax.tasks.classification import base_config


def get_config():
  c = base_config()
  c.model.name = "highway_mlp"
  c.model.depth = 20
  c.model.width = 64
  c.model.plain = False
  c.optimizer.name = "momentum"
  c.optimizer.momentum = 0.9
  c.optimizer.learning_rate = 0.05
  c.train.batch_size = 64
  c.train.num_epochs = 20
  return c
