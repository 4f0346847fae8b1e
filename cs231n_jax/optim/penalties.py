"""Weight penalties and decoupled weight decay (lecture 7), as optax gradient transformations.

Lecture 7 (seed lines 8120-8139) writes the regularised loss ``L = data loss + lambda R(W)`` with

- L2: ``R(W) = sum W**2`` ("weight decay"), gradient ``2 W``;
- L1: ``R(W) = sum |W|``, (sub)gradient ``sign(W)``;
- elastic net: ``R(W) = sum beta W**2 + |W|``.

Here the penalty is ``l2 * sum W**2 + l1 * sum |W|`` (elastic net is both at once, ``beta = l2 /
l1``), and :func:`add_penalty_gradient` adds its gradient to the data gradient *before* the update
rule, which is exactly training on the penalised loss. :func:`penalty` gives the loss term itself
(for reporting, and so tests can compare with ``jax.grad``).

*Decoupled* weight decay (Loshchilov and Hutter, "Decoupled weight decay regularization", ICLR
2019) instead shrinks the weights outside the update rule: ``x -= lr_t * weight_decay * x``. For
plain SGD the two coincide (``weight_decay = 2 * l2``); for adaptive rules (Adam) they differ,
because the adaptive rule rescales the L2 gradient but not the decoupled decay.

By default penalties and decay apply to *kernels* only (arrays with 2 or more dimensions: dense and
conv weights), not to biases or normalisation scales — the course's ``reg`` penalises ``W`` only,
and Caffe's ``decay_mult: 0`` for biases (seed line 5394) says the same.

Polyak averaging, the other optimizer-side regulariser of the lecture, is
:mod:`cs231n_jax.optim.averaging`.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from cs231n_jax.optim.transforms import ScalarOrSchedule, learning_rate_at

PENALIZE_CHOICES = ("kernels", "all")
KERNEL_MIN_NDIM = 2  # dense (in, out) and conv (h, w, in, out) weights; biases and scales are 1-D


def penalty_mask(params: Any, penalize: str = "kernels") -> Any:
  """True for the leaves a penalty applies to: kernels (ndim >= 2) or ``"all"`` leaves."""
  if penalize not in PENALIZE_CHOICES:
    raise ValueError(f"penalize: expected one of {PENALIZE_CHOICES}, got {penalize!r}")
  return jax.tree.map(lambda p: penalize == "all" or jnp.ndim(p) >= KERNEL_MIN_NDIM, params)


def penalty(params: Any, l2: float = 0.0, l1: float = 0.0, penalize: str = "kernels") -> jax.Array:
  """``l2 * sum W**2 + l1 * sum |W|`` over the penalised leaves (the lecture's ``lambda R(W)``)."""
  mask = penalty_mask(params, penalize)
  terms = jax.tree.map(
      lambda p, m: jnp.where(m, l2 * jnp.sum(p * p) + l1 * jnp.sum(jnp.abs(p)), 0.0), params, mask
  )
  return sum(jax.tree.leaves(terms), jnp.zeros([]))


def add_penalty_gradient(l2: float = 0.0, l1: float = 0.0, penalize: str = "kernels") -> optax.GradientTransformation:
  """Add ``2 l2 W + l1 sign(W)`` (the gradient of :func:`penalty`) to the gradient."""

  def init_fn(params):
    del params
    return optax.EmptyState()

  def update_fn(grads, state, params=None):
    if params is None:
      raise ValueError("params: add_penalty_gradient needs the parameters passed to update()")
    mask = penalty_mask(params, penalize)
    grads = jax.tree.map(
        lambda g, p, m: g + 2 * l2 * p + l1 * jnp.sign(p) if m else g, grads, params, mask
    )
    return grads, state

  return optax.GradientTransformation(init_fn, update_fn)


class DecoupledDecayState(NamedTuple):
  count: jax.Array


def decoupled_weight_decay(
    weight_decay: float, learning_rate: ScalarOrSchedule, penalize: str = "kernels"
) -> optax.GradientTransformation:
  """Add ``-lr_t * weight_decay * x`` to the (already learning-rate-scaled) update.

  Chain it *after* an update rule from :mod:`cs231n_jax.optim.transforms` with the same learning rate
  (schedule): Adam followed by this is AdamW as in ``optax.adamw``.
  """

  def init_fn(params):
    del params
    return DecoupledDecayState(count=jnp.zeros([], jnp.int32))

  def update_fn(updates, state, params=None):
    if params is None:
      raise ValueError("params: decoupled_weight_decay needs the parameters passed to update()")
    lr = learning_rate_at(learning_rate, state.count)
    mask = penalty_mask(params, penalize)
    updates = jax.tree.map(
        lambda u, p, m: u - lr * weight_decay * p if m else u, updates, params, mask
    )
    return updates, DecoupledDecayState(count=optax.safe_increment(state.count))

  return optax.GradientTransformation(init_fn, update_fn)
