"""The copy / long-lag task: remember the first symbol across a long stretch of distractors.

Each sequence is ``s, d_1, …, d_{L-2}, ?``: a symbol s from ``num_symbols`` classes, then L-2
distractors drawn from a separate alphabet, then a query token; the network must output s at the
query. Nothing between the first and the last step helps, so the answer has to be carried for
L-1 steps — and the gradient that teaches it has to travel back the same distance. Chance is
1 / num_symbols.

Lecture 10's claims, checked: "Vanilla RNNs are simple but don't work very well"; "Common to use
LSTM or GRU: their additive interactions improve gradient flow"; "Vanishing is controlled with
additive interactions (LSTM)". The task is :mod:`cs231n_jax.tasks.copy`; the study comparing the
cells (same hidden size, optimiser, clipping and number of steps) with the gradient-flow profile
(:mod:`gradient_flow`) of each trained network is :mod:`cs231n_jax.studies.copy_task`.
"""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from cs231n_jax.errors import ConfigError
from cs231n_jax.models.registry import register
from cs231n_jax.nn.recurrent import RecurrentStack, make_cell
from cs231n_jax.text.gradient_flow import state_gradient_norms

Array = jax.Array


def vocabulary_size(num_symbols: int, num_distractors: int) -> int:
  return num_symbols + num_distractors + 1  # + the query token


def make_batch(key: Array, batch_size: int, length: int, num_symbols: int, num_distractors: int) -> tuple[Array, Array]:
  """(inputs (B, length) ids, targets (B,)): symbol first, distractors, query token last."""
  if length < 3:
    raise ConfigError(f"length: the copy task needs at least 3 steps (symbol, distractor, query), got {length}")
  k1, k2 = jax.random.split(key)
  symbols = jax.random.randint(k1, (batch_size,), 0, num_symbols)
  distractors = jax.random.randint(k2, (batch_size, length - 2), num_symbols, num_symbols + num_distractors)
  query = jnp.full((batch_size, 1), num_symbols + num_distractors)
  return jnp.concatenate([symbols[:, None], distractors, query], axis=1).astype(jnp.int32), symbols.astype(jnp.int32)


def gate_kwargs(cell: str, forget_bias: float, update_bias: float) -> dict[str, float]:
  return {"lstm": {"forget_bias": forget_bias}, "gru": {"update_bias": update_bias}}.get(cell, {})


@register("copy_net", "The copy (long-lag) task's net: one-hot symbols - recurrent layer - read-out of the last step.",
          input_shape=None, family="char_lm")
class CopyNet(nn.Module):
  """One-hot inputs - recurrent layer - linear read-out of the last output."""

  cell: str
  hidden_size: int
  vocab_size: int
  num_symbols: int
  forget_bias: float = 1.0  # LSTM only
  update_bias: float = 0.0  # GRU only

  @nn.compact
  def __call__(self, tokens: Array) -> Array:
    kwargs = gate_kwargs(self.cell, self.forget_bias, self.update_bias)
    _, h = RecurrentStack(self.cell, self.hidden_size, cell_kwargs=kwargs, name="rnn")(jax.nn.one_hot(tokens, self.vocab_size))
    return nn.Dense(self.num_symbols, name="head")(h[:, -1])


def trained_gradient_profile(model: CopyNet, params, length: int, num_distractors: int, key) -> np.ndarray:
  """‖∂(correct logit)/∂state_t‖ over one test sequence for a trained CopyNet."""
  tokens, target = make_batch(key, 1, length, model.num_symbols, num_distractors)
  cell_params = params["rnn"]["layer_0"]
  # The trained layer's cell, stepped by hand.
  cell = make_cell(model.cell, model.hidden_size, **gate_kwargs(model.cell, model.forget_bias, model.update_bias))
  xs = jax.nn.one_hot(tokens[0], model.vocab_size)
  carry0 = cell.initialize_carry(None, (model.vocab_size,))
  step = lambda c, x: cell.apply({"params": cell_params}, c, x)[0]
  readout = params["head"]["kernel"][:, target[0]]
  return np.asarray(state_gradient_norms(step, carry0, xs, readout))
