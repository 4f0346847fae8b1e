"""Normalisation layers of lecture 7 (seed lines 7227-7392), and folding batch norm into a conv.

Which axes each layer averages over, in the slides' NCHW and in Flax's NHWC:

==============  ============================  =====================  ==========================
layer           statistics (slide, NCHW)      NHWC reduction axes    train / test
==============  ============================  =====================  ==========================
batch norm      mu, sigma: 1 x C x 1 x 1      (N, H, W)              batch stats / running avg
layer norm      mu, sigma: N x 1 x 1 x 1      (H, W, C)              same at train and test
instance norm   mu, sigma: N x C x 1 x 1      (H, W)                 same at train and test
group norm      mu, sigma: N x G x 1 x 1      (H, W, C/G) per group  same at train and test
==============  ============================  =====================  ==========================

The learned scale and shift (gamma, beta) are per channel (1 x C x 1 x 1) in every case. Group
norm (Wu and He 2018; the slide has only its title) splits the C channels into G groups: G = 1 is
layer norm over (H, W, C) and G = C is instance norm. :func:`make_norm` builds any of them with
Flax's own layers (``nn.BatchNorm``, ``nn.LayerNorm``, ``nn.InstanceNorm``, ``nn.GroupNorm``); the
tests check each against these formulas.

**Folding batch norm into the preceding convolution** ("zero overhead at test-time: can be fused
with conv", course notes L511-522). At inference BN is a fixed per-channel affine map
``y = gamma (z - mean) / sqrt(var + eps) + beta`` of the conv output ``z = W * x + b``, so it can be
absorbed into the conv: with ``s = gamma / sqrt(var + eps)``, ``W' = W s`` (scaling each output
channel) and ``b' = (b - mean) s + beta``. :func:`fold_batch_norm` does this;
:class:`ConvBN` and :func:`fold_conv_bn` apply it to a conv + BN block.
"""

from __future__ import annotations

from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from cs231n_jax.cpu import kernels as cpu_kernels
from cs231n_jax.cpu import targets_cpu
from cs231n_jax.nn.conv_pool import Conv

NORMS = ("none", "batch", "layer", "instance", "group")
BN_MOMENTUM = 0.9  # the course's running = momentum * running + (1 - momentum) * batch
NORM_EPSILON = 1e-5
DEFAULT_GROUPS = 4


def make_norm(name: str, train: bool, num_groups: int = DEFAULT_GROUPS, bn_axis_name: str | None = None,
              epsilon: float = NORM_EPSILON, module_name: str | None = None):
  """The normalisation layer ``name`` (one of :data:`NORMS`) for NHWC or (N, D) inputs.

  Returns a callable (a Flax module called ``module_name``, or the identity for ``"none"``); create
  it inside a compact ``__call__``.
  """
  if name == "none":
    return lambda x: x
  if name == "batch":
    return BatchNorm(use_running_average=not train, momentum=BN_MOMENTUM, epsilon=epsilon, axis_name=bn_axis_name,
                     name=module_name)
  if name == "layer":
    return LayerNorm(epsilon=epsilon, name=module_name)
  if name == "instance":
    return nn.InstanceNorm(epsilon=epsilon, name=module_name)
  if name == "group":
    return nn.GroupNorm(num_groups=num_groups, epsilon=epsilon, name=module_name)
  raise ValueError(f"normalization: expected one of {NORMS}, got {name!r}")


class BatchNorm(nn.BatchNorm):
  """Flax's ``nn.BatchNorm`` (same fields, variables and results), optionally followed by a residual
  add and a ReLU -- ``relu(bn(x) + residual)``, the end of a residual block -- with training-mode
  steps on the CPU computed by the library's kernels.

  Traced for the CPU (:func:`cs231n_jax.cpu.compiling_for`, which the engine's step builders set when
  their devices are CPUs) with :func:`cpu_kernels.in_use`, a training-mode call on float32 / float64
  input over the last (channel) axis with learned scale and bias, no mask and no ``axis_name`` goes
  to :func:`cpu_kernels.batch_norm`: batch norm, residual add and ReLU in two passes over the
  activation forward and two backward, instead of XLA's ~10 (docs/benchmarks.md, "The CPU goal",
  item 12). Its variance is the two-pass one (Flax's default ``use_fast_variance`` is
  E[x^2] - E[x]^2), so float32 results differ from Flax's by rounding. Every other call is
  Flax's own layer, then the add and the ReLU.
  """

  relu: bool = False

  @nn.compact
  def __call__(self, x, use_running_average: bool | None = None, *, mask: jax.Array | None = None,
               residual: jax.Array | None = None):
    running = nn.merge_param("use_running_average", self.use_running_average, use_running_average)
    if residual is not None and residual.shape != x.shape:
      raise ValueError(f"residual: expected the input's shape {x.shape}, got {residual.shape}")
    if running or mask is not None or not self._kernel_applies(x, residual):
      y = super().__call__(x, use_running_average, mask=mask)
      y = y if residual is None else y + residual
      return nn.relu(y) if self.relu else y
    features = (x.shape[-1],)
    ra_mean = self.variable("batch_stats", "mean", lambda s: jnp.zeros(s, self._stats_dtype()), features)
    ra_var = self.variable("batch_stats", "var", lambda s: jnp.ones(s, self._stats_dtype()), features)
    scale = self.param("scale", self.scale_init, features, self.param_dtype)
    bias = self.param("bias", self.bias_init, features, self.param_dtype)
    y, mean, var = cpu_kernels.batch_norm(x, scale, bias, self.epsilon, self.relu, residual)
    ra_mean.value = self.momentum * ra_mean.value + (1 - self.momentum) * mean
    ra_var.value = self.momentum * ra_var.value + (1 - self.momentum) * var
    return y

  def _stats_dtype(self):
    return jnp.float32 if self.force_float32_reductions else self.param_dtype

  def _kernel_applies(self, x: jax.Array, residual: jax.Array | None) -> bool:
    return (not self.is_initializing() and self.axis_name is None and self.axis in (-1, x.ndim - 1)
            and self.use_bias and self.use_scale and np.dtype(x.dtype) in cpu_kernels.SUPPORTED_DTYPES
            and np.dtype(self.param_dtype) == x.dtype and self.dtype in (None, x.dtype)
            and all(self.get_variable("params", name).dtype == x.dtype  # as given, not as declared
                    for name in ("scale", "bias") if self.has_variable("params", name))
            and (residual is None or residual.dtype == x.dtype)
            and targets_cpu() and cpu_kernels.in_use())


