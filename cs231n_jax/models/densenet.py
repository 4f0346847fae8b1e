"""DenseNet (Huang et al., "Densely Connected Convolutional Networks", CVPR 2017).

"Dense blocks where each layer is connected to every other layer in feedforward fashion"
(lecture 9, 14175-14180): layer ``l`` of a block sees the concatenation of the block input and all
``l - 1`` earlier outputs, and adds ``growth_rate`` new channels. DenseNet-B puts a 1x1
"bottleneck" conv of ``bn_size * growth_rate`` channels before each 3x3 conv; DenseNet-C halves
the channels in each transition (compression 0.5).

- ImageNet DenseNet-BC-121/169/201/161 in torchvision's layout (names conv0, norm0,
  denseblock{b}/denselayer{l}/{norm1,conv1,norm2,conv2}, transition{b}/{norm,conv}, norm5,
  classifier): 7,978,856 / 14,149,480 / 20,013,928 / 28,681,000 parameters (torchvision
  ``num_params``).
- CIFAR (paper, section 3 "Implementation Details"): a 3x3 stem conv (16 channels, or 2k for BC),
  three dense blocks, global average pool. ``densenet40_12`` (L=40, k=12, no bottleneck or
  compression) has the paper's 1.0M parameters; ``densenet_bc100_12`` (L=100, k=12) its 0.8M.

``remat=True`` recomputes each dense layer in the backward pass, the JAX counterpart of the
"memory-efficient" DenseNet implementation (the concatenations are what fill memory).
"""

from __future__ import annotations

from typing import Sequence

import flax.linen as nn
import jax.numpy as jnp

from cs231n_jax.models import cnn_layers as L
from cs231n_jax.models.registry import register

STEMS = ("imagenet", "cifar")


class DenseLayer(nn.Module):
  """BN-ReLU-[1x1 conv (bn_size * k)]-BN-ReLU-3x3 conv (k) [-dropout]; returns the k new channels."""

  growth_rate: int
  bn_size: int | None = 4
  drop_rate: float = 0.0
  train: bool = False
  dtype: L.Dtype = jnp.float32
  param_dtype: L.Dtype = jnp.float32
  bn_axis_name: str | None = None

  @nn.compact
  def __call__(self, x: jnp.ndarray) -> jnp.ndarray:
    if self.bn_size is not None:
      x = L.batch_norm(self, self.train, name="norm1", relu=True)(x)
      x = L.conv(self, self.bn_size * self.growth_rate, 1, "conv1", use_bias=False)(x)
      x = L.batch_norm(self, self.train, name="norm2", relu=True)(x)
    else:
      x = L.batch_norm(self, self.train, name="norm1", relu=True)(x)
    x = L.conv(self, self.growth_rate, 3, "conv2" if self.bn_size is not None else "conv1", padding=1,
               use_bias=False)(x)
    return nn.Dropout(self.drop_rate, deterministic=not self.train)(x)


class DenseBlock(nn.Module):
  """``num_layers`` dense layers, each fed the concatenation of everything before it."""

  num_layers: int
  growth_rate: int
  bn_size: int | None = 4
  drop_rate: float = 0.0
  remat: bool = False
  train: bool = False
  dtype: L.Dtype = jnp.float32
  param_dtype: L.Dtype = jnp.float32
  bn_axis_name: str | None = None

  @nn.compact
  def __call__(self, x: jnp.ndarray) -> jnp.ndarray:
    layer_cls = nn.remat(DenseLayer) if self.remat else DenseLayer
    for i in range(1, self.num_layers + 1):
      new = layer_cls(self.growth_rate, self.bn_size, self.drop_rate, self.train, self.dtype, self.param_dtype,
                      self.bn_axis_name, name=f"denselayer{i}")(x)
      x = jnp.concatenate([x, new], axis=-1)
    return x


class Transition(nn.Module):
  """BN-ReLU-1x1 conv (compressing the channels) - 2x2 average pool."""

  features: int
  train: bool = False
  dtype: L.Dtype = jnp.float32
  param_dtype: L.Dtype = jnp.float32
  bn_axis_name: str | None = None

  @nn.compact
  def __call__(self, x: jnp.ndarray) -> jnp.ndarray:
    x = L.batch_norm(self, self.train, name="norm", relu=True)(x)
    x = L.conv(self, self.features, 1, "conv", use_bias=False)(x)
    return L.avg_pool(x, 2, 2)


