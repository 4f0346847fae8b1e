"""GoogLeNet (torchvision's batch-norm port of Inception v1) on the 32x32x3 digits view.

The full 22-layer network (inception 3a-5b); at 32x32 the maps shrink to 1x1 before the global
average pool. The auxiliary classifiers are off (the default training loop optimises one loss;
``cs231n_jax.models.googlenet.googlenet_loss`` adds them for a custom loop).

Command: cs231n-jax train --config experiments/configs/cnn/googlenet_digits.py --workdir workdirs/googlenet_digits
Expected: test accuracy 0.8722 after 2 epochs / 80 steps (train loss 2.28 -> 0.51), seed 0; a smoke run
  measured on CPU-2 (docs/results.md)
"""

from cs231n_jax.tasks.classification import base_config


def get_config():
  c = base_config()
  c.data.view = "32x32x3"
  c.data.augment = "crop(padding=2)"
  c.model.name = "googlenet_torchvision"
  c.optimizer.name = "momentum"
  c.optimizer.learning_rate = 0.05
  c.optimizer.momentum = 0.9
  c.optimizer.schedule.name = "cosine"
  c.train.batch_size = 32
  c.train.num_epochs = 2
  c.train.progress = False
  return c
