"""Batch, layer, spatial batch and spatial group normalisation, with hand-written backward passes.

Batch norm (Ioffe & Szegedy 2015, lecture 6), per feature over a minibatch B = {x_1..m}:
    μ_B = (1/m) Σ x_i,   σ²_B = (1/m) Σ (x_i - μ_B)²   (the biased 1/m variance),
    x̂_i = (x_i - μ_B) / sqrt(σ²_B + ε),   y_i = γ x̂_i + β.
At test time "a single fixed empirical mean of activations during training is used": the running
averages ``running = momentum * running + (1 - momentum) * batch`` (the course's momentum 0.9 and
ε = 1e-5; the running variance tracks the same biased batch variance, as in the course).

The course's ``bn_param`` dict carries ``mode`` ('train' / 'test', required), optional ``eps``,
``momentum``, and the running averages, which ``batchnorm_forward`` writes back into the dict as the
course does. (That is an in-place update of a Python dict, so it is only as pure as the caller:
the course-contract models in ``classifiers`` build a fresh dict inside their jitted function and
return the new averages as explicit state, so nothing leaks out of a trace.)
"""

from __future__ import annotations

import jax.numpy as jnp

from cs231n_jax.layers.checks import check_ndim, check_vector, shape_of
from cs231n_jax.layers.precision import follows_input_precision

BN_EPS = 1e-5
BN_MOMENTUM = 0.9
LN_EPS = 1e-5
GN_EPS = 1e-5
MODES = ("train", "test")


def _mode(fn: str, param: dict) -> str:
  if not isinstance(param, dict) or param.get("mode") not in MODES:
    got = param.get("mode") if isinstance(param, dict) else type(param).__name__
    raise ValueError(f"{fn}: bn_param['mode'] must be 'train' or 'test', got {got!r}")
  return param["mode"]


def normalize_backward(dxhat, xhat, inv_std, axis):
  """dL/dx for x̂ = (x - mean(x)) * inv_std, mean and variance taken over ``axis``, given dL/dx̂.

  Differentiating through the mean and the variance and simplifying (the course's "alt" form):
      dx = inv_std * (dx̂ - mean(dx̂) - x̂ * mean(dx̂ * x̂)).
  """
  mean_dxhat = jnp.mean(dxhat, axis=axis, keepdims=True)
  mean_dxhat_xhat = jnp.mean(dxhat * xhat, axis=axis, keepdims=True)
  return inv_std * (dxhat - mean_dxhat - xhat * mean_dxhat_xhat)


# ---------------------------------------------------------------------------------------------
# Batch normalisation of (N, D) features.
# ---------------------------------------------------------------------------------------------


@follows_input_precision
def batchnorm_forward(x, gamma, beta, bn_param: dict):
  """Batch normalisation of (N, D) features: returns (out, cache); updates ``bn_param`` in place.

  Args:
    x: (N, D) data.
    gamma, beta: (D,) scale and shift.
    bn_param: dict with 'mode' ('train' or 'test'), optional 'eps' (1e-5), 'momentum' (0.9),
      'running_mean' and 'running_var' ((D,), zeros when absent, as in the course).
  """
  mode = _mode("batchnorm_forward", bn_param)
  check_ndim("batchnorm_forward", "x", x, 2, "(N, D)")
  d = shape_of(x)[1]
  check_vector("batchnorm_forward", "gamma", gamma, d, "x", shape_of(x))
  check_vector("batchnorm_forward", "beta", beta, d, "x", shape_of(x))
  eps = bn_param.get("eps", BN_EPS)
  momentum = bn_param.get("momentum", BN_MOMENTUM)
  running_mean = bn_param.get("running_mean", jnp.zeros(d, dtype=x.dtype))
  running_var = bn_param.get("running_var", jnp.zeros(d, dtype=x.dtype))
  if shape_of(running_mean) != (d,) or shape_of(running_var) != (d,):
    raise ValueError(
        f"batchnorm_forward: running_mean {shape_of(running_mean)} / running_var {shape_of(running_var)} "
        f"must be ({d},) to match x {shape_of(x)}"
    )

  if mode == "train":
    mu = jnp.mean(x, axis=0)
    xmu = x - mu
    var = jnp.mean(xmu * xmu, axis=0)
    std = jnp.sqrt(var + eps)
    inv_std = 1.0 / std
    xhat = xmu * inv_std
    bn_param["running_mean"] = momentum * running_mean + (1 - momentum) * mu
    bn_param["running_var"] = momentum * running_var + (1 - momentum) * var
    cache = ("train", xhat, xmu, std, inv_std, gamma)
  else:
    inv_std = 1.0 / jnp.sqrt(running_var + eps)
    xhat = (x - running_mean) * inv_std
    bn_param["running_mean"] = running_mean
    bn_param["running_var"] = running_var
    cache = ("test", xhat, None, None, inv_std, gamma)
  return gamma * xhat + beta, cache


