"""The small CNN the visualization experiments train on digits and synthetic scenes: conv-ReLU-pool
stages, global average pooling, a linear head. Its ReLU is a field (``relu``) so guided
backpropagation can swap in :func:`cs231n_jax.vis.saliency.guided_relu`; its layers are named
``conv1``, ``conv2``, ... (what activation maps and receptive fields refer to).

Every convolution is 3x3 stride 1 "SAME" and every pool 2x2 stride 2, so the receptive field of
stage k is known in closed form (:func:`layer_geometry` feeds
:func:`cs231n_jax.vis.features.receptive_field`).
"""

from __future__ import annotations

from typing import Callable, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

from cs231n_jax.models.registry import register


@register("vis_digits_cnn", "conv-ReLU-pool stages + global average pool (ReLU as a field, for guided backprop)",
          input_shape=(8, 8, 1), family="classify")
class VisDigitsCNN(nn.Module):
  """``features[i]`` 3x3 conv + ReLU per stage (a 2x2 max pool after each but the last), mean pool, dense."""

  features: Sequence[int] = (32, 64)
  num_classes: int = 10
  relu: Callable[[jax.Array], jax.Array] = jax.nn.relu

  @nn.compact
  def __call__(self, x: jax.Array, train: bool = False) -> jax.Array:
    del train
    if x.ndim != 4:
      raise ValueError(f"images: vis_digits_cnn expects NHWC images, got shape {x.shape}")
    for i, f in enumerate(self.features, start=1):
      x = self.relu(nn.Conv(f, (3, 3), padding="SAME", name=f"conv{i}")(x))
      if i < len(self.features):
        x = nn.max_pool(x, (2, 2), strides=(2, 2))
    x = jnp.mean(x, axis=(1, 2))
    self.sow("intermediates", "features", x)
    return nn.Dense(self.num_classes, name="head")(x)


def layer_geometry(features: Sequence[int], layer: int) -> list[tuple[int, int, int]]:
  """``(kernel, stride, padding)`` of every layer from the input up to ``conv<layer>``'s output."""
  if not 1 <= layer <= len(features):
    raise ValueError(f"layer: expected 1..{len(features)}, got {layer}")
  out = []
  for i in range(1, layer + 1):
    out.append((3, 1, 1))
    if i < layer:
      out.append((2, 2, 0))
  return out
