"""Building blocks shared by the CNN families of lecture 9 (NHWC, Flax Linen).

Two conventions hold in every family so that published parameter counts and PyTorch/Caffe weights
carry over exactly:

- **Explicit symmetric padding.** PyTorch and Caffe pad ``p`` pixels on both sides. Flax's
  ``"SAME"`` pads asymmetrically for stride 2 on even inputs, which would shift every strided
  layer by one pixel relative to a converted model, so the families pass ``((p, p), (p, p))``.
- **Mixed precision.** Every model has a compute ``dtype`` (``jnp.bfloat16`` for bf16 training)
  and a ``param_dtype`` (float32): parameters and optimizer state stay float32, activations are
  computed in ``dtype``, batch-norm statistics are reduced in float32 (Flax's
  ``force_float32_reductions``), and logits are returned in float32 (:func:`logits_f32`) so the
  loss is computed in full precision.
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from cs231n_jax.nn.conv_pool import Conv
from cs231n_jax.nn.conv_pool import max_pool as tiled_max_pool
from cs231n_jax.nn.norms import BatchNorm

Dtype = Any

# PyTorch's BatchNorm2d defaults. Flax's ``momentum`` is the decay of the running average
# (running = momentum * running + (1 - momentum) * batch), i.e. 1 - PyTorch's momentum 0.1.
BN_MOMENTUM = 0.9
BN_EPSILON = 1e-5

# He et al. (2015) initialisation for ReLU networks, on the fan-out as torchvision's ResNet uses.
he_fan_out = nn.initializers.variance_scaling(2.0, "fan_out", "normal")


def pad2(p: int) -> tuple[tuple[int, int], tuple[int, int]]:
  """Symmetric padding of ``p`` pixels on each side of H and W (PyTorch / Caffe semantics)."""
  return ((p, p), (p, p))


def check_images(x: jnp.ndarray, model: str, channels: int | None = None) -> None:
  """A clear error for inputs that are not NHWC image batches."""
  if x.ndim != 4:
    raise ValueError(f"images: {model} expects NHWC images of shape (N, H, W, C), got shape {tuple(x.shape)}")
  if channels is not None and x.shape[-1] != channels:
    raise ValueError(f"images: {model} expects {channels} channels (NHWC), got shape {tuple(x.shape)}")


def logits_f32(x: jnp.ndarray) -> jnp.ndarray:
  """Logits leave the model in float32 whatever the compute dtype, so losses are full precision."""
  return x.astype(jnp.float32)


def pool_output_size(size: int, window: int, stride: int, pad: int, ceil_mode: bool) -> int:
  """Output length of a pooling window, with PyTorch's / Caffe's ``ceil_mode`` rule.

  In ceil mode the last window may hang over the right edge, but it must start inside the input
  (or its left padding); PyTorch drops a window that would start in the right padding.
  """
  span = size + 2 * pad - window
  if span < 0:
    raise ValueError(f"pooling: window {window} is larger than the padded input {size + 2 * pad}")
  out = (math.ceil(span / stride) if ceil_mode else span // stride) + 1
  if ceil_mode and (out - 1) * stride >= size + pad:
    out -= 1
  return out


def max_pool(x: jnp.ndarray, window: int, stride: int, pad: int = 0, ceil_mode: bool = False) -> jnp.ndarray:
  """Max pooling over H and W with PyTorch's ``MaxPool2d(window, stride, pad, ceil_mode)`` semantics.

  Padding is -inf (never selected). ``ceil_mode=True`` (used by GoogLeNet, SqueezeNet, NiN,
  ZFNet — the Caffe default) extends the right/bottom padding just enough for the extra window.
  """
  pads = []
  for size in x.shape[1:3]:
    out = pool_output_size(size, window, stride, pad, ceil_mode)
    extra = max((out - 1) * stride + window - (size + 2 * pad), 0)
    pads.append((pad, pad + extra))
  return tiled_max_pool(x, (window, window), strides=(stride, stride), padding=tuple(pads))


def avg_pool(x: jnp.ndarray, window: int, stride: int, pad: int = 0) -> jnp.ndarray:
  """Average pooling that counts padded zeros, as PyTorch's ``AvgPool2d`` default does."""
  return nn.avg_pool(x, (window, window), strides=(stride, stride), padding=pad2(pad), count_include_pad=True)


