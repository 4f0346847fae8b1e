"""CIFAR ResNet-20 (He et al. 2016, option A shortcuts) on the 32x32x3 digits view, on a CPU.

Command: cs231n-jax train --config experiments/configs/cnn/resnet20_digits.py --workdir workdirs/resnet20_digits
Expected: test accuracy 0.9778 (val 0.9722, best step 80) after 15 epochs / 150 steps, seed 0, 59 s on CPU-2 with
  the library's CPU kernels; 0.9806 (val 0.9667) with CS231N_JAX_XLA_DEFAULTS=1 (docs/results.md)
"""

from cs231n_jax.tasks.classification import base_config


def get_config():
  c = base_config()
  c.data.view = "32x32x3"
  c.data.augment = "crop(padding=2)"  # translations; flips would change a digit's meaning
  c.model.name = "resnet20"
  c.optimizer.name = "momentum"
  c.optimizer.learning_rate = 0.1
  c.optimizer.momentum = 0.9
  c.optimizer.l2 = 5e-5  # "weight decay 1e-4" in PyTorch / Caffe terms (gradient + 1e-4 w)
  c.optimizer.penalize = "all"
  c.optimizer.schedule.name = "cosine"
  c.train.batch_size = 128
  c.train.num_epochs = 15
  c.train.progress = False
  return c
