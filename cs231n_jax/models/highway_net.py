"""A deep highway network classifier (lecture 10's highway layers, Srivastava et al. 2015), and its
plain twin of the same depth and width."""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp

from cs231n_jax.models.registry import register
from cs231n_jax.nn.highway import GATE_BIAS, Highway


@register("highway_mlp", input_shape=(8, 8, 1))
class HighwayMLP(nn.Module):
  """A deep fully-connected classifier of highway layers: flatten, Dense to ``width``, ``depth``
  highway layers, Dense to the classes (the paper's depth experiment, at digits scale)."""

  width: int = 64
  depth: int = 20
  num_classes: int = 10
  gate_bias: float = GATE_BIAS
  plain: bool = False  # True: y = relu(x W + b) layers of the same depth instead (the paper's baseline)

  @nn.compact
  def __call__(self, x, *, train: bool = False):
    del train
    x = jax.nn.relu(nn.Dense(self.width)(jnp.reshape(x, (x.shape[0], -1))))
    for i in range(self.depth):
      x = jax.nn.relu(nn.Dense(self.width, name=f"plain_{i}")(x)) if self.plain else Highway(self.gate_bias, name=f"highway_{i}")(x)
    return nn.Dense(self.num_classes)(x)
