"""AlexNet (lecture 9's table), the original two-GPU AlexNet, ZFNet and torchvision's AlexNet.

All three are "CONV-POOL-NORM x 2, CONV x 3, POOL, FC x 3" networks and share one module,
:class:`AlexNetFamily`, configured by a table of convolutions. Layer names follow the lecture's
table (conv1 ... conv5, pool1, norm1, ..., pool3, fc6 ... fc8), which are also the Caffe names.

Sources:
- Krizhevsky, Sutskever, Hinton, "ImageNet Classification with Deep Convolutional Neural
  Networks", NeurIPS 2012; lecture 9's "Full (simplified) AlexNet architecture" (seed lines
  12708-12736): 227x227x3 input, CONV1 96 11x11 stride 4 pad 0 -> 55x55x96 (34,848 weights), ...
  The single-tower network of the table has 62,378,344 parameters (weights and biases); with the
  paper's two-GPU connectivity (CONV2, CONV4, CONV5 see only their own GPU's half of the maps,
  i.e. ``groups=2``) it has 60,965,224, the figure of Caffe's ``bvlc_alexnet``.
- Zeiler and Fergus, "Visualizing and Understanding Convolutional Networks", ECCV 2014, Fig. 3:
  224x224 input, CONV1 7x7 stride 2 (110x110), pools 3x3 stride 2 (55, 13, 6; Caffe's ceil
  rounding), CONV2 5x5 stride 2 (26x26). Lecture 9 (12940-12953): "CONV3,4,5: instead of 384,
  384, 256 filters use 512, 1024, 512" — the slide's widths are the default.
- torchvision ``alexnet`` (the "one weird trick" variant, Krizhevsky 2014): 64/192/384/256/256
  filters, no LRN, 6x6 adaptive average pool; 61,100,840 parameters (torchvision's
  ``AlexNet_Weights.IMAGENET1K_V1.meta["num_params"]``). Its pretrained weights convert with
  ``cs231n-jax convert-weights``.

The lecture orders each normalisation after its pool (POOL1 -> NORM1), as in CaffeNet; the paper
normalises before pooling. The order changes no shape and no parameter count.
"""

from __future__ import annotations

from typing import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

from cs231n_jax.models import cnn_layers as L
from cs231n_jax.models.registry import register

DROPOUT_RATE = 0.5  # "dropout 0.5" (lecture 9, 12784): the probability of *dropping* a unit.
FC_WIDTH = 4096


class AlexNetFamily(nn.Module):
  """conv/pool/LRN stack described by ``convs`` then three FC layers with dropout.

  ``convs`` rows are ``(features, kernel, stride, pad, groups)``; ``pool_after`` / ``norm_after``
  are the (0-based) conv indices followed by a 3x3 stride-2 max pool / an LRN (after the pool);
  ``lrn`` is ``(size, k, alpha, beta)`` of :class:`~cs231n_jax.models.cnn_layers.LocalResponseNorm`.
  An adaptive average pool to ``pool_size`` sits before fc6: at the native input size it is the
  identity, elsewhere it keeps fc6 at its published size (torchvision's choice).
  ``resize_input`` bilinearly resizes the input first, for running the ImageNet-sized networks on
  small images (AlexNet needs at least 67x67 pixels).
  """

  convs: Sequence[tuple[int, int, int, int, int]] = ()
  pool_after: Sequence[int] = (0, 1, 4)
  norm_after: Sequence[int] = (0, 1)
  ceil_mode: bool = False
  lrn: tuple[int, float, float, float] | None = None
  pool_size: tuple[int, int] = (6, 6)
  hidden_dims: Sequence[int] = (FC_WIDTH, FC_WIDTH)
  num_classes: int = 1000
  dropout_rate: float = DROPOUT_RATE
  resize_input: int | None = None
  dtype: L.Dtype = jnp.float32
  param_dtype: L.Dtype = jnp.float32

  @nn.compact
  def __call__(self, x: jnp.ndarray, *, train: bool = False) -> jnp.ndarray:
    L.check_images(x, type(self).__name__, channels=3)
    L.check_probability("dropout_rate", self.dropout_rate)
    if self.resize_input is not None:
      x = jax.image.resize(x, (x.shape[0], self.resize_input, self.resize_input, x.shape[3]), "bilinear")
    x = x.astype(self.dtype)
    pool_index = 0
    for i, (features, kernel, stride, pad, groups) in enumerate(self.convs):
      x = nn.relu(L.conv(self, features, kernel, f"conv{i + 1}", strides=stride, padding=pad, groups=groups)(x))
      if i in self.pool_after:
        pool_index += 1
        x = L.MaxPool(3, 2, ceil_mode=self.ceil_mode, name=f"pool{pool_index}")(x)
        if i in self.norm_after and self.lrn is not None:
          size, k, alpha, beta = self.lrn
          x = L.LocalResponseNorm(size, k, alpha, beta, name=f"norm{pool_index}")(x)
    x = L.AdaptiveAvgPool(tuple(self.pool_size), name="avgpool")(x)
    x = L.flatten(x)
    first_fc = len(self.convs) + 1
    for j, width in enumerate(self.hidden_dims):
      x = nn.relu(L.dense(self, width, f"fc{first_fc + j}")(x))
      x = nn.Dropout(self.dropout_rate, deterministic=not train)(x)
    x = L.dense(self, self.num_classes, f"fc{first_fc + len(self.hidden_dims)}")(x)
    return L.logits_f32(x)


