"""The convolution and max pooling of ``nn.conv_pool.Conv`` / ``max_pool``, expressed so that XLA:CPU
runs them at full speed.

Both compute exactly what ``flax.linen.Conv`` / ``flax.linen.max_pool`` compute; they differ only
in how the computation is written down for XLA, after profiling the course's convnets on a 2-core
CPU (``docs/benchmarks.md``, "The CPU goal"):

- **Max-pool gradient.** XLA differentiates ``reduce_window(max)`` into ``select_and_scatter``,
  which XLA:CPU runs as a scalar loop: for a 2x2 pool over (128, 32, 32, 32) the backward pass took
  ~30x the forward pass. For non-overlapping windows (stride = window, the course's 2x2 pools) the
  tangent here is a masked sum over each window, with the mask at the *first* maximum in row-major
  window order -- the element ``select_and_scatter`` picks -- so gradients are bitwise equal,
  ties included, and about 4x faster. The mask reuses the forward pass's maximum (one reduction
  over the windows, not a second one for the mask: the ThreeLayerConvNet's step ~10% faster).
  Overlapping windows (3x3 stride 2) keep XLA's rule.
- **Odd input channels.** XLA:CPU's convolution takes a slow path when the input has an odd number
  of channels > 1 (an RGB image: 3): a 7x7 convolution of (128, 32, 32, 3) ran ~4x slower than the
  same convolution with one zero channel appended. ``Conv`` appends that zero channel (to the input
  and the kernel) in the forward pass; the parameters keep their published shape, and the
  derivatives are those of the unpadded convolution, so gradients are XLA's own.
- **The weight gradient's input.** XLA:CPU's weight-gradient convolution reads its input in
  (C, H, W, N) order, through a transposing copy into which XLA fuses -- recomputes, in transposed
  order -- the element-wise work that produced the input: in a ResNet, the batch norms, residual
  adds and ReLUs of a whole stage. Traced for the CPU, the tangent rule hands that convolution its
  input through an exact identity matmul (:func:`materialized`), which XLA:CPU does not fuse with
  its producers, so the copy is a plain transpose: a ResNet-56 training step went from ~2.6 s to
  ~1.45 s.
- **Gradients inside loops.** Outside loops XLA:CPU copies a convolution's operands into the
  layout of its fast kernel (NHWC by HWIO); inside a ``lax.scan`` body it does not, and the input
  and weight gradients autodiff derives ran on a generic path (a scanned ResNet-56 step: 52.9 s
  against 1.2 s unrolled). Traced for the CPU, the tangent rule transposes its operands explicitly
  so that both gradients are convolutions in that layout wherever they run (scanned: 1.85 s).

- **The kernels themselves.** Traced for the CPU, where :mod:`cs231n_jax.cpu.kernels` is built
  (a C++ compiler on the machine), the convolutions it supports run as its kernels instead, which
  make the three items above unnecessary for them; the items remain the path for everything else.

All rules are written as ``custom_jvp`` (not ``custom_vjp``) so forward-mode and higher-order
differentiation keep working. They apply only to functions traced for the CPU
(:func:`cs231n_jax.cpu.compiling_for`, set by the engine's step builders when their devices are
CPUs): traced anywhere else -- a user's ``jax.jit`` or ``jax.export``, for any platform -- ``Conv``
and ``max_pool`` are exactly ``flax.linen.Conv`` and ``flax.linen.max_pool``.
"""

from __future__ import annotations

import contextlib
import functools
from typing import Any, Callable, Iterator, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
from jax import lax
from jax.custom_derivatives import SymbolicZero

from cs231n_jax.cpu import jax_will_use_cpu, targets_cpu
from cs231n_jax.cpu import kernels as cpu_kernels

# The layers that use the CPU kernels import this module: where JAX will run on the CPU, start
# building the kernels now (once per machine, in the background), not inside the first trace.
if jax_will_use_cpu():
  cpu_kernels.build_in_background()