@follows_input_precision
def batchnorm_backward(dout, cache):
  """Backward pass of batch norm, node by node through its computational graph (lecture 4).

  Forward graph (train mode): μ = mean(x); xμ = x - μ; v = mean(xμ²); s = sqrt(v + ε);
  i = 1/s; x̂ = xμ·i; y = γx̂ + β. Each line below is one node's "upstream × local gradient";
  xμ feeds two nodes (x̂ and v), so its gradients add ("gradients add at branches").

  Returns (dx, dgamma, dbeta).
  """
  mode, xhat, xmu, std, inv_std, gamma = cache
  dbeta = jnp.sum(dout, axis=0)
  dgamma = jnp.sum(dout * xhat, axis=0)
  dxhat = dout * gamma
  if mode == "test":  # the statistics are constants at test time
    return dxhat * inv_std, dgamma, dbeta
  n = shape_of(dout)[0]
  dinv_std = jnp.sum(dxhat * xmu, axis=0)  # x̂ = xμ · i
  dxmu = dxhat * inv_std
  dstd = -dinv_std / (std * std)  # i = 1/s
  dvar = 0.5 * dstd / std  # s = sqrt(v + ε)
  dxmu = dxmu + 2.0 * xmu * dvar / n  # v = mean(xμ²): the second branch into xμ
  dmu = -jnp.sum(dxmu, axis=0)  # xμ = x - μ
  dx = dxmu + dmu / n  # μ = mean(x)
  return dx, dgamma, dbeta


@follows_input_precision
def batchnorm_backward_alt(dout, cache):
  """The same gradient simplified on paper into one expression (the course's ``_alt``):

      dx = (γ / (N σ)) (N dy - Σ dy - x̂ Σ (dy · x̂)),  σ = sqrt(σ²_B + ε).

  Returns (dx, dgamma, dbeta).
  """
  mode, xhat, _, _, inv_std, gamma = cache
  dbeta = jnp.sum(dout, axis=0)
  dgamma = jnp.sum(dout * xhat, axis=0)
  dxhat = dout * gamma
  if mode == "test":
    return dxhat * inv_std, dgamma, dbeta
  return normalize_backward(dxhat, xhat, inv_std, axis=0), dgamma, dbeta


# ---------------------------------------------------------------------------------------------
# Layer normalisation (Ba et al. 2016): the same, per example over its D features. No running
# averages, and the same computation at train and test time.
# ---------------------------------------------------------------------------------------------


@follows_input_precision
def layernorm_forward(x, gamma, beta, ln_param: dict | None = None):
  """Layer normalisation of (N, D) features; ``ln_param`` may hold 'eps' (1e-5). Returns (out, cache)."""
  check_ndim("layernorm_forward", "x", x, 2, "(N, D)")
  d = shape_of(x)[1]
  check_vector("layernorm_forward", "gamma", gamma, d, "x", shape_of(x))
  check_vector("layernorm_forward", "beta", beta, d, "x", shape_of(x))
  eps = (ln_param or {}).get("eps", LN_EPS)
  mu = jnp.mean(x, axis=1, keepdims=True)
  xmu = x - mu
  inv_std = 1.0 / jnp.sqrt(jnp.mean(xmu * xmu, axis=1, keepdims=True) + eps)
  xhat = xmu * inv_std
  return gamma * xhat + beta, (xhat, inv_std, gamma)


@follows_input_precision
def layernorm_backward(dout, cache):
  """Backward pass of layer norm: batch norm's formula with the roles of N and D swapped."""
  xhat, inv_std, gamma = cache
  dgamma = jnp.sum(dout * xhat, axis=0)
  dbeta = jnp.sum(dout, axis=0)
  dx = normalize_backward(dout * gamma, xhat, inv_std, axis=1)
  return dx, dgamma, dbeta


