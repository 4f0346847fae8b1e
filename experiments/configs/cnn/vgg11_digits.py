"""VGG-11 with batch norm (torchvision's vgg11_bn convolutions) on the 32x32x3 digits view.

The five conv blocks are VGG-11's (3x3 convs, 2x2 pools: 32 -> 1); the classifier is the common
small-image head (``pool_size=(1, 1)``, two FC layers of 256) instead of 7*7*512 -> 4096 -> 4096.

Command: cs231n-jax train --config experiments/configs/cnn/vgg11_digits.py --workdir workdirs/vgg11_digits
Expected: test accuracy 0.2944 after 2 epochs / 80 steps (train loss 2.87 -> 2.09; chance 0.10), seed 0;
  a smoke run measured on CPU-2 (docs/results.md), not a converged one
"""

from cs231n_jax.tasks.classification import base_config


def get_config():
  c = base_config()
  c.data.view = "32x32x3"
  c.data.augment = "crop(padding=2)"
  c.model.name = "vgg11"
  c.model.batch_norm = True
  c.model.pool_size = (1, 1)
  c.model.hidden_dims = (256, 256)
  c.optimizer.name = "momentum"
  c.optimizer.learning_rate = 0.05
  c.optimizer.momentum = 0.9
  c.optimizer.schedule.name = "cosine"
  c.train.batch_size = 32
  c.train.num_epochs = 2
  c.train.progress = False
  return c
