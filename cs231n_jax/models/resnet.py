"""Residual networks (lecture 9, 13715-13947, and its "other architectures", 14040-14180).

One configurable :class:`ResNet` covers the family; the registry names fix the published
configurations:

- **ImageNet ResNets** (He et al., "Deep Residual Learning for Image Recognition", CVPR 2016,
  Table 1): ``resnet18/34`` (basic blocks: two 3x3 convs) and ``resnet50/101/152`` (bottleneck
  blocks 1x1-3x3-1x1 with 4x expansion), in torchvision's layout ("ResNet v1.5": the stride of a
  bottleneck sits on its 3x3 conv; projection shortcuts only where the shape changes). Parameter
  counts equal torchvision's ``num_params``: 11,689,512 / 21,797,672 / 25,557,032 / 44,549,160 /
  60,192,808.
- **ResNeXt** (Xie et al., CVPR 2017): bottlenecks with grouped 3x3 convs ("cardinality");
  ``resnext50_32x4d`` 25,028,904 and ``resnext101_32x8d`` 88,791,336 parameters (torchvision).
- **Wide ResNet** (Zagoruyko and Komodakis, BMVC 2016): torchvision's ImageNet
  ``wide_resnet50_2`` (68,883,240) / ``wide_resnet101_2`` (126,886,696), twice-wider bottlenecks;
  and the paper's CIFAR WRN-d-k (pre-activation basic blocks of 16k/32k/64k filters, dropout
  between the convs): ``wrn28_10`` has 36,479,194 parameters (the paper's "36.5M").
- **SENet** (Hu et al., CVPR 2018): squeeze-excitation (global average pool, FC C/16, ReLU, FC C,
  sigmoid, channel reweighting) on every residual branch. ``se_resnet50`` has 28,088,024
  parameters: ResNet-50's 25,557,032 plus 2,530,992 in the SE modules (the count of the authors'
  Caffe model and of Cadene's ``pretrainedmodels``).
- **Pre-activation ResNet** (He et al., "Identity Mappings in Deep Residual Networks", ECCV
  2016): BN-ReLU-conv ordering, a clean identity path ("moves activation to residual mapping
  pathway", lecture 9). ``preact_resnet110/164/1001`` on CIFAR (1.7M / 1.7M / 10.2M).
- **CIFAR ResNets** (He et al. 2016, section 4.2): 6n+2 layers, 16/32/64 filters, option A
  shortcuts (identity with zero-padded channels, no parameters): ``resnet20/32/44/56/110/1202``
  with 0.27M / 0.46M / 0.66M / 0.85M / 1.7M / 19.4M parameters (exactly 269,722 / 464,154 /
  658,586 / 853,018 / 1,727,962 / 19,421,274).
- **Stochastic depth** (Huang et al., ECCV 2016), any of the above: ``drop_path_rate`` drops whole
  residual branches per example during training (linearly more often with depth, to
  ``drop_path_rate`` at the last block), the full network at test time. This is the "inverted"
  form: kept branches are scaled by 1/survival in training, so test time needs no rescaling.

Scaling options, numerically identical to the plain network (tested):

- ``remat=True`` wraps every block in ``nn.remat``: activations inside a block are recomputed in
  the backward pass instead of stored (less memory for a little more compute).
- ``scan_blocks=True`` runs the identical blocks of a stage (all but the first) as one
  ``nn.scan``: the body is traced and compiled once per stage instead of once per block, so
  ResNet-110 or ResNet-1001 compile in a fraction of the time. Their parameters are stacked along a
  leading axis under ``layer{i}_rest``; :func:`stack_blocks` / :func:`unstack_blocks` convert
  between the two layouts (e.g. after converting pretrained weights). ``resnet1202`` and
  ``preact_resnet1001`` default to ``scan_blocks=True``. On XLA's CPU backend a scanned training
  step costs 1.06-1.23x the unrolled one (ResNet-110 / -56): ``conv_pool`` writes the convolution's
  gradients so that XLA:CPU's fast kernel runs them inside the loop body too (docs/benchmarks.md,
  study 6; before that, 37-44x).

The lecture's training recipe (13895-13903) says "Weight decay of 1e-5"; the paper (section 3.4)
uses 1e-4, which the configs in ``experiments/configs/cnn`` use.
"""

from __future__ import annotations

import functools
from typing import Any, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from cs231n_jax.models import cnn_layers as L
from cs231n_jax.models.registry import register

