"""ThreeLayerConvNet (conv - relu - 2x2 pool - affine - relu - affine) on the CIFAR-shaped digits: the course's net.

The embedded digits upsampled to 32x32x3, so this is exactly the CIFAR-10 input pipeline; random
4-pixel translations (pad-and-crop) on the device, SGD + momentum with a cosine schedule. It was the
demo until it fell below logistic regression (0.967); the demo is now digits/convnet_bn.py (batch norm,
warm-up, 2-pixel translations).

Command: cs231n-jax train --config experiments/configs/digits/three_layer_convnet.py --workdir workdirs/convnet
Expected: test accuracy 0.961 at seed 0 (seeds 0-2: 0.947-0.961; 0.978 with an earlier summation order of the CPU
  kernels; measured, docs/results.md); on real CIFAR-10
  (--config.data.name=cifar10 --config.data.dir=D) the course expects > 0.40 train accuracy after one epoch.
"""

from cs231n_jax.tasks.classification import base_config


def get_config():
  c = base_config()
  c.data.view = "32x32x3"
  c.data.augment = "crop(padding=4)"
  c.model.name = "three_layer_convnet"
  c.model.num_filters = 32
  c.model.filter_size = 3
  c.model.hidden_dim = 128
  c.optimizer.name = "momentum"
  c.optimizer.learning_rate = 0.05
  c.optimizer.momentum = 0.9
  c.optimizer.weight_decay = 5e-4
  c.optimizer.schedule.name = "cosine"
  c.train.batch_size = 64
  c.train.num_epochs = 20
  return c
