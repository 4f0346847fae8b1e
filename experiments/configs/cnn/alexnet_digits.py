"""AlexNet as in lecture 9's table (LRN, dropout 0.5) on the digits, upsampled to 67x67 inside the model.

AlexNet needs at least 67x67 pixels (three 3x3 stride-2 pools after a stride-4 conv); the model's
``resize_input`` upsamples the 32x32x3 digits view. The conv stack is the lecture's; fc6/fc7 are
narrowed to 512 units (``hidden_dims``) so a CPU run takes minutes. SGD momentum 0.9, learning
rate 1e-2 and L2 weight decay 5e-4 are the lecture's AlexNet details (seed lines 12784-12789).

Command: cs231n-jax train --config experiments/configs/cnn/alexnet_digits.py --workdir workdirs/alexnet_digits
Expected: test accuracy 0.3972 after 2 epochs / 80 steps (train loss 2.30 -> 1.85; chance 0.10), seed 0;
  a smoke run measured on CPU-2 (docs/results.md), not a converged one
"""

from cs231n_jax.tasks.classification import base_config


def get_config():
  c = base_config()
  c.data.view = "32x32x3"
  c.model.name = "alexnet"
  c.model.resize_input = 67
  c.model.hidden_dims = (512, 512)
  c.optimizer.name = "momentum"
  c.optimizer.learning_rate = 0.01
  c.optimizer.momentum = 0.9
  c.optimizer.l2 = 2.5e-4  # "L2 weight decay 5e-4" (gradient + 5e-4 w)
  c.train.batch_size = 32
  c.train.num_epochs = 2
  c.train.progress = False
  return c
