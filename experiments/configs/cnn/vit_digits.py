"""Vision Transformer (vit_tiny: 2x2 patches, 4 pre-norm layers of 4 heads) on the 8x8 digits.

Command: cs231n-jax train --config experiments/configs/cnn/vit_digits.py --workdir workdirs/vit_digits
Expected: test accuracy 0.9222 (val 0.9444, best step 400 of 800; below logistic regression's 0.9667), CPU-2, 112 s;
  docs/results.md ("Lectures 10-11").
"""

from cs231n_jax.tasks.classification import base_config


def get_config():
  c = base_config()
  c.data.view = "8x8x1"
  c.model.name = "vit_tiny"
  c.model.dropout_rate = 0.1
  c.optimizer.name = "adam"
  c.optimizer.learning_rate = 1e-3
  c.optimizer.weight_decay = 1e-4
  c.optimizer.grad_clip_norm = 1.0
  c.optimizer.schedule.name = "cosine"
  c.optimizer.schedule.warmup_steps = 100
  c.train.batch_size = 64
  c.train.num_epochs = 40
  return c
