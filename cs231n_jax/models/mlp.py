"""The course's fully-connected networks as Flax Linen modules (assignment 1 and 2 architectures).

Inputs of any shape are flattened per example, as the course's ``affine_forward`` does. ``dtype``
is the compute dtype (``jnp.bfloat16`` for mixed precision); parameters stay float32.
"""

from __future__ import annotations

from typing import Any, Sequence

import flax.linen as nn
import jax.numpy as jnp

from cs231n_jax.models.registry import register

NORMALIZATIONS = ("none", "batch", "layer")
# The course's batch-norm defaults: running = momentum * running + (1 - momentum) * batch.
BN_MOMENTUM = 0.9
BN_EPSILON = 1e-5


def kernel_init(weight_scale: float | None):
  """The course draws weights from N(0, weight_scale^2); ``None`` uses He init (lecture 6)."""
  if weight_scale is None:
    return nn.initializers.he_normal()
  return nn.initializers.normal(stddev=weight_scale)


@register("two_layer_net", input_shape=(8, 8, 1))
class TwoLayerNet(nn.Module):
  """affine - relu - affine: the course's two-layer network."""

  hidden_dim: int = 100
  num_classes: int = 10
  weight_scale: float | None = None
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x: jnp.ndarray, *, train: bool = False) -> jnp.ndarray:
    dense = lambda n: nn.Dense(n, kernel_init=kernel_init(self.weight_scale), dtype=self.dtype)
    x = x.reshape(x.shape[0], -1)
    return dense(self.num_classes)(nn.relu(dense(self.hidden_dim)(x)))


@register("fc_net", input_shape=(8, 8, 1))
class FullyConnectedNet(nn.Module):
  """{affine - [batch/layer norm] - relu - [dropout]} x (L - 1) - affine.

  ``dropout_keep_ratio`` is the course's *keep* probability p (1.0 disables dropout); Flax's
  ``nn.Dropout(rate)`` takes the *drop* probability, so the module passes ``rate = 1 - p``.
  """

  hidden_dims: Sequence[int] = (100, 100)
  num_classes: int = 10
  normalization: str = "none"
  dropout_keep_ratio: float = 1.0
  weight_scale: float | None = None
  bn_axis_name: str | None = None
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x: jnp.ndarray, *, train: bool = False) -> jnp.ndarray:
    if self.normalization not in NORMALIZATIONS:
      raise ValueError(f"model.normalization: expected one of {NORMALIZATIONS}, got {self.normalization!r}")
    if not 0.0 < self.dropout_keep_ratio <= 1.0:
      raise ValueError(f"model.dropout_keep_ratio: expected a keep probability in (0, 1], got {self.dropout_keep_ratio}")
    dense = lambda n: nn.Dense(n, kernel_init=kernel_init(self.weight_scale), dtype=self.dtype)
    x = x.reshape(x.shape[0], -1)
    for width in self.hidden_dims:
      x = dense(width)(x)
      if self.normalization == "batch":
        x = nn.BatchNorm(
            use_running_average=not train, momentum=BN_MOMENTUM, epsilon=BN_EPSILON,
            axis_name=self.bn_axis_name, dtype=self.dtype,
        )(x)
      elif self.normalization == "layer":
        x = nn.LayerNorm(epsilon=BN_EPSILON, dtype=self.dtype)(x)
      x = nn.relu(x)
      if self.dropout_keep_ratio < 1.0:
        x = nn.Dropout(rate=1.0 - self.dropout_keep_ratio, deterministic=not train)(x)
    return dense(self.num_classes)(x)
