"""Differentiable versions of the course layers whose gradient IS the hand-written backward pass.

Each function here returns only the forward output (no cache) and is wrapped in
``jax.custom_vjp``: its forward rule runs ``*_forward`` and keeps the cache as the residual, its
backward rule runs ``*_backward``. So a model written with these functions trains under
``jax.grad`` / ``jax.value_and_grad`` (and composes with ``jit``, ``vmap``, optax) while every
gradient still comes from the equations in this package, not from autodiff. The tests check that
``jax.grad`` of such a model equals the course-contract model's ``loss`` gradients.

Arguments split into arrays (differentiable, or at least traced: labels, PRNG keys, running
averages) and static hyperparameters (strides, pads, modes, eps, ...), which are Python values.
Gradients with respect to non-float arrays (labels, keys) and running averages are zero.
"""

from __future__ import annotations

from typing import Any, Callable

import jax
import numpy as np

from cs231n_jax.layers import conv, core, fast, layer_utils, losses, normalization
from cs231n_jax.layers import dropout as dropout_lib


def _is_residual(leaf: Any) -> bool:
  return isinstance(leaf, (jax.Array, np.ndarray))


def hand_written_vjp(
    forward: Callable[..., tuple[Any, Any]],
    backward: Callable[[Any, Any], Any],
    num_arrays: int,
) -> Callable[..., Any]:
  """``f(*arrays, *static) = forward(*arrays, *static)[0]``, differentiated by ``backward``.

  ``forward`` returns (out, cache); ``backward(dout, cache)`` returns the gradients of the first
  arrays (a tuple, or a single array); missing trailing gradients are zero. Only the array leaves
  of the cache become custom_vjp residuals; its Python leaves (modes, strides, eps) are kept by the
  closure of the call that made them.
  """

  def apply(*args):
    arrays, static = args[:num_arrays], args[num_arrays:]
    layout: dict[str, Any] = {}

    @jax.custom_vjp
    def f(*arrays):
      return forward(*arrays, *static)[0]

    def f_fwd(*arrays):
      out, cache = forward(*arrays, *static)
      leaves, treedef = jax.tree.flatten(cache)
      layout["treedef"] = treedef
      layout["static"] = [None if _is_residual(leaf) else leaf for leaf in leaves]
      return out, [leaf for leaf in leaves if _is_residual(leaf)]

    def f_bwd(residuals, dout):
      it = iter(residuals)
      leaves = [next(it) if s is None else s for s in layout["static"]]
      grads = backward(dout, jax.tree.unflatten(layout["treedef"], leaves))
      grads = tuple(grads) if isinstance(grads, (tuple, list)) else (grads,)
      return grads + (None,) * (num_arrays - len(grads))

    f.defvjp(f_fwd, f_bwd)
    return f(*arrays)

  apply.__wrapped_forward__ = forward  # type: ignore[attr-defined]
  return apply


def _with_doc(fn, doc: str):
  fn.__doc__ = doc
  return fn


# --- affine and activations ------------------------------------------------------------------

affine = _with_doc(hand_written_vjp(core.affine_forward, core.affine_backward, 3), "affine(x, w, b) -> out")
relu = _with_doc(hand_written_vjp(core.relu_forward, core.relu_backward, 1), "relu(x) -> out")
leaky_relu = _with_doc(
    hand_written_vjp(core.leaky_relu_forward, core.leaky_relu_backward, 1),
    "leaky_relu(x, alpha=0.01) -> out (alpha static)",
)
sigmoid = _with_doc(hand_written_vjp(core.sigmoid_forward, core.sigmoid_backward, 1), "sigmoid(x) -> out")
tanh = _with_doc(hand_written_vjp(core.tanh_forward, core.tanh_backward, 1), "tanh(x) -> out")
elu = _with_doc(hand_written_vjp(core.elu_forward, core.elu_backward, 1), "elu(x, alpha=1.0) -> out (alpha static)")
maxout = _with_doc(hand_written_vjp(core.maxout_forward, core.maxout_backward, 3), "maxout(x, w, b) -> out")


def leaky_relu_default(x):
  """Leaky ReLU with the lecture's slope 0.01."""
  return leaky_relu(x, core.LEAKY_RELU_SLOPE)


# --- losses: the course's loss layers return (loss, dx) from one function ---------------------


def _loss_pair(loss_layer):
  def forward(x, y):
    loss, dx = loss_layer(x, y)
    return loss, dx

  def backward(dloss, dx):
    return (dloss * dx, None)

  return forward, backward


