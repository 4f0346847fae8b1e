"""I3D inflation (Carreira & Zisserman 2017; course notes chapter 12): turn a 2-D network into a
3-D one by replacing every 2-D convolution with a 3-D one whose ``t x k x k`` kernel starts as the
2-D kernel repeated ``t`` times over time and divided by ``t``.

On a "boring" clip (the same frame repeated) every inflated filter then sums ``t`` equal slices
weighted ``1/t``: the 3-D network reproduces the 2-D network's activations on that frame. Temporal
padding replicates the edge frames (``REPLICATE``), so this holds at the clip's ends too.

:class:`Inflated` works on any Flax 2-D network of the project whose convolutions are ``nn.Conv``
(or subclasses): it runs the network on the frames folded into the batch, and intercepts each
convolution to apply a 3-D kernel across the folded frames; every other layer (pooling with
temporal extent 1, batch norm, dense layers) acts per frame, and the per-frame class scores are
averaged over time. The 3-D kernels are free parameters (same paths as the 2-D network's, one more
axis, under ``net``), initialised from a 2-D network by :func:`inflate_variables`.
"""

from __future__ import annotations

import inspect
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
from flax.core import unfreeze

from cs231n_jax.models.registry import get_model
from cs231n_jax.video.layers import check_clips, same_pads, temporal_pad


def inflate_kernel(kernel: jax.Array, time: int) -> jax.Array:
  """(kh, kw, cin, cout) -> (time, kh, kw, cin, cout): repeated over time, divided by ``time``."""
  return jnp.repeat(kernel[None], time, axis=0) / time


def inflate_params(params: Any, time: int) -> Any:
  """Every 4-D ``kernel`` leaf of a 2-D network's parameters inflated; other leaves unchanged."""

  def go(tree):
    if isinstance(tree, dict):
      return {k: (inflate_kernel(v, time) if k == "kernel" and getattr(v, "ndim", 0) == 4 else go(v)) for k, v in tree.items()}
    return tree

  return go(unfreeze(params) if not isinstance(params, dict) else params)


def inflate_variables(variables: Any, time: int) -> Any:
  """A 2-D network's variables (every collection) as :class:`Inflated`'s: kernels inflated, each
  collection nested under the wrapper's ``net``."""
  variables = unfreeze(variables) if not isinstance(variables, dict) else variables
  return {col: {"net": inflate_params(tree, time) if col == "params" else tree} for col, tree in variables.items()}


def conv3d_for(module: nn.Conv, x: jax.Array, frames: int, time: int) -> jax.Array:
  """``module``'s convolution inflated to ``time`` frames on folded frames ``x`` (B·T, H, W, C)."""
  kh, kw = module.kernel_size
  cin = x.shape[-1]
  kernel = module.param("kernel", module.kernel_init, (time, kh, kw, cin // module.feature_group_count, module.features))
  strides = module.strides or (1, 1)
  strides = (strides, strides) if isinstance(strides, int) else tuple(strides)
  dilation = module.kernel_dilation or (1, 1)
  dilation = (dilation, dilation) if isinstance(dilation, int) else tuple(dilation)
  clip = temporal_pad(x.reshape(-1, frames, *x.shape[1:]), time, "REPLICATE")
  padding = module.padding
  if isinstance(padding, str):
    if padding == "SAME":
      spatial = [same_pads(x.shape[1], (kh - 1) * dilation[0] + 1, strides[0]),
                 same_pads(x.shape[2], (kw - 1) * dilation[1] + 1, strides[1])]
    elif padding == "VALID":
      spatial = [(0, 0), (0, 0)]
    else:
      raise ValueError(f"Inflated: padding {padding!r} of {module.name} is not supported")
  elif isinstance(padding, int):
    spatial = [(padding, padding)] * 2
  else:
    spatial = [(p, p) if isinstance(p, int) else tuple(p) for p in padding]
  y = jax.lax.conv_general_dilated(
      clip.astype(kernel.dtype), kernel, (1, *strides), [(0, 0), *spatial], rhs_dilation=(1, *dilation),
      dimension_numbers=("NTHWC", "THWIO", "NTHWC"), feature_group_count=module.feature_group_count)
  if module.use_bias:
    y = y + module.param("bias", module.bias_init, (module.features,))
  return y.reshape(-1, *y.shape[2:])


class Inflated(nn.Module):
  """A registered 2-D network (``base``, built with ``base_kwargs``) inflated to ``time`` frames;
  class scores averaged over the clip's frames."""

  base: str = "three_layer_convnet"
  base_kwargs: Any = None
  time: int = 3

  @nn.compact
  def __call__(self, x: jax.Array, train: bool = False) -> jax.Array:
    check_clips(x, 1, f"inflated {self.base}")
    b, frames = x.shape[:2]
    kwargs = dict(self.base_kwargs or {})
    net = type(get_model(self.base, **kwargs))(**kwargs, name="net")

    def interceptor(next_fun, args, kwargs, context):
      if isinstance(context.module, nn.Conv) and context.method_name == "__call__":
        return conv3d_for(context.module, args[0], frames, self.time)
      return next_fun(*args, **kwargs)

    takes_train = "train" in inspect.signature(type(net).__call__).parameters
    with nn.intercept_methods(interceptor):
      folded = x.reshape(b * frames, *x.shape[2:])
      out = net(folded, train=train) if takes_train else net(folded)
    return out.reshape(b, frames, *out.shape[1:]).mean(axis=1)
