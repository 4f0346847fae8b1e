"""FullyConnectedNet with batch norm and dropout (keep probability 0.75) on the 8x8 digits.

Command: cs231n-jax train --config experiments/configs/digits/fc_net.py --workdir workdirs/fc_net
Expected: test accuracy 0.97 (measured, see docs/results.md).
"""

from cs231n_jax.tasks.classification import base_config


def get_config():
  c = base_config()
  c.data.view = "8x8x1"
  c.model.name = "fc_net"
  c.model.hidden_dims = (256, 256, 256)
  c.model.normalization = "batch"
  c.model.dropout_keep_ratio = 0.75
  c.optimizer.name = "momentum"
  c.optimizer.learning_rate = 0.05
  c.optimizer.weight_decay = 1e-3
  c.optimizer.schedule.name = "cosine"
  c.train.batch_size = 64
  c.train.num_epochs = 40
  return c
