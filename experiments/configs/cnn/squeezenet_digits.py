"""SqueezeNet 1.1 (Fire modules, no FC layers) on the 32x32x3 digits view.

Command: cs231n-jax train --config experiments/configs/cnn/squeezenet_digits.py --workdir workdirs/squeezenet_digits
Expected: test accuracy 0.4444 after 3 epochs / 120 steps (train loss 2.30 -> 1.55; chance 0.10), seed 0;
  a smoke run measured on CPU-2 (docs/results.md), not a converged one
"""

from cs231n_jax.tasks.classification import base_config


def get_config():
  c = base_config()
  c.data.view = "32x32x3"
  c.model.name = "squeezenet1_1"
  c.optimizer.name = "adam"
  c.optimizer.learning_rate = 1e-3
  c.train.batch_size = 32
  c.train.num_epochs = 3
  c.train.progress = False
  return c
