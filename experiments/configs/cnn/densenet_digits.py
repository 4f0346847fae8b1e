"""DenseNet-BC (L=40, k=12: three dense blocks of 6 bottleneck layers) on the 32x32x3 digits view.

The CIFAR DenseNet-BC of Huang et al. with 6 instead of 16 layers per block (L=40 instead of 100),
so a CPU run takes minutes.

Command: cs231n-jax train --config experiments/configs/cnn/densenet_digits.py --workdir workdirs/densenet_digits
Expected: test accuracy 0.8083 after 2 epochs / 80 steps (train loss 2.29 -> 0.80), seed 0; a smoke run
  measured on CPU-2 (docs/results.md)
"""

from cs231n_jax.tasks.classification import base_config


def get_config():
  c = base_config()
  c.data.view = "32x32x3"
  c.data.augment = "crop(padding=2)"
  c.model.name = "densenet_bc100_12"
  c.model.block_config = (6, 6, 6)
  c.optimizer.name = "momentum"
  c.optimizer.learning_rate = 0.1
  c.optimizer.momentum = 0.9
  c.optimizer.schedule.name = "cosine"
  c.train.batch_size = 32
  c.train.num_epochs = 2
  c.train.progress = False
  return c