BLOCKS = ("basic", "bottleneck")
SHORTCUTS = ("projection", "zero_pad", "none")  # "none": the plain twin (no identity path)
STEMS = ("imagenet", "cifar")
BOTTLENECK_EXPANSION = 4
BASE_WIDTH = 64  # torchvision's width_per_group default: a bottleneck's 3x3 width = planes
SE_REDUCTION = 16  # Hu et al.'s reduction ratio r


class SqueezeExcite(nn.Module):
  """Squeeze (global average pool) -> FC C/r -> ReLU -> FC C -> sigmoid -> reweight channels."""

  reduction: int = SE_REDUCTION
  dtype: L.Dtype = jnp.float32
  param_dtype: L.Dtype = jnp.float32

  @nn.compact
  def __call__(self, x: jnp.ndarray) -> jnp.ndarray:
    channels = x.shape[-1]
    s = L.global_avg_pool(x)
    s = nn.relu(L.dense(self, max(channels // self.reduction, 1), "fc1")(s))
    s = nn.sigmoid(L.dense(self, channels, "fc2")(s))
    return x * s[:, None, None, :].astype(x.dtype)


def drop_path(module: nn.Module, y: jnp.ndarray, rate: jnp.ndarray | float) -> jnp.ndarray:
  """Stochastic depth: zero the branch ``y`` of a random ``rate`` of the examples, scale the rest
  by ``1 / (1 - rate)`` (so the expectation equals the test-time branch)."""
  keep = 1.0 - jnp.asarray(rate, jnp.float32)
  mask = jax.random.bernoulli(module.make_rng("dropout"), keep, (y.shape[0], 1, 1, 1))
  return y * (mask / keep).astype(y.dtype)


class ResidualBlock(nn.Module):
  """One residual block; called as ``out, _ = block(x, drop_rate)`` (the carry form ``nn.scan`` needs).

  Submodule names follow torchvision (conv1, bn1, conv2, bn2, conv3, bn3, downsample_conv,
  downsample_bn), so pretrained weights map one to one.
  """

  planes: int
  strides: int = 1
  bottleneck: bool = False
  expansion: int = 1
  groups: int = 1
  width_per_group: int = BASE_WIDTH
  preact: bool = False
  shortcut: str = "projection"
  se_reduction: int | None = None
  dropout_rate: float = 0.0
  use_drop_path: bool = False
  zero_init_residual: bool = False
  train: bool = False
  dtype: L.Dtype = jnp.float32
  param_dtype: L.Dtype = jnp.float32
  bn_axis_name: str | None = None

  @nn.compact
  def __call__(self, x: jnp.ndarray, drop_rate: jnp.ndarray | float = 0.0) -> tuple[jnp.ndarray, None]:
    out_channels = self.planes * self.expansion
    needs_projection = self.strides != 1 or x.shape[-1] != out_channels
    identity = None if self.shortcut == "none" else x
    conv = functools.partial(L.conv, self, use_bias=False)
    bn = functools.partial(L.batch_norm, self, self.train)
    width = int(self.planes * (self.width_per_group / BASE_WIDTH)) * self.groups if self.bottleneck else self.planes
    dropout = nn.Dropout(self.dropout_rate, deterministic=not self.train)

    if self.preact:
      pre = bn(name="bn1", relu=True)(x)
      shortcut = identity
      if needs_projection:
        shortcut = self._shortcut(pre if self.shortcut == "projection" else x, out_channels, with_bn=False)
      if self.bottleneck:
        y = bn(name="bn2", relu=True)(conv(width, 1, "conv1")(pre))
        y = bn(name="bn3", relu=True)(conv(width, 3, "conv2", strides=self.strides, padding=1, groups=self.groups)(y))
        y = conv(out_channels, 1, "conv3")(dropout(y))
      else:
        y = bn(name="bn2", relu=True)(conv(width, 3, "conv1", strides=self.strides, padding=1)(pre))
        y = conv(out_channels, 3, "conv2", padding=1)(dropout(y))
    else:
      shortcut = self._shortcut(x, out_channels, with_bn=True) if needs_projection else identity
      last_bn = functools.partial(L.batch_norm, self, self.train, zero_init=self.zero_init_residual)
      # Without squeeze-excite or drop-path the residual add and the ReLU join the last batch norm.
      fuse_add = self.se_reduction is None and not (self.use_drop_path and self.train)
      if self.bottleneck:
        y = bn(name="bn1", relu=True)(conv(width, 1, "conv1")(x))
        y = bn(name="bn2", relu=True)(conv(width, 3, "conv2", strides=self.strides, padding=1, groups=self.groups)(y))
        h, last_name = conv(out_channels, 1, "conv3")(dropout(y)), "bn3"
      else:
        y = bn(name="bn1", relu=True)(conv(width, 3, "conv1", strides=self.strides, padding=1)(x))
        h, last_name = conv(out_channels, 3, "conv2", padding=1)(dropout(y)), "bn2"
      if fuse_add:
        return last_bn(name=last_name, relu=True)(h, residual=shortcut), None
      y = last_bn(name=last_name)(h)
    if self.se_reduction is not None:
      y = SqueezeExcite(self.se_reduction, dtype=self.dtype, param_dtype=self.param_dtype, name="se")(y)
    if self.use_drop_path and self.train:
      y = drop_path(self, y, drop_rate)
    out = y if shortcut is None else y + shortcut
    return (out if self.preact else nn.relu(out)), None

  def _shortcut(self, x: jnp.ndarray, out_channels: int, with_bn: bool) -> jnp.ndarray | None:
    if self.shortcut == "none":
      return None
    if self.shortcut == "zero_pad":
      # He et al.'s option A: subsample, then zero-pad the new channels (no parameters).
      x = x[:, ::self.strides, ::self.strides, :]
      extra = out_channels - x.shape[-1]
      return jnp.pad(x, ((0, 0), (0, 0), (0, 0), (extra // 2, extra - extra // 2)))
    x = L.conv(self, out_channels, 1, "downsample_conv", strides=self.strides, use_bias=False)(x)
    return L.batch_norm(self, self.train, name="downsample_bn")(x) if with_bn else x


class ResNet(nn.Module):
  """A residual network: stem, stages of residual blocks, global average pool, FC.

  Stage ``i`` has ``stage_sizes[i]`` blocks of ``widths[i]`` "planes" (the block's output has
  ``planes * expansion`` channels); stages after the first halve the resolution in their first
  block. ``stem="imagenet"`` is the 7x7 stride-2 conv and 3x3 stride-2 max pool; ``"cifar"`` a
  single 3x3 conv. ``drop_path_rate`` is stochastic depth's drop probability at the last block.
  """

  stage_sizes: Sequence[int] = (2, 2, 2, 2)
  block: str = "basic"
  num_classes: int = 1000
  stem: str = "imagenet"
  stem_width: int = 64
  widths: Sequence[int] = (64, 128, 256, 512)
  expansion: int | None = None
  groups: int = 1
  width_per_group: int = BASE_WIDTH
  preact: bool = False
  shortcut: str = "projection"
  se_reduction: int | None = None
  dropout_rate: float = 0.0
  drop_path_rate: float = 0.0
  zero_init_residual: bool = False
  remat: bool = False
  scan_blocks: bool = False
  dtype: L.Dtype = jnp.float32
  param_dtype: L.Dtype = jnp.float32
  bn_axis_name: str | None = None

  def _validate(self) -> None:
    if self.block not in BLOCKS:
      raise ValueError(f"model.block: expected one of {BLOCKS}, got {self.block!r}")
    if self.shortcut not in SHORTCUTS:
      raise ValueError(f"model.shortcut: expected one of {SHORTCUTS}, got {self.shortcut!r}")
    if self.stem not in STEMS:
      raise ValueError(f"model.stem: expected one of {STEMS}, got {self.stem!r}")
    if len(self.stage_sizes) != len(self.widths):
      raise ValueError(f"model.widths: expected one width per stage ({len(self.stage_sizes)}), got {tuple(self.widths)}")
    if any(n < 1 for n in self.stage_sizes):
      raise ValueError(f"model.stage_sizes: every stage needs at least one block, got {tuple(self.stage_sizes)}")
    if self.block == "basic" and (self.groups != 1 or self.width_per_group != BASE_WIDTH):
      raise ValueError("model.groups: basic blocks support only groups=1 and width_per_group=64 (as torchvision)")
    L.check_probability("dropout_rate", self.dropout_rate)
    L.check_probability("drop_path_rate", self.drop_path_rate)

  @nn.compact
  def __call__(self, x: jnp.ndarray, *, train: bool = False) -> jnp.ndarray:
    self._validate()
    L.check_images(x, type(self).__name__)
    x = x.astype(self.dtype)
    if self.stem == "imagenet":
      x = L.conv(self, self.stem_width, 7, "conv1", strides=2, padding=3, use_bias=False)(x)
      x = L.batch_norm(self, train, name="bn1", relu=True)(x)
      x = L.MaxPool(3, 2, pad=1, name="maxpool")(x)
    else:
      x = L.conv(self, self.stem_width, 3, "conv1", padding=1, use_bias=False)(x)
      if not self.preact:  # a pre-activation network starts its first block with BN-ReLU
        x = L.batch_norm(self, train, name="bn1", relu=True)(x)

    bottleneck = self.block == "bottleneck"
    expansion = self.expansion or (BOTTLENECK_EXPANSION if bottleneck else 1)
    block_cls = nn.remat(ResidualBlock) if self.remat else ResidualBlock
    total = sum(self.stage_sizes)
    # Stochastic depth's linear decay rule: block k of L drops with probability k / L * p_L.
    rates = np.arange(1, total + 1, dtype=np.float32) / total * self.drop_path_rate
    block_kwargs = dict(
        bottleneck=bottleneck, expansion=expansion, groups=self.groups, width_per_group=self.width_per_group,
        preact=self.preact, shortcut=self.shortcut, se_reduction=self.se_reduction,
        dropout_rate=self.dropout_rate, use_drop_path=self.drop_path_rate > 0,
        zero_init_residual=self.zero_init_residual, train=train, dtype=self.dtype,
        param_dtype=self.param_dtype, bn_axis_name=self.bn_axis_name)
    start = 0
    for i, (n, planes) in enumerate(zip(self.stage_sizes, self.widths), start=1):
      strides = 1 if i == 1 else 2
      x, _ = block_cls(planes, strides, name=f"layer{i}_0", **block_kwargs)(x, float(rates[start]))
      if self.scan_blocks and n > 1:
        scanned = nn.scan(block_cls, variable_axes={"params": 0, "batch_stats": 0},
                          split_rngs={"params": True, "dropout": True}, length=n - 1)
        x, _ = scanned(planes, 1, name=f"layer{i}_rest", **block_kwargs)(x, jnp.asarray(rates[start + 1:start + n]))
      else:
        for j in range(1, n):
          x, _ = block_cls(planes, 1, name=f"layer{i}_{j}", **block_kwargs)(x, float(rates[start + j]))
      start += n
    if self.preact:
      x = L.batch_norm(self, train, name="final_bn", relu=True)(x)
    x = L.global_avg_pool(x)
    return L.logits_f32(L.dense(self, self.num_classes, "fc")(x))


# ---------------------------------------------------------------------------------------------
# Converting parameters between the plain and the scanned layout.


def stack_blocks(variables: dict[str, Any], stage_sizes: Sequence[int]) -> dict[str, Any]:
  """Plain layout (``layer{i}_{j}``) -> ``scan_blocks=True`` layout (``layer{i}_0`` +
  ``layer{i}_rest`` holding blocks 1..n-1 stacked on a new leading axis), per collection."""
  out = {}
  for collection, tree in variables.items():
    tree = dict(tree)
    for i, n in enumerate(stage_sizes, start=1):
      if n > 1 and f"layer{i}_1" in tree:
        blocks = [tree.pop(f"layer{i}_{j}") for j in range(1, n)]
        tree[f"layer{i}_rest"] = jax.tree.map(lambda *xs: jnp.stack(xs), *blocks)
    out[collection] = tree
  return out


def unstack_blocks(variables: dict[str, Any], stage_sizes: Sequence[int]) -> dict[str, Any]:
  """The inverse of :func:`stack_blocks`."""
  out = {}
  for collection, tree in variables.items():
    tree = dict(tree)
    for i, n in enumerate(stage_sizes, start=1):
      if f"layer{i}_rest" in tree:
        stacked = tree.pop(f"layer{i}_rest")
        for j in range(1, n):
          tree[f"layer{i}_{j}"] = jax.tree.map(lambda x, j=j: x[j - 1], stacked)
    out[collection] = tree
  return out


# ---------------------------------------------------------------------------------------------
# Registered configurations.

IMAGENET_INPUT = (224, 224, 3)
CIFAR_INPUT = (32, 32, 3)
CIFAR_WIDTHS = (16, 32, 64)


def _define(name: str, doc: str, input_shape: tuple[int, ...], **defaults) -> type[ResNet]:
  """Register a subclass of :class:`ResNet` whose field defaults are one published configuration."""
  annotations = {k: Any for k in defaults}
  namespace = {"__annotations__": annotations, "__doc__": doc, "__module__": __name__, **defaults}
  cls = type("".join(part.title() for part in name.split("_")), (ResNet,), namespace)
  globals()[cls.__name__] = cls
  return register(name, input_shape=input_shape)(cls)


for _depth, _sizes, _block in ((18, (2, 2, 2, 2), "basic"), (34, (3, 4, 6, 3), "basic"),
                               (50, (3, 4, 6, 3), "bottleneck"), (101, (3, 4, 23, 3), "bottleneck"),
                               (152, (3, 8, 36, 3), "bottleneck")):
  _define(f"resnet{_depth}", f"ResNet-{_depth} (He et al. 2016, torchvision layout).", IMAGENET_INPUT,
          stage_sizes=_sizes, block=_block)

_define("resnext50_32x4d", "ResNeXt-50 32x4d (Xie et al. 2017): cardinality 32, 4 channels per group.",
        IMAGENET_INPUT, stage_sizes=(3, 4, 6, 3), block="bottleneck", groups=32, width_per_group=4)
_define("resnext101_32x8d", "ResNeXt-101 32x8d (Xie et al. 2017): cardinality 32, 8 channels per group.",
        IMAGENET_INPUT, stage_sizes=(3, 4, 23, 3), block="bottleneck", groups=32, width_per_group=8)
_define("wide_resnet50_2", "Wide ResNet-50-2 (torchvision): ResNet-50 with twice-wider bottlenecks.",
        IMAGENET_INPUT, stage_sizes=(3, 4, 6, 3), block="bottleneck", width_per_group=128)
_define("wide_resnet101_2", "Wide ResNet-101-2 (torchvision): ResNet-101 with twice-wider bottlenecks.",
        IMAGENET_INPUT, stage_sizes=(3, 4, 23, 3), block="bottleneck", width_per_group=128)
_define("se_resnet50", "SE-ResNet-50 (Hu et al. 2018): squeeze-excitation (r = 16) on every block.",
        IMAGENET_INPUT, stage_sizes=(3, 4, 6, 3), block="bottleneck", se_reduction=SE_REDUCTION)
_define("preact_resnet50", "Pre-activation ResNet-50 (He et al., Identity Mappings, 2016) for ImageNet.",
        IMAGENET_INPUT, stage_sizes=(3, 4, 6, 3), block="bottleneck", preact=True)

_CIFAR = dict(stem="cifar", stem_width=16, widths=CIFAR_WIDTHS, num_classes=10)
# The 1000-layer networks scan their stages by default: tracing and compiling 1,200 blocks one by
# one takes minutes; the scanned network is the same function (tested on the smaller ones).
SCAN_BY_DEFAULT_DEPTH = 1000
for _depth in (20, 32, 44, 56, 110, 1202):
  _n = (_depth - 2) // 6
  _define(f"resnet{_depth}", f"CIFAR ResNet-{_depth} (He et al. 2016, section 4.2): 3 stages of {_n} basic "
          "blocks, option A shortcuts.", CIFAR_INPUT, stage_sizes=(_n, _n, _n), block="basic",
          shortcut="zero_pad", scan_blocks=_depth > SCAN_BY_DEFAULT_DEPTH, **_CIFAR)

_define("preact_resnet110", "Pre-activation CIFAR ResNet-110 (He et al., Identity Mappings, 2016).",
        CIFAR_INPUT, stage_sizes=(18, 18, 18), block="basic", preact=True, **_CIFAR)
for _depth in (164, 1001):
  _n = (_depth - 2) // 9
  _define(f"preact_resnet{_depth}", f"Pre-activation CIFAR ResNet-{_depth} (He et al., Identity Mappings, "
          "2016): bottleneck blocks.", CIFAR_INPUT, stage_sizes=(_n, _n, _n), block="bottleneck", preact=True,
          scan_blocks=_depth > SCAN_BY_DEFAULT_DEPTH, **_CIFAR)

for _depth, _k in ((16, 4), (16, 8), (28, 10), (40, 4)):
  _n = (_depth - 4) // 6
  _define(f"wrn{_depth}_{_k}", f"Wide ResNet WRN-{_depth}-{_k} (Zagoruyko and Komodakis 2016) for CIFAR: "
          f"pre-activation basic blocks of {16 * _k}/{32 * _k}/{64 * _k} filters.", CIFAR_INPUT,
          stage_sizes=(_n, _n, _n), block="basic", preact=True,
          widths=tuple(w * _k for w in CIFAR_WIDTHS), stem="cifar", stem_width=16, num_classes=10)
