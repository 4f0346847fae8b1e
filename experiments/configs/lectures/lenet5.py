"""LeNet-5 (lecture 9's first case study: conv5-6, avgpool, conv5-16, avgpool, 120, 84, 10, tanh;
61,706 parameters on 32x32x1, 62,006 on the CIFAR-shaped 32x32x3 view used here) on the digits
upsampled to 32x32, trained by the engine (classification runner) with SGD + momentum.

Command: cs231n-jax train --config experiments/configs/lectures/lenet5.py --workdir workdirs/lenet5

Expected: digits 32x32x3, seed 0, measured on CPU-2 under load (164 s with compilation): test accuracy 0.964
(val 0.961, train 0.992) after 300 steps.
"""

from cs231n_jax.tasks.classification import base_config


def get_config():
  c = base_config()
  c.data.view = "32x32x3"
  c.model.name = "lenet5"
  c.optimizer.name = "momentum"
  c.optimizer.learning_rate = 0.05
  c.optimizer.momentum = 0.9
  c.optimizer.schedule.name = "cosine"
  c.train.batch_size = 64
  c.train.num_epochs = 15
  return c
