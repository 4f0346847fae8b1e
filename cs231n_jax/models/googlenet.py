"""GoogLeNet / Inception v1 (Szegedy et al. 2014) and lecture 9's naive vs bottleneck Inception module.

Lecture 9 (13346-13608) compares a naive Inception module on a 28x28x256 input (1x1 conv 128,
3x3 conv 192, 5x5 conv 96, 3x3 max pool, concatenated to 28x28x672; "Total: 854M ops") with the
"dimension reduction" module that adds 1x1 conv 64 bottlenecks. The slide's total for the latter,
"358M ops", is an arithmetic slip: its own six terms sum to 271,351,808 multiply-adds
(see :func:`inception_module_macs` and :func:`cs231n_jax.models.analysis.count_macs`).

The full network follows the paper's Table 1 (per-module widths of inception 3a-5b; the slide shows
only a diagram). Two registered layouts:

- ``googlenet``: the paper / Caffe ``bvlc_googlenet`` network: convolutions with biases and no batch
  norm, local response normalisation in the stem, 5x5 convolutions in the third branch, max pools
  3x3 stride 2 (Caffe's ceil rounding), 40% dropout before the classifier, and auxiliary
  classifiers (5x5 stride 3 average pool, 1x1 conv 128, FC 1024, 70% dropout, FC) on inception 4a
  and 4d whose losses are added with weight 0.3 during training.
- ``googlenet_torchvision``: torchvision's port (6,624,904 parameters without the auxiliary heads,
  13,004,888 with them): conv + batch norm (eps 1e-3) units, no LRN, a 2x2 pool before inception
  5a, adaptive 4x4 pools in the auxiliary heads and — a known torchvision bug kept for weight
  compatibility (pytorch/vision issue 906) — 3x3 instead of 5x5 convolutions in the third branch.

Auxiliary classifiers (``aux_logits=True``) only run in training; the model still returns one
logits array, and puts the auxiliary logits in the ``"aux_logits"`` collection (``aux1``, ``aux2``)
when that collection is mutable (``aux1/logits``, ``aux2/logits``): ``model.apply(..., train=True,
mutable=["batch_stats", "aux_logits"])``; :func:`googlenet_loss` combines them as the paper does.
"""

from __future__ import annotations

from typing import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

from cs231n_jax.models import cnn_layers as L
from cs231n_jax.models.registry import register

# Inception widths from the paper's Table 1:
# (#1x1, #3x3 reduce, #3x3, #5x5 reduce, #5x5, pool proj).
INCEPTION_WIDTHS: dict[str, tuple[int, int, int, int, int, int]] = {
    "3a": (64, 96, 128, 16, 32, 32),
    "3b": (128, 128, 192, 32, 96, 64),
    "4a": (192, 96, 208, 16, 48, 64),
    "4b": (160, 112, 224, 24, 64, 64),
    "4c": (128, 128, 256, 24, 64, 64),
    "4d": (112, 144, 288, 32, 64, 64),
    "4e": (256, 160, 320, 32, 128, 128),
    "5a": (256, 160, 320, 32, 128, 128),
    "5b": (384, 192, 384, 48, 128, 128),
}
AUX_WEIGHT = 0.3  # "the losses of the auxiliary classifiers were weighted by 0.3"
AUX_CONV_WIDTH = 128
AUX_FC_WIDTH = 1024
AUX_DROPOUT = 0.7
AUX_GRID = 4  # both auxiliary heads pool the 14x14 map to 4x4
TORCHVISION_BN_EPSILON = 1e-3
# The Caffe bvlc_googlenet LRN: local_size 5, alpha 1e-4 (Caffe divides by the size), beta 0.75,
# k = 1; in the paper's formula (cnn_layers.LocalResponseNorm) alpha is 1e-4 / 5.
CAFFE_LRN = (5, 1.0, 1e-4 / 5, 0.75)


class BasicConv(nn.Module):
  """conv -> [batch norm] -> ReLU. Without batch norm the conv has a bias (paper / Caffe)."""

  features: int
  kernel_size: int
  strides: int = 1
  padding: int = 0
  batch_norm: bool = True
  bn_epsilon: float = TORCHVISION_BN_EPSILON
  dtype: L.Dtype = jnp.float32
  param_dtype: L.Dtype = jnp.float32
  bn_axis_name: str | None = None

  @nn.compact
  def __call__(self, x: jnp.ndarray, train: bool) -> jnp.ndarray:
    x = L.conv(self, self.features, self.kernel_size, "conv", strides=self.strides, padding=self.padding,
               use_bias=not self.batch_norm)(x)
    if self.batch_norm:
      return L.batch_norm(self, train, name="bn", epsilon=self.bn_epsilon, relu=True)(x)
    return nn.relu(x)


