"""TwoLayerNet (affine - relu - affine) on the 8x8 digits, trained by the Flax engine.

Command: cs231n-jax train --config experiments/configs/digits/two_layer_net.py --workdir workdirs/two_layer
Expected: test accuracy 0.97 (measured, see docs/results.md); scikit-learn's logistic regression gets 0.967 on this split.
"""

from cs231n_jax.tasks.classification import base_config


def get_config():
  c = base_config()
  c.data.view = "8x8x1"
  c.model.name = "two_layer_net"
  c.model.hidden_dim = 512
  c.optimizer.name = "momentum"
  c.optimizer.learning_rate = 0.05
  c.optimizer.weight_decay = 5e-4
  c.optimizer.schedule.name = "cosine"
  c.train.batch_size = 64
  c.train.num_epochs = 40
  return c
