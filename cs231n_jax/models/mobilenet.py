"""MobileNet v1 (Howard et al., "MobileNets: Efficient Convolutional Neural Networks for Mobile
Vision Applications", 2017): depthwise separable convolutions.

A standard KxK conv from M to N channels costs K*K*M*N multiply-adds per position; the depthwise
separable version — a KxK conv applied to each channel separately (``feature_group_count = M``)
followed by a 1x1 "pointwise" conv — costs K*K*M + M*N, a reduction of 1/N + 1/K^2 (8-9x for 3x3).

Architecture: the paper's Table 1 (a 3x3 stride-2 conv of 32 channels, 13 depthwise separable
blocks, global average pool, FC), every conv followed by batch norm and ReLU. The width multiplier
``alpha`` thins every layer. "1.0 MobileNet-224" has 4,231,976 parameters (the paper's "4.2
million") and 568.7 million multiply-adds (the paper's "569 million").
"""

from __future__ import annotations

import flax.linen as nn
import jax.numpy as jnp

from cs231n_jax.models import cnn_layers as L
from cs231n_jax.models.registry import register

STEM_WIDTH = 32
# (pointwise output channels, depthwise stride) of the 13 separable blocks (Table 1).
BLOCKS = ((64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2),
          (512, 1), (512, 1), (512, 1), (512, 1), (512, 1), (1024, 2), (1024, 1))
DROPOUT_RATE = 1e-3  # the reference (Keras / TF-slim) implementation's dropout before the classifier


class DepthwiseSeparable(nn.Module):
  """3x3 depthwise conv (one filter per channel) + BN + ReLU, then 1x1 pointwise conv + BN + ReLU."""

  features: int
  strides: int = 1
  train: bool = False
  dtype: L.Dtype = jnp.float32
  param_dtype: L.Dtype = jnp.float32
  bn_axis_name: str | None = None

  @nn.compact
  def __call__(self, x: jnp.ndarray) -> jnp.ndarray:
    kw = dict(dtype=self.dtype, param_dtype=self.param_dtype, bn_axis_name=self.bn_axis_name)
    channels = x.shape[-1]
    x = L.ConvBN(channels, 3, self.strides, padding=1, groups=channels, name="depthwise", **kw)(x, self.train)
    return L.ConvBN(self.features, 1, name="pointwise", **kw)(x, self.train)


class MobileNet(nn.Module):
  """MobileNet v1 with width multiplier ``alpha`` (the resolution multiplier is the input size)."""

  alpha: float = 1.0
  num_classes: int = 1000
  dropout_rate: float = DROPOUT_RATE
  dtype: L.Dtype = jnp.float32
  param_dtype: L.Dtype = jnp.float32
  bn_axis_name: str | None = None

  @nn.compact
  def __call__(self, x: jnp.ndarray, *, train: bool = False) -> jnp.ndarray:
    L.check_positive("alpha", self.alpha)
    L.check_probability("dropout_rate", self.dropout_rate)
    L.check_images(x, "MobileNet")
    kw = dict(dtype=self.dtype, param_dtype=self.param_dtype, bn_axis_name=self.bn_axis_name)
    x = x.astype(self.dtype)
    x = L.ConvBN(int(STEM_WIDTH * self.alpha), 3, 2, padding=1, name="conv1", **kw)(x, train)
    for i, (features, strides) in enumerate(BLOCKS, start=1):
      x = DepthwiseSeparable(int(features * self.alpha), strides, train, name=f"block{i}", **kw)(x)
    x = L.global_avg_pool(x)
    x = nn.Dropout(self.dropout_rate, deterministic=not train)(x)
    return L.logits_f32(L.dense(self, self.num_classes, "fc")(x))


@register("mobilenet", input_shape=(224, 224, 3))
class MobileNetV1(MobileNet):
  """MobileNet v1 (Howard et al. 2017): depthwise separable convolutions, 4.2M parameters at alpha 1."""
