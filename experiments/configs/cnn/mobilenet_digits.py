"""MobileNet v1 (depthwise separable convolutions) with width multiplier 0.25 on the 32x32x3 digits view.

Command: cs231n-jax train --config experiments/configs/cnn/mobilenet_digits.py --workdir workdirs/mobilenet_digits
Expected: test accuracy 0.9611 (val 0.9611, best step 520) after 15 epochs / 600 steps, seed 0, 77 s; measured on
  CPU-2 (docs/results.md; 0.9694 with an earlier summation order of the CPU kernels)
"""

from cs231n_jax.tasks.classification import base_config


def get_config():
  c = base_config()
  c.data.view = "32x32x3"
  c.data.augment = "crop(padding=2)"
  c.model.name = "mobilenet"
  c.model.alpha = 0.25
  c.optimizer.name = "momentum"
  c.optimizer.learning_rate = 0.05
  c.optimizer.momentum = 0.9
  c.optimizer.schedule.name = "cosine"
  c.train.batch_size = 32
  c.train.num_epochs = 15
  c.train.progress = False
  return c
