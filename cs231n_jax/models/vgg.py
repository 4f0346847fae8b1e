"""VGG-11/13/16/19 (Simonyan and Zisserman 2014), with and without batch norm.

"Only 3x3 CONV stride 1, pad 1 and 2x2 MAX POOL stride 2" (lecture 9, 12963-12978). Layer names
are the Caffe / paper names: conv{block}_{i}, pool{block}, fc6, fc7, fc8.

Parameter counts in torchvision's layout (weights and biases), which this module reproduces exactly
(torchvision ``VGG*_Weights.IMAGENET1K_V1.meta["num_params"]``):

============  ===========  ==============
depth         plain        with batch norm
============  ===========  ==============
VGG-11 (A)    132,863,336  132,868,840
VGG-13 (B)    133,047,848  133,053,736
VGG-16 (D)    138,357,544  138,365,992
VGG-19 (E)    143,667,240  143,678,248
============  ===========  ==============

VGG-16's 138,357,544 is the lecture's "138M parameters": 138,344,128 weights (the slide's table
lists weights only) plus 13,416 biases. The lecture's "TOTAL memory: 24M" is an arithmetic error:
the table's activations sum to 15,237,608 values; see :func:`cs231n_jax.models.analysis.vgg_memory_table`.

Like torchvision, the classifier is preceded by an adaptive average pool to 7x7, the identity at
224x224 that keeps fc6 at 7*7*512 inputs at any resolution. ``pool_size=(1, 1)`` with
``hidden_dims=(512, 512)`` gives the common small-image ("CIFAR") VGG head.
"""

from __future__ import annotations

from typing import Sequence

import flax.linen as nn
import jax.numpy as jnp

from cs231n_jax.models import cnn_layers as L
from cs231n_jax.models.registry import register

# Convolution widths per block (the paper's configurations A, B, D, E).
VGG_CONFIGS: dict[int, tuple[tuple[int, ...], ...]] = {
    11: ((64,), (128,), (256, 256), (512, 512), (512, 512)),
    13: ((64, 64), (128, 128), (256, 256), (512, 512), (512, 512)),
    16: ((64, 64), (128, 128), (256, 256, 256), (512, 512, 512), (512, 512, 512)),
    19: ((64, 64), (128, 128), (256, 256, 256, 256), (512, 512, 512, 512), (512, 512, 512, 512)),
}
FC_WIDTH = 4096
DROPOUT_RATE = 0.5  # the drop probability of fc6 / fc7 (as AlexNet, "similar training procedure")


class VGG(nn.Module):
  """VGG-``depth``: five blocks of 3x3 convs (each block ends in a 2x2 max pool), then 3 FC layers."""

  depth: int = 16
  num_classes: int = 1000
  batch_norm: bool = False
  pool_size: tuple[int, int] = (7, 7)
  hidden_dims: Sequence[int] = (FC_WIDTH, FC_WIDTH)
  dropout_rate: float = DROPOUT_RATE
  dtype: L.Dtype = jnp.float32
  param_dtype: L.Dtype = jnp.float32
  bn_axis_name: str | None = None

  @nn.compact
  def __call__(self, x: jnp.ndarray, *, train: bool = False) -> jnp.ndarray:
    if self.depth not in VGG_CONFIGS:
      raise ValueError(f"model.depth: expected one of {sorted(VGG_CONFIGS)}, got {self.depth}")
    L.check_images(x, f"VGG-{self.depth}", channels=3)
    L.check_probability("dropout_rate", self.dropout_rate)
    x = x.astype(self.dtype)
    for b, widths in enumerate(VGG_CONFIGS[self.depth], start=1):
      for i, width in enumerate(widths, start=1):
        x = L.conv(self, width, 3, f"conv{b}_{i}", padding=1, kernel_init=L.he_fan_out)(x)
        x = L.batch_norm(self, train, name=f"bn{b}_{i}", relu=True)(x) if self.batch_norm else nn.relu(x)
      x = L.MaxPool(2, 2, name=f"pool{b}")(x)
    x = L.AdaptiveAvgPool(tuple(self.pool_size), name="avgpool")(x)
    x = L.flatten(x)
    for j, width in enumerate(self.hidden_dims):
      x = nn.relu(L.dense(self, width, f"fc{6 + j}")(x))
      x = nn.Dropout(self.dropout_rate, deterministic=not train)(x)
    x = L.dense(self, self.num_classes, f"fc{6 + len(self.hidden_dims)}")(x)
    return L.logits_f32(x)


@register("vgg11", input_shape=(224, 224, 3))
class VGG11(VGG):
  """VGG-11 (configuration A); ``batch_norm=True`` is torchvision's vgg11_bn."""

  depth: int = 11


@register("vgg13", input_shape=(224, 224, 3))
class VGG13(VGG):
  """VGG-13 (configuration B); ``batch_norm=True`` is torchvision's vgg13_bn."""

  depth: int = 13


@register("vgg16", input_shape=(224, 224, 3))
class VGG16(VGG):
  """VGG-16 (configuration D, 138,357,544 parameters); ``batch_norm=True`` is vgg16_bn."""

  depth: int = 16


@register("vgg19", input_shape=(224, 224, 3))
class VGG19(VGG):
  """VGG-19 (configuration E, 143,667,240 parameters); ``batch_norm=True`` is vgg19_bn."""

  depth: int = 19