def global_avg_pool(x: jnp.ndarray) -> jnp.ndarray:
  """(N, H, W, C) -> (N, C): the average over all positions, reduced in float32."""
  return jnp.mean(x.astype(jnp.float32), axis=(1, 2)).astype(x.dtype)


def adaptive_pool_matrix(in_size: int, out_size: int) -> np.ndarray:
  """The (out, in) averaging matrix of PyTorch's ``AdaptiveAvgPool`` along one axis.

  Output bin ``i`` averages inputs ``floor(i * in / out)`` to ``ceil((i + 1) * in / out)`` (exclusive);
  the bins overlap when ``in`` is not a multiple of ``out`` and repeat inputs when ``in < out``.
  """
  m = np.zeros((out_size, in_size), np.float32)
  for i in range(out_size):
    start = (i * in_size) // out_size
    end = -((-(i + 1) * in_size) // out_size)
    m[i, start:end] = 1.0 / (end - start)
  return m


def adaptive_avg_pool(x: jnp.ndarray, output_size: tuple[int, int]) -> jnp.ndarray:
  """PyTorch's ``AdaptiveAvgPool2d(output_size)`` for NHWC input.

  VGG and torchvision's AlexNet pool to a fixed 7x7 / 6x6 grid before their first FC layer, so the
  classifier has the published size for any input resolution. When the input already has the
  output size this is the identity (skipped, so no work is added).
  """
  h, w = x.shape[1:3]
  oh, ow = output_size
  if (h, w) == (oh, ow):
    return x
  ph = jnp.asarray(adaptive_pool_matrix(h, oh), x.dtype)
  pw = jnp.asarray(adaptive_pool_matrix(w, ow), x.dtype)
  return jnp.einsum("oh,nhwc,pw->nopc", ph, x, pw)


def flatten(x: jnp.ndarray) -> jnp.ndarray:
  """(N, H, W, C) -> (N, H*W*C) in NHWC order.

  PyTorch flattens NCHW maps in (C, H, W) order, so the first FC layer after a flatten needs its
  input rows permuted when weights are converted (``cs231n_jax.convert`` does this).
  """
  return x.reshape(x.shape[0], -1)


class LocalResponseNorm(nn.Module):
  """Local response normalisation across channels (Krizhevsky et al. 2012, section 3.3).

  ``b[c] = a[c] / (k + alpha * sum_{c' in window(c)} a[c']**2) ** beta`` with a window of ``size``
  channels centred on ``c`` (zero beyond the ends). This is the paper's formula: Caffe and
  ``torch.nn.LocalResponseNorm`` divide ``alpha`` by ``size``, so their ``alpha`` is
  ``size`` times this one. The defaults are the paper's (n = 5, k = 2, alpha = 1e-4, beta = 0.75).
  No parameters.
  """

  size: int = 5
  k: float = 2.0
  alpha: float = 1e-4
  beta: float = 0.75

  @nn.compact
  def __call__(self, x: jnp.ndarray) -> jnp.ndarray:
    sq = jnp.square(x.astype(jnp.float32))
    # The window centred on c: size // 2 channels before, (size - 1) // 2 after (as PyTorch).
    window_sum = jax.lax.reduce_window(
        sq, 0.0, jax.lax.add, (1, 1, 1, self.size), (1, 1, 1, 1),
        ((0, 0), (0, 0), (0, 0), (self.size // 2, (self.size - 1) // 2)))
    out = x.astype(jnp.float32) / jnp.power(self.k + self.alpha * window_sum, self.beta)
    return out.astype(x.dtype)


class ConvBN(nn.Module):
  """conv (no bias) -> batch norm -> optional ReLU: the unit of every batch-norm CNN here.

  The convolution has no bias because the batch norm's shift makes it redundant (this is also why
  the published parameter counts of ResNet, DenseNet, ... have none).
  """

  features: int
  kernel_size: int
  strides: int = 1
  padding: int = 0
  groups: int = 1
  relu: bool = True
  bn_epsilon: float = BN_EPSILON
  zero_init_scale: bool = False
  dtype: Dtype = jnp.float32
  param_dtype: Dtype = jnp.float32
  bn_axis_name: str | None = None

  @nn.compact
  def __call__(self, x: jnp.ndarray, train: bool) -> jnp.ndarray:
    x = Conv(self.features, (self.kernel_size, self.kernel_size), strides=self.strides,
                padding=pad2(self.padding), feature_group_count=self.groups, use_bias=False,
                kernel_init=he_fan_out, dtype=self.dtype, param_dtype=self.param_dtype, name="conv")(x)
    return batch_norm(self, train, name="bn", epsilon=self.bn_epsilon, zero_init=self.zero_init_scale,
                      relu=self.relu)(x)


def batch_norm(module: nn.Module, train: bool, name: str | None = None, epsilon: float = BN_EPSILON,
               zero_init: bool = False, relu: bool = False) -> BatchNorm:
  """A batch norm (then a ReLU if ``relu``) configured from ``module``'s ``dtype``, ``param_dtype``
  and ``bn_axis_name``: :class:`cs231n_jax.nn.norms.BatchNorm`, Flax's layer whose training steps
  run on the library's CPU kernels, the ReLU fused into them.

  ``bn_axis_name`` names the pmap axis to average batch statistics over (synchronised batch norm);
  under ``jax.jit`` with a sharded batch the statistics are global already and it stays ``None``.
  ``zero_init`` starts the scale at 0 (Goyal et al. 2017, the last BN of a residual branch).
  """
  return BatchNorm(
      use_running_average=not train, momentum=BN_MOMENTUM, epsilon=epsilon, dtype=module.dtype,
      param_dtype=module.param_dtype, axis_name=module.bn_axis_name,
      scale_init=nn.initializers.zeros if zero_init else nn.initializers.ones, relu=relu, name=name)


def dense(module: nn.Module, features: int, name: str, kernel_init=nn.initializers.lecun_normal()) -> nn.Dense:
  """A fully-connected layer in ``module``'s compute / parameter dtypes."""
  return nn.Dense(features, kernel_init=kernel_init, dtype=module.dtype, param_dtype=module.param_dtype, name=name)


def conv(module: nn.Module, features: int, kernel_size: int, name: str, strides: int = 1, padding: int = 0,
         use_bias: bool = True, groups: int = 1, kernel_init=he_fan_out) -> nn.Conv:
  """A convolution with symmetric (PyTorch) padding in ``module``'s compute / parameter dtypes."""
  return Conv(features, (kernel_size, kernel_size), strides=strides, padding=pad2(padding),
                 feature_group_count=groups, use_bias=use_bias, kernel_init=kernel_init,
                 dtype=module.dtype, param_dtype=module.param_dtype, name=name)


def check_positive(name: str, value: float) -> None:
  if value <= 0:
    raise ValueError(f"model.{name}: expected a positive value, got {value}")


def check_probability(name: str, value: float) -> None:
  if not 0.0 <= value < 1.0:
    raise ValueError(f"model.{name}: expected a drop probability in [0, 1), got {value}")


def check_sequence(name: str, values: Sequence[Any], length: int | None = None) -> None:
  if length is not None and len(values) != length:
    raise ValueError(f"model.{name}: expected {length} values, got {len(values)} ({tuple(values)})")


class MaxPool(nn.Module):
  """:func:`max_pool` as a named layer, so per-layer tables (``analysis.layer_outputs``) list it."""

  window: int
  stride: int
  pad: int = 0
  ceil_mode: bool = False

  @nn.compact
  def __call__(self, x: jnp.ndarray) -> jnp.ndarray:
    return max_pool(x, self.window, self.stride, self.pad, self.ceil_mode)


class AdaptiveAvgPool(nn.Module):
  """:func:`adaptive_avg_pool` as a named layer."""

  output_size: tuple[int, int]

  @nn.compact
  def __call__(self, x: jnp.ndarray) -> jnp.ndarray:
    return adaptive_avg_pool(x, tuple(self.output_size))
