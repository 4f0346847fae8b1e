"""Network in Network (the authors' CIFAR-10 model: mlpconv blocks, global average pooling) on digits.

Command: cs231n-jax train --config experiments/configs/cnn/nin_digits.py --workdir workdirs/nin_digits
Expected: test accuracy 0.3278 after 3 epochs / 120 steps (train loss 2.38 -> 2.08; chance 0.10), seed 0;
  a smoke run measured on CPU-2 (docs/results.md), not a converged one
"""

from cs231n_jax.tasks.classification import base_config


def get_config():
  c = base_config()
  c.data.view = "32x32x3"
  c.model.name = "nin_cifar"
  c.optimizer.name = "adam"
  c.optimizer.learning_rate = 1e-3
  c.train.batch_size = 32
  c.train.num_epochs = 3
  c.train.progress = False
  return c
