"""Likelihood baselines that every deep model must beat, as pixel models with the same interface.

- :class:`IndependentPixels` — every pixel its own categorical, ``p(x) = prod_i p_i(x_i)``, fitted in
  closed form from counts with add-1/2 smoothing (the Krichevsky-Trofimov estimator). It ignores all
  dependencies; a VAE whose latent is unused (posterior collapse, KL = 0) is no better than it.
- :class:`LogisticAutoregressive` — the fully visible sigmoid belief network (Frey 1998; the lecture's
  "fully visible belief network" with the simplest conditional): pixel ``i``'s logits are an affine
  function of the pixels before it, ``b_i + sum_{j<i} W_ji x_j`` (multinomial logistic regression per
  pixel over ``L`` levels). Fitted by full-batch L-BFGS on the convex penalised likelihood
  ``mean NLL + ||W||^2 / (2 C N)`` — scikit-learn's ``C`` convention — with ``C`` chosen on the
  validation split.

Both are Flax modules with ``num_levels`` and ``image_shape``, so :func:`autoregressive.log_prob`
and :func:`autoregressive.sample` apply to them unchanged.
"""

from __future__ import annotations

from typing import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax

from cs231n_jax.generative.autoregressive import check_input_shape, log_prob, log_prob_from_logits
from cs231n_jax.generative.data import check_levels

SMOOTHING = 0.5  # add-1/2 counts
LBFGS_ITERATIONS = 300
C_GRID = (0.01, 0.1, 1.0, 10.0)


class IndependentPixels(nn.Module):
  """``p(x) = prod_i p_i(x_i)``: one categorical per pixel, no dependencies."""

  num_levels: int = 17
  image_shape: Sequence[int] = (8, 8, 1)

  @nn.compact
  def __call__(self, images: jax.Array, train: bool = False) -> jax.Array:
    check_input_shape(self, images)
    logits = self.param("logits", nn.initializers.zeros, (*self.image_shape, self.num_levels))
    return jnp.broadcast_to(logits, (images.shape[0], *logits.shape))


def fit_independent(images: np.ndarray, num_levels: int, smoothing: float = SMOOTHING):
  """The closed-form smoothed maximum-likelihood fit: ``(model, variables)``."""
  check_levels(images, num_levels, name="images")
  model = IndependentPixels(num_levels, tuple(images.shape[1:]))
  onehot = np.eye(num_levels)[np.asarray(images)]  # (N, H, W, C, L)
  counts = onehot.sum(0) + smoothing
  logits = np.log(counts / counts.sum(-1, keepdims=True)).astype(np.float32)
  return model, {"params": {"logits": jnp.asarray(logits)}}


class LogisticAutoregressive(nn.Module):
  """Fully visible logistic belief net: pixel i's logits = b_i + sum_{j<i} W_ji * x_j (x_j in [0, 1])."""

  num_levels: int = 17
  image_shape: Sequence[int] = (8, 8, 1)

  @nn.compact
  def __call__(self, images: jax.Array, train: bool = False) -> jax.Array:
    check_input_shape(self, images)
    d = int(np.prod(self.image_shape))
    x = images.reshape(images.shape[0], d).astype(jnp.float32) / (self.num_levels - 1)
    w = self.param("kernel", nn.initializers.zeros, (d, d, self.num_levels))
    b = self.param("bias", nn.initializers.zeros, (d, self.num_levels))
    strictly_before = jnp.asarray(np.tril(np.ones((d, d), np.float32), k=-1).T)  # [j, i] = 1 iff j < i
    logits = b + jnp.einsum("nj,jil->nil", x, w * strictly_before[..., None])
    return logits.reshape(images.shape[0], *self.image_shape, self.num_levels)


def fit_logistic_autoregressive(train: np.ndarray, num_levels: int, c: float,
                                iterations: int = LBFGS_ITERATIONS):
  """Minimise ``mean NLL + ||W||^2 / (2 C N)`` with L-BFGS: ``(model, variables)``."""
  if c <= 0:
    raise ValueError(f"c: expected a positive inverse regularisation strength, got {c}")
  check_levels(train, num_levels, name="train")
  model = LogisticAutoregressive(num_levels, tuple(train.shape[1:]))
  images = jnp.asarray(train, jnp.int32)
  params = model.init(jax.random.key(0), images[:1])["params"]
  penalty = 1.0 / (2.0 * c * len(train))

  def objective(p):
    nll = -log_prob_from_logits(model.apply({"params": p}, images), images).mean()
    return nll + penalty * jnp.sum(p["kernel"] ** 2)

  params = minimize_lbfgs(objective, params, iterations)
  return model, {"params": params}


def minimize_lbfgs(objective, params, iterations: int):
  """Full-batch L-BFGS (optax, zoom line search) for ``iterations`` steps, one jitted loop."""
  opt = optax.lbfgs()
  value_and_grad = optax.value_and_grad_from_state(objective)

  @jax.jit
  def run(params):
    def body(_, carry):
      p, state = carry
      value, grad = value_and_grad(p, state=state)
      updates, state = opt.update(grad, state, p, value=value, grad=grad, value_fn=objective)
      return optax.apply_updates(p, updates), state

    return jax.lax.fori_loop(0, iterations, body, (params, opt.init(params)))[0]

  return run(params)


def select_logistic_autoregressive(train: np.ndarray, val: np.ndarray, num_levels: int,
                                   c_grid: Sequence[float] = C_GRID, iterations: int = LBFGS_ITERATIONS):
  """Fit for each ``C`` and keep the one with the best validation NLL: ``(model, variables, c, table)``."""
  table = []
  best = None
  for c in c_grid:
    model, variables = fit_logistic_autoregressive(train, num_levels, c, iterations)
    val_nll = float(-log_prob(model, variables, val).mean())
    table.append({"c": float(c), "val_nats": val_nll})
    if best is None or val_nll < best[3]:
      best = (model, variables, float(c), val_nll)
  return best[0], best[1], best[2], table
