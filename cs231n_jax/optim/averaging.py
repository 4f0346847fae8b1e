"""Polyak averaging (lecture 7, seed lines 8099-8112), as a gradient transformation.

"Keep a moving average of the parameter vector and use that at test time":
``x_test = 0.995 * x_test + 0.005 * x``. :func:`polyak_average` keeps that average in the optimizer
state, exactly this formula, starting from the initial parameters (no debiasing, unlike
``optax.ema``'s default), so any training loop gets it for free; :func:`averaged_params` reads it
back.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

POLYAK_DECAY = 0.995  # the slide's x_test = 0.995 * x_test + 0.005 * x


class PolyakState(NamedTuple):
  average: Any  # the averaged parameters, x_test on the slide


def polyak_average(decay: float = POLYAK_DECAY) -> optax.GradientTransformation:
  """Keep ``x_test = decay * x_test + (1 - decay) * x`` of the *updated* parameters in the state.

  Leaves the updates unchanged; chain it last. ``x_test`` starts at the initial parameters.
  """

  def init_fn(params):
    return PolyakState(average=jax.tree.map(jnp.asarray, params))

  def update_fn(updates, state, params=None):
    if params is None:
      raise ValueError("params: polyak_average needs the parameters passed to update()")
    new_params = optax.apply_updates(params, updates)
    average = jax.tree.map(lambda a, x: decay * a + (1 - decay) * x, state.average, new_params)
    return updates, PolyakState(average=average)

  return optax.GradientTransformation(init_fn, update_fn)


def averaged_params(opt_state: Any) -> Any:
  """The Polyak-averaged parameters held in ``opt_state`` (from an optimizer with ``ema_decay``)."""
  found = [s for s in _walk_states(opt_state) if isinstance(s, PolyakState)]
  if not found:
    raise ValueError("opt_state: holds no Polyak average; build the optimizer with optimizer.ema_decay set")
  return found[0].average


def _walk_states(state: Any):
  """Every NamedTuple state inside nested optax states (chains, multi_transform, masked)."""
  yield state
  if isinstance(state, PolyakState):
    return
  children: list = []
  if isinstance(state, (tuple, list)):
    children = list(state)
  elif isinstance(state, dict):
    children = list(state.values())
  elif hasattr(state, "inner_states"):  # optax.multi_transform
    children = list(state.inner_states.values())
  for child in children:
    if hasattr(child, "inner_state"):  # optax.masked
      child = child.inner_state
    yield from _walk_states(child)