_rewrites = {"enabled": True}


@contextlib.contextmanager
def xla_default_lowering() -> Iterator[None]:
  """Within this context, ``Conv`` and ``max_pool`` trace as plain ``flax.linen.Conv`` / ``max_pool``
  and ``norms.BatchNorm`` as Flax's (no CPU kernels, :func:`cpu_kernels.disabled`): the benchmark's
  "before" variant, measured in the same run as the "after", and what XLA's cost analysis can count.

  The switch is read while tracing, and JAX caches traces by function: trace a function object
  here that was not traced outside (e.g. a fresh ``lambda *a: step(*a)``).
  """
  previous = _rewrites["enabled"]
  _rewrites["enabled"] = False
  try:
    with cpu_kernels.disabled():
      yield
  finally:
    _rewrites["enabled"] = previous


# ----------------------------------------------------------------------------- max pooling


def _windows(x: jax.Array, window: tuple[int, int]) -> jax.Array:
  """The NHWC ``x`` (H and W multiples of the window) as (N, H/kh, kh, W/kw, kw, C): a bitcast."""
  n, h, w, c = x.shape
  kh, kw = window
  return x.reshape(n, h // kh, kh, w // kw, kw, c)


def _first_max_mask(x6: jax.Array, pooled: jax.Array) -> jax.Array:
  """True at the first maximum (row-major over the window) of every window of ``x6`` (the windows
  of :func:`_windows`), given each window's maximum ``pooled`` (N, H/kh, W/kw, C)."""
  kh, kw = x6.shape[2], x6.shape[4]
  is_max = x6 == pooled[:, :, None, :, None, :]
  position = (jnp.arange(kh)[:, None] * kw + jnp.arange(kw)[None, :]).reshape(1, 1, kh, 1, kw, 1)
  first = jnp.where(is_max, position, kh * kw).min(axis=(2, 4), keepdims=True)
  return position == first


@functools.partial(jax.custom_jvp, nondiff_argnums=(1,))
def _tiled_max_pool(x: jax.Array, window: tuple[int, int]) -> jax.Array:
  # One reduction over the windows' axes; the tangent rule reuses it for its mask rather than
  # computing the maximum a second time (XLA:CPU would, each from its own copy of the input).
  return _windows(x, window).max(axis=(2, 4))


@_tiled_max_pool.defjvp
def _tiled_max_pool_jvp(window, primals, tangents):
  (x,), (t,) = primals, tangents
  pooled = _tiled_max_pool(x, window)
  mask = _first_max_mask(_windows(x, window), pooled)
  return pooled, jnp.where(mask, _windows(t, window), 0).sum(axis=(2, 4))


def max_pool(x: jax.Array, window_shape: Sequence[int], strides: Sequence[int] | None = None,
             padding: str | Sequence[tuple[int, int]] = "VALID") -> jax.Array:
  """``flax.linen.max_pool`` with the same arguments and results, and, traced for the CPU, a fast
  exact gradient for non-overlapping windows over NHWC images (see the module docstring)."""
  window = tuple(window_shape)
  strides = tuple(strides) if strides is not None else (1,) * len(window)
  unpadded = padding == "VALID" or (not isinstance(padding, str) and all(tuple(p) == (0, 0) for p in padding))
  if (not _rewrites["enabled"] or not targets_cpu() or x.ndim != 4 or len(window) != 2 or strides != window
      or not unpadded):
    return nn.max_pool(x, window, strides=strides, padding=padding)
  h, w = (x.shape[1] // window[0]) * window[0], (x.shape[2] // window[1]) * window[1]
  # VALID pooling ignores the rows / columns that do not fill a window; so does their gradient.
  return _tiled_max_pool(x[:, :h, :w], window)


# ----------------------------------------------------------------------------- convolution


def materialized(x: jax.Array, axis: int) -> jax.Array:
  """``x``, returned by an exact identity matmul over ``axis``: XLA:CPU keeps the element-wise work
  that produced ``x`` out of the copies that read it.

  XLA:CPU fuses cheap element-wise producers (batch norm, a residual add, ReLU) into every consumer
  and removes ``lax.optimization_barrier`` before fusion, so a transposing copy of ``x`` recomputes
  the whole element-wise chain behind it in transposed, cache-hostile order. XLA:CPU does not fuse
  element-wise producers into a dot. ``x @ I`` equals ``x`` for finite values (a zero's sign may
  flip to +0; an inf or NaN spreads over its row), in every precision since ``Precision.HIGHEST``
  keeps TPUs and GPUs from rounding the product."""
  eye = jnp.eye(x.shape[axis], dtype=x.dtype)
  out = jnp.tensordot(jnp.moveaxis(x, axis, -1), eye, axes=1, precision=lax.Precision.HIGHEST)
  return jnp.moveaxis(out, -1, axis)


def _input_tangent_for_cpu(conv_as: Callable[..., jax.Array], d_lhs: jax.Array, rhs: jax.Array,
                           dn: lax.ConvDimensionNumbers) -> jax.Array:
  """``conv(d_lhs, rhs)`` with the kernel's input and output dimensions swapped in memory, so that
  its transpose -- the input gradient -- is a convolution in XLA:CPU's own layout (NHWC by HWIO for
  Flax's convolutions). In a ``lax.scan`` body XLA:CPU does not copy a convolution's operands into
  that layout and runs the convolution on a generic slow path instead."""
  out_dim, in_dim = dn.rhs_spec[:2]
  perm = list(range(rhs.ndim))
  perm[out_dim], perm[in_dim] = in_dim, out_dim
  spec = lax.ConvDimensionNumbers(dn.lhs_spec, (in_dim, out_dim, *dn.rhs_spec[2:]), dn.out_spec)
  return conv_as(d_lhs, jnp.transpose(rhs, perm), dimension_numbers=spec)


def _weight_tangent_for_cpu(conv_as: Callable[..., jax.Array], lhs: jax.Array, d_rhs: jax.Array,
                            dn: lax.ConvDimensionNumbers) -> jax.Array:
  """``conv(lhs, d_rhs)``, written so that its transpose -- the weight gradient -- is a convolution
  in XLA:CPU's own layout: the input as (C, spatial..., N) read through :func:`materialized`, the
  kernel tangent as (I, spatial..., O), the output as (spatial..., N, C). The weight gradient then
  reads its input as a batch of C images of N features, and the output gradient as a
  (spatial..., N, O) kernel, both plain row-major arrays."""
  n_spatial = lhs.ndim - 2
  spatial = tuple(range(1, n_spatial + 1))
  lhs_t = jnp.transpose(materialized(lhs, dn.lhs_spec[1]), (dn.lhs_spec[1], *dn.lhs_spec[2:], dn.lhs_spec[0]))
  d_rhs_t = jnp.transpose(d_rhs, (dn.rhs_spec[1], *dn.rhs_spec[2:], dn.rhs_spec[0]))
  spec = lax.ConvDimensionNumbers(lhs_spec=(n_spatial + 1, 0, *spatial), rhs_spec=(n_spatial + 1, 0, *spatial),
                                  out_spec=(n_spatial, n_spatial + 1, *range(n_spatial)))
  y = conv_as(lhs_t, d_rhs_t, dimension_numbers=spec)
  back = [0] * y.ndim
  back[dn.out_spec[0]], back[dn.out_spec[1]] = n_spatial, n_spatial + 1
  for i, d in enumerate(dn.out_spec[2:]):
    back[d] = i
  return jnp.transpose(y, back)


def conv_general_dilated(lhs: jax.Array, rhs: jax.Array, window_strides: Sequence[int], padding: Any,
                         lhs_dilation: Sequence[int] | None = None, rhs_dilation: Sequence[int] | None = None,
                         dimension_numbers: Any = None, feature_group_count: int = 1, batch_group_count: int = 1,
                         precision: Any = None, preferred_element_type: Any = None) -> jax.Array:
  """``lax.conv_general_dilated`` (same arguments, values and derivatives), expressed for XLA:CPU
  when traced for the CPU (:func:`cs231n_jax.cpu.targets_cpu`); elsewhere ``lax.conv_general_dilated`` itself.

  Traced for the CPU, convolutions the library's kernels compute (2-D, Flax's NHWC x HWIO layout,
  float32 / float64, undilated, ungrouped) go to them (:mod:`cs231n_jax.cpu.kernels`: forward,
  input and weight gradient 1-3x faster than XLA:CPU's own). For the others, ungrouped: the forward
  pass appends a zero input channel when the input has an
  odd number of channels > 1, and the weight gradient reads its input through
  :func:`materialized`. In the profile of a ResNet-56 training step the weight gradients' input
  copies -- each recomputing a stage's residual stream, up to 159 fused instructions -- took 2.3 of
  5.4 thread-seconds (docs/benchmarks.md, "The CPU goal")."""
  conv_as = functools.partial(lax.conv_general_dilated, window_strides=window_strides, padding=padding,
                              lhs_dilation=lhs_dilation, rhs_dilation=rhs_dilation,
                              feature_group_count=feature_group_count, batch_group_count=batch_group_count,
                              precision=precision, preferred_element_type=preferred_element_type)
  conv = functools.partial(conv_as, dimension_numbers=dimension_numbers)
  # The copies, layouts and kernels this is about are XLA:CPU's: a function traced for another
  # platform (or without saying which) gets XLA's own convolution, as flax.linen.Conv writes it.
  if not _rewrites["enabled"] or not targets_cpu() or feature_group_count != 1 or batch_group_count != 1:
    return conv(lhs, rhs)
  dn = lax.conv_dimension_numbers(lhs.shape, rhs.shape, dimension_numbers)
  channels = lhs.shape[dn.lhs_spec[1]]
  odd = channels > 1 and channels % 2 == 1  # the slow path of XLA:CPU
  # The kernels carry their own derivatives (bilinear primitives); the rules below are for XLA's.
  if cpu_kernels.in_use() and cpu_kernels.supports(
      lhs, rhs, dn, lhs_dilation, rhs_dilation, feature_group_count, batch_group_count, preferred_element_type):
    pads = (lax.padtype_to_pads(lhs.shape[1:3], rhs.shape[:2], window_strides, padding)
            if isinstance(padding, str) else padding)
    return cpu_kernels.conv2d(lhs, rhs, window_strides, pads)

  def pad_channel(x: jax.Array, axis: int) -> jax.Array:
    widths = [(0, 0)] * x.ndim
    widths[axis] = (0, 1)
    return jnp.pad(x, widths)

  @jax.custom_jvp
  def rewritten(lhs, rhs):
    return conv(pad_channel(lhs, dn.lhs_spec[1]), pad_channel(rhs, dn.rhs_spec[1])) if odd else conv(lhs, rhs)

  def rewritten_jvp(primals, tangents):
    (lhs, rhs), (d_lhs, d_rhs) = primals, tangents
    out = rewritten(lhs, rhs)
    # The convolution is bilinear: its tangent is conv(d_lhs, rhs) + conv(lhs, d_rhs), written with
    # the unpadded convolution so that its transpose (the gradient) computes XLA's usual numbers, in
    # XLA:CPU's own layout (the two helpers above).
    terms = []
    if not isinstance(d_lhs, SymbolicZero):
      terms.append(_input_tangent_for_cpu(conv_as, d_lhs, rhs, dn))
    if not isinstance(d_rhs, SymbolicZero):
      terms.append(_weight_tangent_for_cpu(conv_as, lhs, d_rhs, dn))
    return out, functools.reduce(jnp.add, terms) if terms else jnp.zeros_like(out)

  rewritten.defjvp(rewritten_jvp, symbolic_zeros=True)
  return rewritten(lhs, rhs)
