"""Sandwich layers: common stacks of layers as one forward/backward pair (the course's
``layer_utils.py``). The backward pass of a stack is the backward passes of its parts in reverse
order -- backpropagation is "recursive application of the chain rule along a computational graph".
Convolutions and pooling use the fast im2col versions.
"""

from __future__ import annotations

from cs231n_jax.layers.core import affine_backward, affine_forward, relu_backward, relu_forward
from cs231n_jax.layers.fast import (
    conv_backward_fast,
    conv_forward_fast,
    max_pool_backward_fast,
    max_pool_forward_fast,
)
from cs231n_jax.layers.normalization import (
    batchnorm_backward_alt,
    batchnorm_forward,
    layernorm_backward,
    layernorm_forward,
    spatial_batchnorm_backward,
    spatial_batchnorm_forward,
)
from cs231n_jax.layers.precision import follows_input_precision


@follows_input_precision
def affine_relu_forward(x, w, b):
  """affine -> ReLU. Returns (out, cache)."""
  a, fc_cache = affine_forward(x, w, b)
  out, relu_cache = relu_forward(a)
  return out, (fc_cache, relu_cache)


@follows_input_precision
def affine_relu_backward(dout, cache):
  """Returns (dx, dw, db)."""
  fc_cache, relu_cache = cache
  return affine_backward(relu_backward(dout, relu_cache), fc_cache)


@follows_input_precision
def affine_bn_relu_forward(x, w, b, gamma, beta, bn_param: dict):
  """affine -> batch norm -> ReLU (batch norm "after fully connected layers, before the
  nonlinearity", lecture 6). Returns (out, cache); updates ``bn_param`` in place."""
  a, fc_cache = affine_forward(x, w, b)
  an, bn_cache = batchnorm_forward(a, gamma, beta, bn_param)
  out, relu_cache = relu_forward(an)
  return out, (fc_cache, bn_cache, relu_cache)


@follows_input_precision
def affine_bn_relu_backward(dout, cache):
  """Returns (dx, dw, db, dgamma, dbeta)."""
  fc_cache, bn_cache, relu_cache = cache
  dan = relu_backward(dout, relu_cache)
  da, dgamma, dbeta = batchnorm_backward_alt(dan, bn_cache)
  dx, dw, db = affine_backward(da, fc_cache)
  return dx, dw, db, dgamma, dbeta


@follows_input_precision
def affine_ln_relu_forward(x, w, b, gamma, beta, ln_param: dict | None = None):
  """affine -> layer norm -> ReLU. Returns (out, cache)."""
  a, fc_cache = affine_forward(x, w, b)
  an, ln_cache = layernorm_forward(a, gamma, beta, ln_param)
  out, relu_cache = relu_forward(an)
  return out, (fc_cache, ln_cache, relu_cache)


@follows_input_precision
def affine_ln_relu_backward(dout, cache):
  """Returns (dx, dw, db, dgamma, dbeta)."""
  fc_cache, ln_cache, relu_cache = cache
  dan = relu_backward(dout, relu_cache)
  da, dgamma, dbeta = layernorm_backward(dan, ln_cache)
  dx, dw, db = affine_backward(da, fc_cache)
  return dx, dw, db, dgamma, dbeta


@follows_input_precision
def conv_relu_forward(x, w, b, conv_param: dict):
  """conv -> ReLU. Returns (out, cache)."""
  a, conv_cache = conv_forward_fast(x, w, b, conv_param)
  out, relu_cache = relu_forward(a)
  return out, (conv_cache, relu_cache)


@follows_input_precision
def conv_relu_backward(dout, cache):
  """Returns (dx, dw, db)."""
  conv_cache, relu_cache = cache
  return conv_backward_fast(relu_backward(dout, relu_cache), conv_cache)


@follows_input_precision
def conv_bn_relu_forward(x, w, b, gamma, beta, conv_param: dict, bn_param: dict):
  """conv -> spatial batch norm -> ReLU. Returns (out, cache); updates ``bn_param`` in place."""
  a, conv_cache = conv_forward_fast(x, w, b, conv_param)
  an, bn_cache = spatial_batchnorm_forward(a, gamma, beta, bn_param)
  out, relu_cache = relu_forward(an)
  return out, (conv_cache, bn_cache, relu_cache)


@follows_input_precision
def conv_bn_relu_backward(dout, cache):
  """Returns (dx, dw, db, dgamma, dbeta)."""
  conv_cache, bn_cache, relu_cache = cache
  dan = relu_backward(dout, relu_cache)
  da, dgamma, dbeta = spatial_batchnorm_backward(dan, bn_cache)
  dx, dw, db = conv_backward_fast(da, conv_cache)
  return dx, dw, db, dgamma, dbeta


@follows_input_precision
def conv_relu_pool_forward(x, w, b, conv_param: dict, pool_param: dict):
  """conv -> ReLU -> max pool. Returns (out, cache)."""
  a, conv_cache = conv_forward_fast(x, w, b, conv_param)
  s, relu_cache = relu_forward(a)
  out, pool_cache = max_pool_forward_fast(s, pool_param)
  return out, (conv_cache, relu_cache, pool_cache)


@follows_input_precision
def conv_relu_pool_backward(dout, cache):
  """Returns (dx, dw, db)."""
  conv_cache, relu_cache, pool_cache = cache
  ds = max_pool_backward_fast(dout, pool_cache)
  da = relu_backward(ds, relu_cache)
  return conv_backward_fast(da, conv_cache)
