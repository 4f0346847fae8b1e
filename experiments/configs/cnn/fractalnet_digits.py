"""FractalNet (5 blocks of C = 3 columns, local drop-path) on the 32x32x3 digits view.

The paper's block structure with 16/32/64/64/64 channels instead of 64/128/256/512/512, so a CPU
run takes minutes, and local drop-path only (15% per join input). The paper's global drop-path (half
the examples train a single column) needs its long schedule: with it, 80 steps on digits left the
validation accuracy at chance (measured, CPU-2), while without it the same network reaches 95% in
60 steps.

Command: cs231n-jax train --config experiments/configs/cnn/fractalnet_digits.py --workdir workdirs/fractalnet_digits
Expected: test accuracy 0.5611 after 2 epochs / 80 steps (train loss 2.39 -> 1.33; chance 0.10), seed 0;
  a smoke run measured on CPU-2 (docs/results.md), not a converged one
"""

from cs231n_jax.tasks.classification import base_config


def get_config():
  c = base_config()
  c.data.view = "32x32x3"
  c.model.name = "fractalnet20"
  c.model.widths = (16, 32, 64, 64, 64)
  c.model.global_ratio = 0.0
  c.optimizer.name = "momentum"
  c.optimizer.learning_rate = 0.02  # the paper's initial rate
  c.optimizer.momentum = 0.9
  c.optimizer.schedule.name = "cosine"
  c.train.batch_size = 32
  c.train.num_epochs = 2
  c.train.progress = False
  return c