class InceptionModule(nn.Module):
  """Four parallel branches concatenated along channels.

  ``widths = (c1, c3_reduce, c3, c5_reduce, c5, pool_proj)``. With ``naive=True`` the reduce and
  projection convolutions are absent (lecture 9's naive module: the pool branch passes all input
  channels through, so the output depth grows with the input's). ``branch3_kernel`` is 5 in the
  paper and 3 in torchvision's port. Submodule names follow torchvision (branch1, branch2_0, ...).
  """

  widths: Sequence[int]
  naive: bool = False
  branch3_kernel: int = 5
  batch_norm: bool = True
  bn_epsilon: float = TORCHVISION_BN_EPSILON
  dtype: L.Dtype = jnp.float32
  param_dtype: L.Dtype = jnp.float32
  bn_axis_name: str | None = None

  @nn.compact
  def __call__(self, x: jnp.ndarray, train: bool = False) -> jnp.ndarray:
    c1, c3r, c3, c5r, c5, pool_proj = self.widths
    unit = lambda features, k, name: BasicConv(
        features, k, padding=k // 2, batch_norm=self.batch_norm, bn_epsilon=self.bn_epsilon, dtype=self.dtype,
        param_dtype=self.param_dtype, bn_axis_name=self.bn_axis_name, name=name)
    k3 = self.branch3_kernel
    b1 = unit(c1, 1, "branch1")(x, train)
    pooled = L.max_pool(x, 3, 1, pad=1)
    if self.naive:
      b2 = unit(c3, 3, "branch2_1")(x, train)
      b3 = unit(c5, k3, "branch3_1")(x, train)
      b4 = pooled
    else:
      b2 = unit(c3, 3, "branch2_1")(unit(c3r, 1, "branch2_0")(x, train), train)
      b3 = unit(c5, k3, "branch3_1")(unit(c5r, 1, "branch3_0")(x, train), train)
      b4 = unit(pool_proj, 1, "branch4_1")(pooled, train)
    return jnp.concatenate([b1, b2, b3, b4], axis=-1)


def inception_module_macs(height: int, width: int, in_channels: int, widths: Sequence[int],
                          naive: bool, branch3_kernel: int = 5) -> dict[str, int]:
  """Multiply-adds of each convolution of an Inception module, by the lecture's formula
  H x W x (output channels) x (kernel area) x (input channels); pooling costs none.

  Lecture 9's examples on a 28x28x256 input: naive (128, 192, 96) -> 854,196,224 in total; with
  1x1 bottlenecks of 64 (and a 64-wide pool projection) -> 271,351,808, not the slide's "358M".
  """
  c1, c3r, c3, c5r, c5, pool_proj = widths
  hw = height * width
  k5 = branch3_kernel * branch3_kernel
  if naive:
    return {"1x1": hw * c1 * in_channels, "3x3": hw * c3 * 9 * in_channels, f"{branch3_kernel}x{branch3_kernel}":
            hw * c5 * k5 * in_channels}
  return {
      "1x1": hw * c1 * in_channels,
      "3x3 reduce": hw * c3r * in_channels,
      "3x3": hw * c3 * 9 * c3r,
      f"{branch3_kernel}x{branch3_kernel} reduce": hw * c5r * in_channels,
      f"{branch3_kernel}x{branch3_kernel}": hw * c5 * k5 * c5r,
      "pool proj": hw * pool_proj * in_channels,
  }


class InceptionAux(nn.Module):
  """Auxiliary classifier: pool to 4x4, 1x1 conv 128, FC 1024, dropout 0.7, FC num_classes."""

  num_classes: int
  batch_norm: bool = True
  adaptive_pool: bool = True
  dropout_rate: float = AUX_DROPOUT
  dtype: L.Dtype = jnp.float32
  param_dtype: L.Dtype = jnp.float32
  bn_axis_name: str | None = None

  @nn.compact
  def __call__(self, x: jnp.ndarray, train: bool) -> jnp.ndarray:
    if self.adaptive_pool:
      x = L.adaptive_avg_pool(x, (AUX_GRID, AUX_GRID))
    else:  # the paper: 5x5 average pooling with stride 3 (14x14 -> 4x4)
      x = L.avg_pool(x, 5, 3)
    x = BasicConv(AUX_CONV_WIDTH, 1, batch_norm=self.batch_norm, dtype=self.dtype, param_dtype=self.param_dtype,
                  bn_axis_name=self.bn_axis_name, name="conv")(x, train)
    x = nn.relu(L.dense(self, AUX_FC_WIDTH, "fc1")(L.flatten(x)))
    x = nn.Dropout(self.dropout_rate, deterministic=not train)(x)
    logits = L.logits_f32(L.dense(self, self.num_classes, "fc2")(x))
    if not self.is_initializing():  # a no-op unless "aux_logits" is mutable; never part of the state
      self.sow("aux_logits", "logits", logits)
    return logits


