"""Affine layer and activation functions, each a forward/backward pair written from its equation.

The course's contract (assignment 1/2 ``layers.py``): ``*_forward(inputs...) -> (out, cache)``
and ``*_backward(dout, cache) -> gradients``, with ``cache`` holding what the backward pass needs
("forward saves intermediates needed for gradients", lecture 4). The backward passes are written
by hand from the local derivatives of lecture 4 and 6; nothing here is derived by autodiff (the
tests compare them with ``jax.vjp`` and with numerical differences).

Every function is pure JAX, so it runs eagerly on numpy inputs as the course's do, and inside
``jit`` as part of a compiled model. Float64 inputs compute in float64 (see ``precision``).
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp

from cs231n_jax.layers.checks import check_ndim, shape_of
from cs231n_jax.layers.precision import follows_input_precision

# Lecture 6's leaky ReLU is max(0.01 x, x). (Its overview slides write 0.1 x; the detailed slide,
# and He et al., use 0.01.)
LEAKY_RELU_SLOPE = 0.01
# ELU's alpha: the lecture gives none; 1.0 is Clevert et al.'s choice and the common default.
ELU_ALPHA = 1.0


# ---------------------------------------------------------------------------------------------
# Affine (fully connected) layer: out = x.reshape(N, D) @ w + b.
# ---------------------------------------------------------------------------------------------


@follows_input_precision
def affine_forward(x, w, b):
  """Fully connected layer: every example is stretched into a row of D numbers, then ``x @ w + b``.

  Args:
    x: (N, d_1, ..., d_k) inputs, D = d_1 * ... * d_k (an NCHW image batch works as is).
    w: (D, M) weights.
    b: (M,) biases.

  Returns:
    out (N, M) and cache (x, w, b).
  """
  check_ndim("affine_forward", "w", w, 2, "(D, M)")
  n = shape_of(x)[0] if shape_of(x) else 0
  d = math.prod(shape_of(x)[1:])
  if d != shape_of(w)[0]:
    raise ValueError(
        f"affine_forward: x {shape_of(x)} flattens to {d} features per example but w {shape_of(w)} expects {shape_of(w)[0]}"
    )
  if shape_of(b) != (shape_of(w)[1],):
    raise ValueError(f"affine_forward: b must have shape ({shape_of(w)[1]},) to match w {shape_of(w)}, got {shape_of(b)}")
  out = jnp.reshape(x, (n, d)) @ w + b
  return out, (x, w, b)


@follows_input_precision
def affine_backward(dout, cache):
  """Backward pass of ``affine_forward``: returns (dx, dw, db) shaped like (x, w, b).

  With X the (N, D) rows: dL/dX = dout wᵀ, dL/dw = Xᵀ dout, dL/db = Σ_n dout_n
  (the bias is added to every row, so its gradient sums over rows: "add gate distributes").
  """
  x, w, _ = cache
  x_rows = jnp.reshape(x, (shape_of(x)[0], -1))
  dx = jnp.reshape(dout @ w.T, shape_of(x))
  dw = x_rows.T @ dout
  db = jnp.sum(dout, axis=0)
  return dx, dw, db


# ---------------------------------------------------------------------------------------------
# Activations. Each backward pass is dout times the local derivative (lecture 4's "upstream
# gradient times local gradient").
# ---------------------------------------------------------------------------------------------


@follows_input_precision
def relu_forward(x):
  """ReLU, max(0, x). Returns (out, cache=x)."""
  return jnp.maximum(x, 0), x


@follows_input_precision
def relu_backward(dout, cache):
  """dx = dout where x > 0, else 0: the max gate routes the gradient to the larger input. At x = 0
  the subgradient 0 is used (as the course's ``x > 0`` mask does)."""
  x = cache
  return jnp.where(x > 0, dout, jnp.zeros_like(dout))


@follows_input_precision
def leaky_relu_forward(x, alpha: float = LEAKY_RELU_SLOPE):
  """Leaky ReLU, max(alpha x, x) for 0 <= alpha < 1 (lecture 6: alpha = 0.01; 0 is ReLU). Returns (out, cache)."""
  if not 0.0 <= alpha < 1.0:
    raise ValueError(f"leaky_relu_forward: alpha must be in [0, 1), got {alpha}")
  return jnp.where(x > 0, x, alpha * x), (x, alpha)


@follows_input_precision
def leaky_relu_backward(dout, cache):
  """dx = dout for x > 0 and alpha * dout otherwise: the gradient never dies."""
  x, alpha = cache
  return jnp.where(x > 0, dout, alpha * dout)


def _stable_sigmoid(x):
  # 1 / (1 + e^-x) overflows e^-x for very negative x; with e = e^-|x| both branches stay finite
  # (and so do their derivatives, which matters when this forward is differentiated by jax.vjp).
  e = jnp.exp(-jnp.abs(x))
  return jnp.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


@follows_input_precision
def sigmoid_forward(x):
  """σ(x) = 1 / (1 + e^{-x}), computed stably. Returns (out, cache=out)."""
  out = _stable_sigmoid(x)
  return out, out


@follows_input_precision
def sigmoid_backward(dout, cache):
  """dσ/dx = (1 - σ(x)) σ(x) (lecture 4's sigmoid gate), from the stored output as Caffe does."""
  out = cache
  return dout * out * (1 - out)


@follows_input_precision
def tanh_forward(x):
  """tanh(x). Returns (out, cache=out)."""
  out = jnp.tanh(x)
  return out, out


@follows_input_precision
def tanh_backward(dout, cache):
  """d tanh(x)/dx = 1 - tanh(x)²."""
  out = cache
  return dout * (1 - out * out)


@follows_input_precision
def elu_forward(x, alpha: float = ELU_ALPHA):
  """ELU: x for x > 0, alpha (e^x - 1) for x <= 0 (lecture 6). Returns (out, cache)."""
  if alpha <= 0:
    raise ValueError(f"elu_forward: alpha must be positive, got {alpha}")
  # expm1 of min(x, 0): accurate near 0, and the unused branch never overflows.
  out = jnp.where(x > 0, x, alpha * jnp.expm1(jnp.minimum(x, 0)))
  return out, (x, out, alpha)


@follows_input_precision
def elu_backward(dout, cache):
  """dx = dout for x > 0, else dout * alpha e^x = dout * (out + alpha)."""
  x, out, alpha = cache
  return jnp.where(x > 0, dout, dout * (out + alpha))


@follows_input_precision
def maxout_forward(x, w, b):
  """Maxout (Goodfellow et al. 2013): max_k (x w_k + b_k), k affine pieces per output unit.

  Lecture 6 writes max(w_1ᵀx + b_1, w_2ᵀx + b_2); with k = 2 and w_2 = 0 it is ReLU, with
  w_2 = 0.01 w_1 leaky ReLU. It "doubles the number of parameters per neuron" for k = 2.

  Args:
    x: (N, D) inputs (other shapes are flattened per example, as in ``affine_forward``).
    w: (k, D, M) weights of the k pieces.
    b: (k, M) biases.

  Returns:
    out (N, M) and cache.
  """
  check_ndim("maxout_forward", "w", w, 3, "(k, D, M)")
  k, d, m = shape_of(w)
  x_rows = jnp.reshape(x, (shape_of(x)[0], -1))
  if shape_of(x_rows)[1] != d:
    raise ValueError(f"maxout_forward: x {shape_of(x)} flattens to {shape_of(x_rows)[1]} features but w {shape_of(w)} expects {d}")
  if shape_of(b) != (k, m):
    raise ValueError(f"maxout_forward: b must have shape ({k}, {m}) to match w {shape_of(w)}, got {shape_of(b)}")
  z = jnp.einsum("nd,kdm->nkm", x_rows, w) + b  # every piece's pre-activation
  winner = jnp.argmax(z, axis=1)  # ties go to the first piece, as np.argmax
  out = jnp.max(z, axis=1)
  return out, (x, w, winner)


@follows_input_precision
def maxout_backward(dout, cache):
  """The max routes dout to the winning piece only; that piece is an affine layer."""
  x, w, winner = cache
  k = shape_of(w)[0]
  x_rows = jnp.reshape(x, (shape_of(x)[0], -1))
  dz = dout[:, None, :] * jax.nn.one_hot(winner, k, axis=1, dtype=dout.dtype)
  dx = jnp.reshape(jnp.einsum("nkm,kdm->nd", dz, w), shape_of(x))
  dw = jnp.einsum("nd,nkm->kdm", x_rows, dz)
  db = jnp.sum(dz, axis=0)
  return dx, dw, db