softmax_loss_value = _with_doc(
    hand_written_vjp(*_loss_pair(losses.softmax_loss), 2),
    "softmax_loss_value(x, y) -> mean cross-entropy; its gradient is softmax_loss's dx",
)
svm_loss_value = _with_doc(
    hand_written_vjp(*_loss_pair(losses.svm_loss), 2),
    "svm_loss_value(x, y) -> mean multiclass hinge loss; its gradient is svm_loss's dx",
)


# --- normalisation ---------------------------------------------------------------------------


def _bn_param(mode, eps, momentum, running_mean, running_var) -> dict:
  # A fresh dict per call: the forward writes the new running averages into it, and they are
  # returned as outputs, so nothing leaks out of a trace.
  return {"mode": mode, "eps": eps, "momentum": momentum, "running_mean": running_mean, "running_var": running_var}


def _bn_forward(x, gamma, beta, running_mean, running_var, mode, eps, momentum, spatial):
  param = _bn_param(mode, eps, momentum, running_mean, running_var)
  layer = normalization.spatial_batchnorm_forward if spatial else normalization.batchnorm_forward
  out, cache = layer(x, gamma, beta, param)
  return (out, param["running_mean"], param["running_var"]), (spatial, cache)


def _bn_backward(douts, cache):
  spatial, inner = cache
  layer = normalization.spatial_batchnorm_backward if spatial else normalization.batchnorm_backward_alt
  return layer(douts[0], inner)


_batchnorm = hand_written_vjp(_bn_forward, _bn_backward, 5)


def batchnorm(x, gamma, beta, running_mean, running_var, mode: str = "train",
              eps: float = normalization.BN_EPS, momentum: float = normalization.BN_MOMENTUM):
  """Batch norm of (N, D) features -> (out, new_running_mean, new_running_var).

  The running averages are returned rather than written into a dict, so the function is pure.
  """
  return _batchnorm(x, gamma, beta, running_mean, running_var, mode, eps, momentum, False)


def spatial_batchnorm(x, gamma, beta, running_mean, running_var, mode: str = "train",
                      eps: float = normalization.BN_EPS, momentum: float = normalization.BN_MOMENTUM):
  """Spatial batch norm of (N, C, H, W) -> (out, new_running_mean, new_running_var)."""
  return _batchnorm(x, gamma, beta, running_mean, running_var, mode, eps, momentum, True)


_layernorm = hand_written_vjp(
    lambda x, g, b, eps: normalization.layernorm_forward(x, g, b, {"eps": eps}), normalization.layernorm_backward, 3
)


def layernorm(x, gamma, beta, eps: float = normalization.LN_EPS):
  """Layer norm of (N, D) features -> out."""
  return _layernorm(x, gamma, beta, eps)


_groupnorm = hand_written_vjp(
    lambda x, g, b, groups, eps: normalization.spatial_groupnorm_forward(x, g, b, groups, {"eps": eps}),
    normalization.spatial_groupnorm_backward,
    3,
)


def spatial_groupnorm(x, gamma, beta, G: int, eps: float = normalization.GN_EPS):
  """Spatial group norm of (N, C, H, W) with (1, C, 1, 1) gamma/beta -> out."""
  return _groupnorm(x, gamma, beta, G, eps)


# --- dropout ---------------------------------------------------------------------------------

_dropout = hand_written_vjp(
    lambda x, key, p, mode: dropout_lib.dropout_forward(x, {"p": p, "mode": mode, "key": key}),
    dropout_lib.dropout_backward,
    2,
)


def dropout(x, key, p: float, mode: str = "train"):
  """Inverted dropout with KEEP probability ``p`` and an explicit PRNG ``key`` -> out."""
  return _dropout(x, key, p, mode)


# --- convolution and pooling -----------------------------------------------------------------

_conv_fast = hand_written_vjp(
    lambda x, w, b, stride, pad: fast.conv_forward_fast(x, w, b, {"stride": stride, "pad": pad}),
    fast.conv_backward_fast,
    3,
)
_conv_naive = hand_written_vjp(
    lambda x, w, b, stride, pad: conv.conv_forward_naive(x, w, b, {"stride": stride, "pad": pad}),
    conv.conv_backward_naive,
    3,
)


def conv2d(x, w, b, stride: int = 1, pad: int = 0):
  """NCHW convolution (im2col forward, col2im backward) -> out (N, F, H', W')."""
  return _conv_fast(x, w, b, stride, pad)


def conv2d_naive(x, w, b, stride: int = 1, pad: int = 0):
  """NCHW convolution with the naive loops in both directions -> out."""
  return _conv_naive(x, w, b, stride, pad)


def _pool_param(ph, pw, stride):
  return {"pool_height": ph, "pool_width": pw, "stride": stride}


