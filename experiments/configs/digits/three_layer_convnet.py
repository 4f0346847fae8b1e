"""ThreeLayerConvNet (conv - relu - pool - affine - relu - affine) on the embedded digits: the demo.

Command: cs231n-jax train --config experiments/configs/digits/three_layer_convnet.py --workdir workdirs/convnet
Expected: test accuracy ~0.98 (to be measured)
"""

from cs231n_jax.train.loop import base_config


def get_config():
  c = base_config()
  c.data.view = "8x8x1"
  c.model.name = "three_layer_convnet"
  c.model.num_filters = 32
  c.model.filter_size = 3
  c.model.hidden_dim = 100
  c.optimizer.name = "momentum"
  c.optimizer.learning_rate = 0.05
  c.optimizer.momentum = 0.9
  c.optimizer.schedule.name = "cosine"
  c.train.batch_size = 64
  c.train.num_epochs = 30
  return c
