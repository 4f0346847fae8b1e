"""The convolution and max-pool layers of the project's models: ``Conv`` is ``flax.linen.Conv`` and
``max_pool`` is ``flax.linen.max_pool`` (same fields, parameters and results). Traced for the CPU
(:func:`cs231n_jax.cpu.compiling_for`, which the engine's step builders set when their devices are
CPUs) they run as :mod:`cs231n_jax.cpu.rewrites` writes them for XLA:CPU; traced anywhere else they
are Flax's own."""

from __future__ import annotations

from typing import Any

import flax.linen as nn
import jax

from cs231n_jax.cpu.rewrites import conv_general_dilated, max_pool

__all__ = ["Conv", "max_pool"]


class _ConvGeneralDilated:
  """:func:`conv_general_dilated` as Flax's ``conv_general_dilated_cls`` wants it: a class whose
  instances are called with ``lax.conv_general_dilated``'s arguments."""

  def __call__(self, *args, **kwargs) -> jax.Array:
    return conv_general_dilated(*args, **kwargs)


class Conv(nn.Conv):
  """``flax.linen.Conv`` (same fields, parameters and results), computed by
  :func:`cs231n_jax.cpu.rewrites.conv_general_dilated`.

  It sets Flax's ``conv_general_dilated_cls`` field (a class whose instances are called like
  ``lax.conv_general_dilated``; not the deprecated ``conv_general_dilated`` field);
  ``tests/nn/test_conv_pool.py`` checks that the padding happens when traced for the CPU.
  """

  conv_general_dilated_cls: Any = _ConvGeneralDilated