class DenseNet(nn.Module):
  """DenseNet with ``block_config`` layers per dense block and ``growth_rate`` k.

  ``bn_size=None`` drops the bottleneck (DenseNet without "B"); ``compression`` is the fraction of
  channels a transition keeps (1.0 without "C").
  """

  growth_rate: int = 32
  block_config: Sequence[int] = (6, 12, 24, 16)
  num_init_features: int = 64
  bn_size: int | None = 4
  compression: float = 0.5
  stem: str = "imagenet"
  drop_rate: float = 0.0
  num_classes: int = 1000
  remat: bool = False
  dtype: L.Dtype = jnp.float32
  param_dtype: L.Dtype = jnp.float32
  bn_axis_name: str | None = None

  @nn.compact
  def __call__(self, x: jnp.ndarray, *, train: bool = False) -> jnp.ndarray:
    if self.stem not in STEMS:
      raise ValueError(f"model.stem: expected one of {STEMS}, got {self.stem!r}")
    if not 0.0 < self.compression <= 1.0:
      raise ValueError(f"model.compression: expected a fraction in (0, 1], got {self.compression}")
    L.check_probability("drop_rate", self.drop_rate)
    L.check_images(x, type(self).__name__)
    x = x.astype(self.dtype)
    kw = dict(train=train, dtype=self.dtype, param_dtype=self.param_dtype, bn_axis_name=self.bn_axis_name)
    if self.stem == "imagenet":
      x = L.conv(self, self.num_init_features, 7, "conv0", strides=2, padding=3, use_bias=False)(x)
      x = L.batch_norm(self, train, name="norm0", relu=True)(x)
      x = L.MaxPool(3, 2, pad=1, name="pool0")(x)
    else:
      x = L.conv(self, self.num_init_features, 3, "conv0", padding=1, use_bias=False)(x)
    for b, num_layers in enumerate(self.block_config, start=1):
      x = DenseBlock(num_layers, self.growth_rate, self.bn_size, self.drop_rate, self.remat,
                     name=f"denseblock{b}", **kw)(x)
      if b < len(self.block_config):
        x = Transition(int(x.shape[-1] * self.compression), name=f"transition{b}", **kw)(x)
    x = L.batch_norm(self, train, name="norm5", relu=True)(x)
    x = L.global_avg_pool(x)
    return L.logits_f32(L.dense(self, self.num_classes, "classifier")(x))


def _define(name: str, doc: str, input_shape: tuple[int, ...], **defaults) -> type[DenseNet]:
  """Register a subclass of :class:`DenseNet` whose field defaults are one published configuration."""
  namespace = {"__annotations__": {k: type(v) for k, v in defaults.items()}, "__doc__": doc,
               "__module__": __name__, **defaults}
  cls = type("".join(part.title() for part in name.split("_")), (DenseNet,), namespace)
  globals()[cls.__name__] = cls
  return register(name, input_shape=input_shape)(cls)


for _depth, _blocks, _k, _init in ((121, (6, 12, 24, 16), 32, 64), (169, (6, 12, 32, 32), 32, 64),
                                   (201, (6, 12, 48, 32), 32, 64), (161, (6, 12, 36, 24), 48, 96)):
  _define(f"densenet{_depth}", f"DenseNet-BC-{_depth} (Huang et al. 2017, torchvision layout), k = {_k}.",
          (224, 224, 3), growth_rate=_k, block_config=_blocks, num_init_features=_init)

# CIFAR: L = 3 * layers_per_block * (2 if bottleneck else 1) + 4.
_define("densenet40_12", "DenseNet (L=40, k=12) for CIFAR: no bottleneck, no compression (1.0M parameters).",
        (32, 32, 3), growth_rate=12, block_config=(12, 12, 12), num_init_features=16, bn_size=None,
        compression=1.0, stem="cifar", num_classes=10)
_define("densenet_bc100_12", "DenseNet-BC (L=100, k=12) for CIFAR (0.8M parameters).", (32, 32, 3),
        growth_rate=12, block_config=(16, 16, 16), num_init_features=24, stem="cifar", num_classes=10)
