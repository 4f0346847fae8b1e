"""TrainState: everything a training run changes, as one pytree.

``params`` (trainable), ``model_state`` (non-trainable collections such as ``batch_stats``),
``opt_state`` (optax), ``step`` and ``rng`` (a raw uint32 PRNG key, so checkpoints hold plain
arrays). ``apply_fn`` and ``tx`` are static: they are code, not data, and are not checkpointed.
"""

from __future__ import annotations

from typing import Any, Callable

import flax.linen as nn
import jax
import jax.numpy as jnp
import optax
from flax import struct

# The collections a TrainState checkpoints: everything but the code.
DATA_FIELDS = ("step", "params", "model_state", "opt_state", "rng")


class TrainState(struct.PyTreeNode):
  step: jax.Array
  params: Any
  model_state: Any
  opt_state: Any
  rng: jax.Array
  apply_fn: Callable = struct.field(pytree_node=False)
  tx: optax.GradientTransformation = struct.field(pytree_node=False)

  def apply_gradients(self, grads, model_state) -> "TrainState":
    updates, opt_state = self.tx.update(grads, self.opt_state, self.params)
    return self.replace(
        step=self.step + 1,
        params=optax.apply_updates(self.params, updates),
        model_state=model_state,
        opt_state=opt_state,
    )

  def data(self) -> dict[str, Any]:
    """The checkpointed part, as a plain dict."""
    return {k: getattr(self, k) for k in DATA_FIELDS}


def create_train_state(
    model: nn.Module, tx: optax.GradientTransformation, example_input: jax.Array, seed: int | jax.Array
) -> TrainState:
  """Initialise ``model`` on ``example_input`` (one batch, any size) and ``tx`` on its params.

  ``seed``: an int, whose ``PRNGKey`` split in two gives the init key and the state's key; or the
  init key itself (what the engine's ``Task.init`` receives: the same first half), which then also
  serves as the state's key (only read by evaluation, which draws no randomness). Two processes
  (or two runs) that pass the same seed start from bitwise identical states.
  """
  if isinstance(seed, int):
    init_key, train_key = jax.random.split(jax.random.PRNGKey(seed))
  else:
    init_key = train_key = seed
  variables = model.init({"params": init_key, "dropout": init_key}, example_input, train=False)
  variables = dict(variables)
  params = variables.pop("params")
  return TrainState(
      step=jnp.zeros((), jnp.int32),
      params=params,
      model_state=variables,
      opt_state=tx.init(params),
      rng=train_key,
      apply_fn=model.apply,
      tx=tx,
  )
