"""The training-technique nets of lectures 6-7: an MLP and a small ConvNet whose every regulariser,
normalisation and activation is a config field (registered by name: usable by any config).

- ``technique_mlp``: flatten -> {dense (or DropConnect dense) - [batch / layer norm] - activation -
  [dropout]} x len(hidden_dims) -> [residual blocks with stochastic depth] -> dense. Every
  regulariser and activation of lectures 6-7 is a field, off by default.
- ``technique_convnet``: {3x3 conv - [batch norm] - ReLU - pool} x 2 -> dense - ReLU -> ``head``
  dense, where the pool is 2x2 max pooling or fractional max pooling (ratio sqrt 2). The layer names
  (``conv1``, ``conv2``, ``fc``, ``head``) are what transfer-learning configs freeze by.
"""

from __future__ import annotations

import math
from typing import Sequence

import flax.linen as nn
import jax

from cs231n_jax.models.registry import register
from cs231n_jax.nn import activations, norms, stochastic_layers
from cs231n_jax.nn.conv_pool import Conv, max_pool

POOLS = ("max", "fractional")
MLP_NORMS = ("none", "batch", "layer")


def check_probability(field: str, value: float) -> None:
  """A keep / survival probability must lie in (0, 1]; 1 switches the regulariser off."""
  if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 < value <= 1.0:
    raise ValueError(f"model.{field}: expected a probability in (0, 1] (1 = off), got {value!r}")


@register("technique_mlp", input_shape=(8, 8, 1))
class TechniqueMLP(nn.Module):
  """A fully-connected classifier with every lecture 6-7 regulariser and activation as a field.

  ``dropout_keep_ratio`` is the course's keep probability p (Flax's ``nn.Dropout`` takes 1 - p);
  ``dropconnect_keep`` the probability of keeping each weight of the hidden layers;
  ``residual_blocks`` adds that many dense residual blocks at the last hidden width, with
  stochastic depth decaying linearly to ``final_survival`` (1.0: no stochastic depth).
  """

  hidden_dims: Sequence[int] = (100, 100)
  num_classes: int = 10
  activation: str = "relu"
  normalization: str = "none"
  dropout_keep_ratio: float = 1.0
  dropconnect_keep: float = 1.0
  residual_blocks: int = 0
  final_survival: float = 1.0
  bn_axis_name: str | None = None

  @nn.compact
  def __call__(self, x: jax.Array, *, train: bool = False) -> jax.Array:
    if self.normalization not in MLP_NORMS:
      raise ValueError(f"model.normalization: expected one of {MLP_NORMS}, got {self.normalization!r}")
    check_probability("dropout_keep_ratio", self.dropout_keep_ratio)
    check_probability("dropconnect_keep", self.dropconnect_keep)
    check_probability("final_survival", self.final_survival)
    if isinstance(self.residual_blocks, bool) or not isinstance(self.residual_blocks, int) or self.residual_blocks < 0:
      raise ValueError(f"model.residual_blocks: expected a number of blocks >= 0, got {self.residual_blocks!r}")
    if self.activation not in activations.ALL_ACTIVATIONS:
      raise ValueError(f"model.activation: expected one of {activations.ALL_ACTIVATIONS}, got {self.activation!r}")
    if self.activation == "maxout" and (self.normalization != "none" or self.dropconnect_keep < 1.0):
      raise ValueError("model.activation: maxout replaces the dense layer; use it without normalization and DropConnect")
    x = x.reshape(x.shape[0], -1)
    for i, width in enumerate(self.hidden_dims):
      if self.activation == "maxout":
        x = activations.Maxout(width, kernel_init=nn.initializers.he_normal(), name=f"hidden{i}")(x)
      else:
        if self.dropconnect_keep < 1.0:
          x = stochastic_layers.DropConnectDense(width, self.dropconnect_keep, name=f"hidden{i}")(x, train=train)
        else:
          x = nn.Dense(width, kernel_init=nn.initializers.he_normal(), name=f"hidden{i}")(x)
        norm_name = {"batch": f"bn{i}", "layer": f"ln{i}"}.get(self.normalization)
        x = norms.make_norm(self.normalization, train, bn_axis_name=self.bn_axis_name, module_name=norm_name)(x)
        x = activations.PReLU(name=f"prelu{i}")(x) if self.activation == "prelu" else activations.ACTIVATIONS[self.activation](x)
      if self.dropout_keep_ratio < 1.0:
        x = nn.Dropout(rate=1.0 - self.dropout_keep_ratio, deterministic=not train)(x)
    if self.residual_blocks:
      for i, p in enumerate(stochastic_layers.survival_probabilities(self.residual_blocks, self.final_survival)):
        x = stochastic_layers.ResidualBlock(survival_prob=p, name=f"block{i}")(x, train=train)
    return nn.Dense(self.num_classes, kernel_init=nn.initializers.he_normal(), name="head")(x)


@register("technique_convnet", input_shape=(8, 8, 1))
class TechniqueConvNet(nn.Module):
  """Two 3x3 conv - [BN] - ReLU - pool stages, a hidden dense layer ``fc`` and the ``head``."""

  features: Sequence[int] = (32, 64)
  hidden_dim: int = 128
  num_classes: int = 10
  pool: str = "max"
  batch_norm: bool = False
  dropout_keep_ratio: float = 1.0
  bn_axis_name: str | None = None

  @nn.compact
  def __call__(self, x: jax.Array, *, train: bool = False) -> jax.Array:
    if self.pool not in POOLS:
      raise ValueError(f"model.pool: expected one of {POOLS}, got {self.pool!r}")
    if x.ndim != 4:
      raise ValueError(f"images: technique_convnet expects NHWC images, got shape {x.shape}")
    check_probability("dropout_keep_ratio", self.dropout_keep_ratio)
    for i, f in enumerate(self.features, start=1):
      x = Conv(f, (3, 3), padding="SAME", kernel_init=nn.initializers.he_normal(), name=f"conv{i}")(x)
      if self.batch_norm:
        x = norms.make_norm("batch", train, bn_axis_name=self.bn_axis_name, module_name=f"bn{i}")(x)
      x = nn.relu(x)
      if self.pool == "max":
        x = max_pool(x, (2, 2), strides=(2, 2)) if min(x.shape[1:3]) >= 2 else x
      else:
        x = stochastic_layers.FractionalMaxPool(ratio=math.sqrt(2.0), name=f"fmp{i}")(x, train=train)
    x = x.reshape(x.shape[0], -1)
    x = nn.relu(nn.Dense(self.hidden_dim, kernel_init=nn.initializers.he_normal(), name="fc")(x))
    if self.dropout_keep_ratio < 1.0:
      x = nn.Dropout(rate=1.0 - self.dropout_keep_ratio, deterministic=not train)(x)
    return nn.Dense(self.num_classes, kernel_init=nn.initializers.he_normal(), name="head")(x)