# ---------------------------------------------------------------------------------------------
# Spatial (convolutional) variants on NCHW data.
# ---------------------------------------------------------------------------------------------


def _nchw_to_rows(x):
  n, c, h, w = shape_of(x)
  return jnp.reshape(jnp.transpose(x, (0, 2, 3, 1)), (n * h * w, c))


def _rows_to_nchw(rows, shape):
  n, c, h, w = shape
  return jnp.transpose(jnp.reshape(rows, (n, h, w, c)), (0, 3, 1, 2))


@follows_input_precision
def spatial_batchnorm_forward(x, gamma, beta, bn_param: dict):
  """Batch norm for conv features: one mean and variance per channel, over (N, H, W).

  Args:
    x: (N, C, H, W) data; gamma, beta: (C,); bn_param as in ``batchnorm_forward``.
  """
  check_ndim("spatial_batchnorm_forward", "x", x, 4, "(N, C, H, W)")
  c = shape_of(x)[1]
  check_vector("spatial_batchnorm_forward", "gamma", gamma, c, "x", shape_of(x))
  check_vector("spatial_batchnorm_forward", "beta", beta, c, "x", shape_of(x))
  out_rows, cache = batchnorm_forward(_nchw_to_rows(x), gamma, beta, bn_param)
  return _rows_to_nchw(out_rows, shape_of(x)), (cache, shape_of(x))


@follows_input_precision
def spatial_batchnorm_backward(dout, cache):
  """Returns (dx, dgamma, dbeta) for ``spatial_batchnorm_forward``."""
  bn_cache, shape = cache
  dx_rows, dgamma, dbeta = batchnorm_backward_alt(_nchw_to_rows(dout), bn_cache)
  return _rows_to_nchw(dx_rows, shape), dgamma, dbeta


@follows_input_precision
def spatial_groupnorm_forward(x, gamma, beta, G: int, gn_param: dict | None = None):
  """Group normalisation (Wu & He 2018): per example, over each group of C/G channels and all
  positions; then a per-channel scale and shift.

  Args:
    x: (N, C, H, W) data.
    gamma, beta: (1, C, 1, 1), the course's shape for group norm's parameters.
    G: number of groups; must divide C.
    gn_param: may hold 'eps' (1e-5).
  """
  check_ndim("spatial_groupnorm_forward", "x", x, 4, "(N, C, H, W)")
  n, c, h, w = shape_of(x)
  if G <= 0 or c % G:
    raise ValueError(f"spatial_groupnorm_forward: G={G} groups must divide the {c} channels of x {shape_of(x)}")
  for name, p in (("gamma", gamma), ("beta", beta)):
    if shape_of(p) != (1, c, 1, 1):
      raise ValueError(f"spatial_groupnorm_forward: {name} must have shape (1, {c}, 1, 1) to match x {shape_of(x)}, got {shape_of(p)}")
  eps = (gn_param or {}).get("eps", GN_EPS)
  groups = jnp.reshape(x, (n, G, -1))
  mu = jnp.mean(groups, axis=2, keepdims=True)
  xmu = groups - mu
  inv_std = 1.0 / jnp.sqrt(jnp.mean(xmu * xmu, axis=2, keepdims=True) + eps)
  xhat = jnp.reshape(xmu * inv_std, shape_of(x))
  return gamma * xhat + beta, (xhat, inv_std, gamma, G)


@follows_input_precision
def spatial_groupnorm_backward(dout, cache):
  """Returns (dx, dgamma, dbeta), dgamma and dbeta shaped (1, C, 1, 1)."""
  xhat, inv_std, gamma, G = cache
  n = shape_of(dout)[0]
  dgamma = jnp.sum(dout * xhat, axis=(0, 2, 3), keepdims=True)
  dbeta = jnp.sum(dout, axis=(0, 2, 3), keepdims=True)
  dxhat = jnp.reshape(dout * gamma, (n, G, -1))
  dx = normalize_backward(dxhat, jnp.reshape(xhat, (n, G, -1)), inv_std, axis=2)
  return jnp.reshape(dx, shape_of(dout)), dgamma, dbeta
