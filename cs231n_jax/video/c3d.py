"""C3D (Tran et al. 2015, "Learning Spatiotemporal Features with 3D Convolutional Networks"): "3D
VGGNet" — 8 convolutions, all 3x3x3 at stride 1, 5 max-pools (all 2x2x2 except pool1, 1x2x2), two
fully connected layers of 4096 units, then the classifier.

The widths (64, 128, 256, 256, 512, 512, 512, 512), the 16x112x112 RGB input and the placement of
the pools (after conv1, conv2, conv3b, conv4b, conv5b) are from the paper's figure (the lecture's
text does not carry them); pool5 rounds up (Caffe's ceil mode: 7 -> 4), so fc6 reads 512·1·4·4 =
8192 values. ``c3d`` is that network with 487 classes (Sports-1M); ``c3d_tiny`` keeps the layout at
an eighth of the width and 128-unit FC layers, small enough to train on a CPU.

The paper prints no parameter count for this network; the layers above give 79,991,015 (fc6 alone
33.6M). The one count it prints, "17.5 millions", is for its kernel-depth search net (5 convolutions
of 64-128-256-256-256, a pool after each, two FC layers of 2048, 101 UCF-101 classes):
``C3D(widths=(64, 128, 256, 256, 256), pool_after=(0, 1, 2, 3, 4), fc=2048, num_classes=101)`` has
17,444,965 at depth 3.
"""

from __future__ import annotations

from typing import Sequence

import flax.linen as nn
import jax

from cs231n_jax.models.registry import register
from cs231n_jax.video.layers import SpatioTemporalConv, check_clips, pool3d

C3D_WIDTHS = (64, 128, 256, 256, 512, 512, 512, 512)
POOL_AFTER = (0, 1, 3, 5, 7)  # conv indices followed by pool1..pool5


@register("c3d", family="video", input_shape=(16, 112, 112, 3))
class C3D(nn.Module):
  """C3D: 8 3x3x3 convolutions, pools 1x2x2 then 2x2x2, two FC layers, classifier."""

  widths: Sequence[int] = C3D_WIDTHS
  pool_after: Sequence[int] = POOL_AFTER
  fc: int = 4096
  num_classes: int = 487
  dropout_rate: float = 0.5

  @nn.compact
  def __call__(self, x: jax.Array, train: bool = False) -> jax.Array:
    check_clips(x, 1, "c3d")
    for i, w in enumerate(self.widths):
      x = nn.relu(SpatioTemporalConv(w, (3, 3, 3), name=f"conv{i + 1}")(x))
      if i in self.pool_after:
        x = pool3d(x, (1, 2, 2) if i == 0 else (2, 2, 2))
    x = x.reshape(x.shape[0], -1)
    for name in ("fc6", "fc7"):
      x = nn.Dropout(self.dropout_rate, deterministic=not train)(nn.relu(nn.Dense(self.fc, name=name)(x)))
    return nn.Dense(self.num_classes, name="fc8")(x)


@register("c3d_tiny", family="video", input_shape=(8, 16, 16, 1))
class C3DTiny(C3D):
  """C3D-tiny: C3D's layout at 1/8 of the width, 128-unit FC layers, no dropout."""

  widths: Sequence[int] = tuple(w // 8 for w in C3D_WIDTHS)
  fc: int = 128
  num_classes: int = 2
  dropout_rate: float = 0.0
