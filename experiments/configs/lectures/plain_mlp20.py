"""The highway net's plain twin: 20 ReLU layers of width 64 on the 8x8 digits (same data, optimizer, budget),
trained by the engine with SGD + momentum 0.9 and default (LeCun-normal) initialisation: the depth experiment of
Srivastava et al. at digits scale.

Command: cs231n-jax train --config experiments/configs/lectures/plain_mlp20.py --workdir workdirs/plain_mlp20

Expected: digits, seed 0, measured on CPU-2 under load (54 s): test accuracy 0.103 (chance; training loss
2.307 after 400 steps): 20 plain layers do not train at this budget, the highway twin reaches 0.942.
"""

from cs231n_jax.tasks.classification import base_config


def get_config():
  c = base_config()
  c.model.name = "highway_mlp"
  c.model.depth = 20
  c.model.width = 64
  c.model.plain = True
  c.optimizer.name = "momentum"
  c.optimizer.momentum = 0.9
  c.optimizer.learning_rate = 0.05
  c.train.batch_size = 64
  c.train.num_epochs = 20
  return c