_max_pool_fast = hand_written_vjp(
    lambda x, ph, pw, s: fast.max_pool_forward_fast(x, _pool_param(ph, pw, s)), fast.max_pool_backward_fast, 1
)
_max_pool_naive = hand_written_vjp(
    lambda x, ph, pw, s: conv.max_pool_forward_naive(x, _pool_param(ph, pw, s)), conv.max_pool_backward_naive, 1
)


def max_pool(x, pool_height: int = 2, pool_width: int = 2, stride: int = 2):
  """NCHW max pooling (fast path) -> out."""
  return _max_pool_fast(x, pool_height, pool_width, stride)


def max_pool_naive(x, pool_height: int = 2, pool_width: int = 2, stride: int = 2):
  """NCHW max pooling with the naive loops -> out."""
  return _max_pool_naive(x, pool_height, pool_width, stride)


# --- sandwich layers (layer_utils): one custom_vjp around the whole stack ----------------------

_affine_relu = hand_written_vjp(layer_utils.affine_relu_forward, layer_utils.affine_relu_backward, 3)


def affine_relu(x, w, b):
  """affine -> ReLU -> out."""
  return _affine_relu(x, w, b)


_affine_ln_relu = hand_written_vjp(
    lambda x, w, b, g, be, eps: layer_utils.affine_ln_relu_forward(x, w, b, g, be, {"eps": eps}),
    layer_utils.affine_ln_relu_backward,
    5,
)


def affine_ln_relu(x, w, b, gamma, beta, eps: float = normalization.LN_EPS):
  """affine -> layer norm -> ReLU -> out."""
  return _affine_ln_relu(x, w, b, gamma, beta, eps)


def _affine_bn_relu_forward(x, w, b, gamma, beta, running_mean, running_var, mode, eps, momentum):
  param = _bn_param(mode, eps, momentum, running_mean, running_var)
  out, cache = layer_utils.affine_bn_relu_forward(x, w, b, gamma, beta, param)
  return (out, param["running_mean"], param["running_var"]), cache


_affine_bn_relu = hand_written_vjp(
    _affine_bn_relu_forward, lambda douts, cache: layer_utils.affine_bn_relu_backward(douts[0], cache), 7
)


def affine_bn_relu(x, w, b, gamma, beta, running_mean, running_var, mode: str = "train",
                   eps: float = normalization.BN_EPS, momentum: float = normalization.BN_MOMENTUM):
  """affine -> batch norm -> ReLU -> (out, new_running_mean, new_running_var)."""
  return _affine_bn_relu(x, w, b, gamma, beta, running_mean, running_var, mode, eps, momentum)


_conv_relu = hand_written_vjp(
    lambda x, w, b, stride, pad: layer_utils.conv_relu_forward(x, w, b, {"stride": stride, "pad": pad}),
    layer_utils.conv_relu_backward,
    3,
)


def conv_relu(x, w, b, stride: int = 1, pad: int = 0):
  """NCHW conv -> ReLU -> out."""
  return _conv_relu(x, w, b, stride, pad)


_conv_relu_pool = hand_written_vjp(
    lambda x, w, b, stride, pad, ph, pw, ps: layer_utils.conv_relu_pool_forward(
        x, w, b, {"stride": stride, "pad": pad}, _pool_param(ph, pw, ps)),
    layer_utils.conv_relu_pool_backward,
    3,
)


def conv_relu_pool(x, w, b, stride: int = 1, pad: int = 0, pool_height: int = 2, pool_width: int = 2,
                   pool_stride: int = 2):
  """NCHW conv -> ReLU -> max pool -> out."""
  return _conv_relu_pool(x, w, b, stride, pad, pool_height, pool_width, pool_stride)


def _conv_bn_relu_forward(x, w, b, gamma, beta, running_mean, running_var, stride, pad, mode, eps, momentum):
  param = _bn_param(mode, eps, momentum, running_mean, running_var)
  out, cache = layer_utils.conv_bn_relu_forward(x, w, b, gamma, beta, {"stride": stride, "pad": pad}, param)
  return (out, param["running_mean"], param["running_var"]), cache


_conv_bn_relu = hand_written_vjp(
    _conv_bn_relu_forward, lambda douts, cache: layer_utils.conv_bn_relu_backward(douts[0], cache), 7
)


def conv_bn_relu(x, w, b, gamma, beta, running_mean, running_var, stride: int = 1, pad: int = 0,
                 mode: str = "train", eps: float = normalization.BN_EPS, momentum: float = normalization.BN_MOMENTUM):
  """NCHW conv -> spatial batch norm -> ReLU -> (out, new_running_mean, new_running_var)."""
  return _conv_bn_relu(x, w, b, gamma, beta, running_mean, running_var, stride, pad, mode, eps, momentum)
