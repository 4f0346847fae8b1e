"""SqueezeNet 1.0 and 1.1 (Iandola et al., "SqueezeNet: AlexNet-level accuracy with 50x fewer
parameters and <0.5MB model size", 2016).

"Fire modules consisting of a 'squeeze' layer with 1x1 filters feeding an 'expand' layer with 1x1
and 3x3 filters" (lecture 9, 14186-14198). No FC layers: a final 1x1 conv to ``num_classes``
channels, ReLU and global average pooling produce the scores.

Parameter counts (torchvision ``num_params``, which this module reproduces): SqueezeNet 1.0
1,248,424 (the paper's Table 1 total), 1.1 1,235,496. Against AlexNet's 60,965,224 (Caffe's
two-GPU model the paper compares with) that is 48.8x fewer — the title's "50x".
Layer names: conv1, fire2 ... fire9 (squeeze, expand1x1, expand3x3), conv10.
"""

from __future__ import annotations

import flax.linen as nn
import jax.numpy as jnp

from cs231n_jax.models import cnn_layers as L
from cs231n_jax.models.registry import register

# (squeeze, expand1x1, expand3x3) of fire2 ... fire9 (the paper's Table 1; the same in 1.0 and 1.1).
FIRE_WIDTHS = ((16, 64, 64), (16, 64, 64), (32, 128, 128), (32, 128, 128),
               (48, 192, 192), (48, 192, 192), (64, 256, 256), (64, 256, 256))
# Before which fire module (0 = fire2) a 3x3 stride-2 max pool sits: after conv1, fire4, fire8 in
# 1.0; after conv1, fire3, fire5 in 1.1 (1.1 downsamples earlier: 2.4x less compute).
POOLS = {"1_0": (0, 3, 7), "1_1": (0, 2, 4)}
STEM = {"1_0": (96, 7), "1_1": (64, 3)}  # conv1 (features, kernel), stride 2, no padding
DROPOUT_RATE = 0.5
CLASSIFIER_INIT_STD = 0.01  # the paper / torchvision initialise conv10 from N(0, 0.01^2)


class Fire(nn.Module):
  """squeeze 1x1 -> ReLU -> [expand 1x1 -> ReLU, expand 3x3 -> ReLU] concatenated."""

  squeeze: int
  expand1x1: int
  expand3x3: int
  dtype: L.Dtype = jnp.float32
  param_dtype: L.Dtype = jnp.float32

  @nn.compact
  def __call__(self, x: jnp.ndarray) -> jnp.ndarray:
    s = nn.relu(L.conv(self, self.squeeze, 1, "squeeze")(x))
    e1 = nn.relu(L.conv(self, self.expand1x1, 1, "expand1x1")(s))
    e3 = nn.relu(L.conv(self, self.expand3x3, 3, "expand3x3", padding=1)(s))
    return jnp.concatenate([e1, e3], axis=-1)


class SqueezeNet(nn.Module):
  """SqueezeNet ``version`` "1_0" (the paper) or "1_1" (2.4x less compute, same accuracy)."""

  version: str = "1_0"
  num_classes: int = 1000
  dropout_rate: float = DROPOUT_RATE
  dtype: L.Dtype = jnp.float32
  param_dtype: L.Dtype = jnp.float32

  @nn.compact
  def __call__(self, x: jnp.ndarray, *, train: bool = False) -> jnp.ndarray:
    if self.version not in POOLS:
      raise ValueError(f"model.version: expected one of {sorted(POOLS)}, got {self.version!r}")
    L.check_images(x, "SqueezeNet", channels=3)
    L.check_probability("dropout_rate", self.dropout_rate)
    x = x.astype(self.dtype)
    features, kernel = STEM[self.version]
    x = nn.relu(L.conv(self, features, kernel, "conv1", strides=2)(x))
    pools = POOLS[self.version]
    for i, widths in enumerate(FIRE_WIDTHS):
      if i in pools:
        x = L.MaxPool(3, 2, ceil_mode=True, name=f"maxpool{i + 1}")(x)  # named after the layer before it
      x = Fire(*widths, dtype=self.dtype, param_dtype=self.param_dtype, name=f"fire{i + 2}")(x)
    x = nn.Dropout(self.dropout_rate, deterministic=not train)(x)
    x = nn.relu(L.conv(self, self.num_classes, 1, "conv10",
                       kernel_init=nn.initializers.normal(CLASSIFIER_INIT_STD))(x))
    return L.logits_f32(L.global_avg_pool(x))


@register("squeezenet1_0", input_shape=(224, 224, 3))
class SqueezeNet10(SqueezeNet):
  """SqueezeNet 1.0 (Iandola et al. 2016): 1,248,424 parameters."""

  version: str = "1_0"


@register("squeezenet1_1", input_shape=(224, 224, 3))
class SqueezeNet11(SqueezeNet):
  """SqueezeNet 1.1 (the official repository's v1.1): 1,235,496 parameters, 2.4x less compute."""

  version: str = "1_1"