class GoogLeNet(nn.Module):
  """GoogLeNet: stem, inception 3a-3b, pool, 4a-4e, pool, 5a-5b, global average pool, dropout, FC."""

  num_classes: int = 1000
  aux_logits: bool = False
  batch_norm: bool = False
  branch3_kernel: int = 5
  lrn: tuple[int, float, float, float] | None = CAFFE_LRN
  pool4_window: int = 3
  aux_adaptive_pool: bool = False
  dropout_rate: float = 0.4
  aux_dropout_rate: float = AUX_DROPOUT
  dtype: L.Dtype = jnp.float32
  param_dtype: L.Dtype = jnp.float32
  bn_axis_name: str | None = None

  @nn.compact
  def __call__(self, x: jnp.ndarray, *, train: bool = False) -> jnp.ndarray:
    L.check_images(x, type(self).__name__, channels=3)
    L.check_probability("dropout_rate", self.dropout_rate)
    x = x.astype(self.dtype)
    kw = dict(batch_norm=self.batch_norm, dtype=self.dtype, param_dtype=self.param_dtype,
              bn_axis_name=self.bn_axis_name)
    x = BasicConv(64, 7, strides=2, padding=3, name="conv1", **kw)(x, train)
    x = L.MaxPool(3, 2, ceil_mode=True, name="maxpool1")(x)
    if self.lrn is not None:
      x = L.LocalResponseNorm(*self.lrn, name="norm1")(x)
    x = BasicConv(64, 1, name="conv2", **kw)(x, train)
    x = BasicConv(192, 3, padding=1, name="conv3", **kw)(x, train)
    if self.lrn is not None:
      x = L.LocalResponseNorm(*self.lrn, name="norm2")(x)
    x = L.MaxPool(3, 2, ceil_mode=True, name="maxpool2")(x)
    run_aux = self.aux_logits and (train or self.is_initializing())
    for key in ("3a", "3b", "maxpool3", "4a", "aux1", "4b", "4c", "4d", "aux2", "4e", "maxpool4", "5a", "5b"):
      if key == "maxpool3":
        x = L.MaxPool(3, 2, ceil_mode=True, name=key)(x)
      elif key == "maxpool4":
        x = L.MaxPool(self.pool4_window, 2, ceil_mode=True, name=key)(x)
      elif key.startswith("aux"):
        if run_aux:
          InceptionAux(self.num_classes, adaptive_pool=self.aux_adaptive_pool, dropout_rate=self.aux_dropout_rate,
                       name=key, **kw)(x, train)
      else:
        x = InceptionModule(INCEPTION_WIDTHS[key], branch3_kernel=self.branch3_kernel, name=f"inception{key}",
                            **kw)(x, train)
    x = L.global_avg_pool(x)
    x = nn.Dropout(self.dropout_rate, deterministic=not train)(x)
    return L.logits_f32(L.dense(self, self.num_classes, "fc")(x))


def googlenet_loss(logits: jnp.ndarray, aux_logits: dict, labels: jnp.ndarray,
                   aux_weight: float = AUX_WEIGHT) -> jnp.ndarray:
  """The paper's training loss: main cross-entropy + ``aux_weight`` x each auxiliary cross-entropy.

  ``aux_logits`` is the ``"aux_logits"`` collection returned by ``apply(..., mutable=[...,
  "aux_logits"])`` (empty when the heads are off).
  """
  def cross_entropy(z):
    return -jnp.mean(jnp.take_along_axis(jax.nn.log_softmax(z), labels[:, None], axis=-1))

  loss = cross_entropy(logits)
  for aux in jax.tree.leaves(aux_logits):
    loss = loss + aux_weight * cross_entropy(aux)
  return loss


@register("googlenet", input_shape=(224, 224, 3))
class GoogLeNetPaper(GoogLeNet):
  """GoogLeNet / Inception v1 as in the paper (Caffe bvlc_googlenet layout; optional aux heads)."""


@register("googlenet_torchvision", input_shape=(224, 224, 3))
class GoogLeNetTorchvision(GoogLeNet):
  """torchvision's GoogLeNet port (BN units, 3x3 third branch); loads torchvision's weights."""

  batch_norm: bool = True
  branch3_kernel: int = 3
  lrn: tuple[int, float, float, float] | None = None
  pool4_window: int = 2
  aux_adaptive_pool: bool = True
  dropout_rate: float = 0.2