# Krizhevsky et al. 2012, section 3.3: n = 5, k = 2, alpha = 1e-4, beta = 0.75.
ALEXNET_LRN = (5, 2.0, 1e-4, 0.75)


@register("alexnet", input_shape=(227, 227, 3))
class AlexNet(AlexNetFamily):
  """AlexNet as in lecture 9's table: 227x227x3 -> 55x55x96 -> ... -> 6x6x256 -> 4096 -> 4096 -> 1000.

  ``groups=2`` restores the paper's two-GPU connectivity for CONV2, CONV4 and CONV5 (60,965,224
  parameters instead of 62,378,344); each group is one GPU's half of the feature maps.
  """

  groups: int = 1
  convs: Sequence[tuple[int, int, int, int, int]] = ()
  lrn: tuple[int, float, float, float] | None = ALEXNET_LRN

  def __post_init__(self):
    if not self.convs:
      g = self.groups
      # (features, kernel, stride, pad, groups) per the lecture's table.
      object.__setattr__(self, "convs", (
          (96, 11, 4, 0, 1), (256, 5, 1, 2, g), (384, 3, 1, 1, 1), (384, 3, 1, 1, g), (256, 3, 1, 1, g)))
    super().__post_init__()


@register("zfnet", input_shape=(224, 224, 3))
class ZFNet(AlexNetFamily):
  """ZFNet (Zeiler and Fergus 2013): AlexNet with CONV1 7x7 stride 2 and CONV3-5 widths 512, 1024, 512."""

  conv345_widths: Sequence[int] = (512, 1024, 512)
  convs: Sequence[tuple[int, int, int, int, int]] = ()
  ceil_mode: bool = True
  lrn: tuple[int, float, float, float] | None = ALEXNET_LRN

  def __post_init__(self):
    if not self.convs:
      w3, w4, w5 = self.conv345_widths
      object.__setattr__(self, "convs", (
          (96, 7, 2, 1, 1), (256, 5, 2, 0, 1), (w3, 3, 1, 1, 1), (w4, 3, 1, 1, 1), (w5, 3, 1, 1, 1)))
    super().__post_init__()


@register("alexnet_torchvision", input_shape=(224, 224, 3))
class AlexNetTorchvision(AlexNetFamily):
  """torchvision's AlexNet (64/192/384/256/256 filters, no LRN); loads torchvision's weights."""

  convs: Sequence[tuple[int, int, int, int, int]] = (
      (64, 11, 4, 2, 1), (192, 5, 1, 2, 1), (384, 3, 1, 1, 1), (256, 3, 1, 1, 1), (256, 3, 1, 1, 1))
  lrn: tuple[int, float, float, float] | None = None
