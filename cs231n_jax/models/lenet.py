"""LeNet-5 (LeCun, Bottou, Bengio & Haffner 1998; lecture 9's first case study, 004b).

The modern reading of the paper's network, on a 32x32 input:
C1 conv 5x5, 6 maps -> 28x28x6; S2 2x2 average pool -> 14x14x6; C3 conv 5x5, 16 maps -> 10x10x16;
S4 2x2 average pool -> 5x5x16; C5 fully connected 400 -> 120; F6 120 -> 84; output 84 -> 10;
tanh after every hidden layer. Parameters on a 32x32x1 input:
156 + 2,416 + 48,120 + 10,164 + 850 = 61,706.

Two simplifications of the 1998 paper, named: C3 connects every S2 map (the paper's partial
connection table gives C3 1,516 parameters, not 2,416), S2/S4 are plain averages (the paper's have a
trainable coefficient and bias each), and the output is an affine layer read by softmax rather
than the paper's Euclidean RBF units.
"""

from __future__ import annotations

import flax.linen as nn
import jax.numpy as jnp

from cs231n_jax.models.registry import register

PARAMETERS_32x32x1 = 61_706


@register("lenet5", input_shape=(32, 32, 1))
class LeNet5(nn.Module):
  """LeNet-5: conv5-6, avgpool, conv5-16, avgpool, 120, 84, classes; tanh (61,706 parameters on 32x32x1)."""

  num_classes: int = 10

  @nn.compact
  def __call__(self, x, *, train: bool = False):
    del train
    x = jnp.tanh(nn.Conv(6, (5, 5), padding="VALID", name="C1")(x))
    x = nn.avg_pool(x, (2, 2), (2, 2))
    x = jnp.tanh(nn.Conv(16, (5, 5), padding="VALID", name="C3")(x))
    x = nn.avg_pool(x, (2, 2), (2, 2))
    x = x.reshape(x.shape[0], -1)
    x = jnp.tanh(nn.Dense(120, name="C5")(x))
    x = jnp.tanh(nn.Dense(84, name="F6")(x))
    return nn.Dense(self.num_classes, name="output")(x)