class LayerNorm(nn.Module):
  """Layer norm as on the slide: statistics over every axis but the batch (N x 1 x 1 x 1), scale and
  shift per channel. (Flax's ``nn.LayerNorm`` reduces over the last axis only by default, which for
  NHWC images would be a per-pixel normalisation over channels.)"""

  epsilon: float = NORM_EPSILON

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    return nn.LayerNorm(epsilon=self.epsilon, reduction_axes=tuple(range(1, x.ndim)), feature_axes=-1)(x)


def fold_batch_norm(kernel: jax.Array, bias: jax.Array | None, scale: jax.Array, offset: jax.Array,
                    mean: jax.Array, var: jax.Array, epsilon: float = NORM_EPSILON) -> tuple[jax.Array, jax.Array]:
  """The conv (or dense) ``(kernel', bias')`` equal to conv followed by inference-mode BN.

  ``kernel`` has the output channels last (Flax's HWIO / (in, out)); ``scale`` / ``offset`` are BN's
  gamma / beta, ``mean`` / ``var`` its running statistics.
  """
  out = kernel.shape[-1]
  for name, v in (("scale", scale), ("offset", offset), ("mean", mean), ("var", var)):
    if v.shape != (out,):
      raise ValueError(f"{name}: expected shape ({out},) to match the kernel's output channels, got {v.shape}")
  s = scale / jnp.sqrt(var + epsilon)
  b = jnp.zeros((out,), kernel.dtype) if bias is None else bias
  return kernel * s, (b - mean) * s + offset


class ConvBN(nn.Module):
  """Conv -> batch norm (-> ReLU), or, with ``fused=True``, the single conv that inference folds it into.

  Build the fused twin with ``ConvBN(..., fused=True)`` and convert the trained variables with
  :func:`fold_conv_bn`; the outputs agree with the unfused block in eval mode.
  """

  features: int
  kernel_size: tuple[int, int] = (3, 3)
  strides: tuple[int, int] = (1, 1)
  use_bias: bool = False  # the usual choice before BN (BN's beta makes it redundant)
  relu: bool = True
  fused: bool = False
  bn_axis_name: str | None = None

  @nn.compact
  def __call__(self, x: jax.Array, *, train: bool = False) -> jax.Array:
    if self.fused:
      x = Conv(self.features, self.kernel_size, self.strides, padding="SAME", use_bias=True, name="conv")(x)
    else:
      x = Conv(self.features, self.kernel_size, self.strides, padding="SAME", use_bias=self.use_bias, name="conv")(x)
      x = make_norm("batch", train, bn_axis_name=self.bn_axis_name, module_name="bn")(x)
    return nn.relu(x) if self.relu else x


def fold_conv_bn(variables: Any, epsilon: float = NORM_EPSILON) -> Any:
  """Variables of ``ConvBN(fused=False)`` (anywhere in a model's tree) -> those of its fused twin.

  Every sub-tree holding ``{"conv": ..., "bn": ...}`` params with matching ``batch_stats["bn"]``
  is replaced by a ``{"conv": {"kernel", "bias"}}`` with BN folded in; the rest is copied. The
  result has only ``params`` for the folded blocks (no ``batch_stats`` left to update).
  """
  params, stats = variables["params"], variables.get("batch_stats", {})

  def fold(p, s):
    if isinstance(p, dict) and "conv" in p and "bn" in p and "bn" in s:
      kernel, bias = fold_batch_norm(p["conv"]["kernel"], p["conv"].get("bias"), p["bn"]["scale"], p["bn"]["bias"],
                                     s["bn"]["mean"], s["bn"]["var"], epsilon)
      return {"conv": {"kernel": kernel, "bias": bias}}, None
    if isinstance(p, dict):
      new_p, new_s = {}, {}
      for k, v in p.items():
        fp, fs = fold(v, s.get(k, {}) if isinstance(s, dict) else {})
        new_p[k] = fp
        if fs:
          new_s[k] = fs
      leftover = {k: v for k, v in (s.items() if isinstance(s, dict) else []) if k not in p}
      new_s.update(leftover)
      return new_p, new_s
    return p, s

  new_params, new_stats = fold(_as_dict(params), _as_dict(stats))
  out = {"params": new_params}
  if new_stats:
    out["batch_stats"] = new_stats
  return out


def _as_dict(tree: Any) -> Any:
  if hasattr(tree, "items"):
    return {k: _as_dict(v) for k, v in tree.items()}
  return tree
