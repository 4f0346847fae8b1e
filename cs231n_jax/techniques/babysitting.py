"""Babysitting the learning process (lecture 6, seed lines 6439-6997): checks, monitors, early stop.

- :func:`update_weight_ratios`: the slide's ``update_scale / param_scale`` (``||-lr dW|| / ||W||``)
  for every parameter of any pytree (Flax params included), "want ~1e-3".
- :class:`ExplosionStop`: "if the cost is ever > 3 * original cost, break out early", and NaN
  ("cost: NaN almost always means high learning rate"), for host-side training loops; the vmapped
  program of :mod:`~cs231n_jax.techniques.functional_mlp` applies the same rule inside the program.
- :func:`sanity_checks`: the slide's protocol — the initial loss is ln(10) for 10 classes with small
  weights and no regularisation; cranking up regularisation raises it; a small net overfits 20
  examples to 100% training accuracy with regularisation off.

The loss-curve diagnosis study that uses them is :mod:`cs231n_jax.studies.babysitting`.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from cs231n_jax.optim.factory import param_path
from cs231n_jax.techniques import functional_mlp as fm

TARGET_RATIO = 1e-3  # "want ~1e-3"
EXPLODE_FACTOR = fm.EXPLODE_FACTOR
SMALL_INIT = 1e-4  # the slide's 0.0001 * randn
OVERFIT_EXAMPLES = 20
TINY = 1e-12
INITS = {"he": None, "small": SMALL_INIT}  # a run's "init" -> weight std (None: He, sqrt(2 / fan_in))


def update_weight_ratios(params: Any, updates: Any) -> dict[str, float]:
  """``||update|| / ||param||`` for every leaf, keyed by its path (``"Dense_0/kernel"``)."""
  ratios = {}
  flat_p = jax.tree_util.tree_flatten_with_path(params)[0]
  flat_u = jax.tree.leaves(updates)
  if len(flat_p) != len(flat_u):
    raise ValueError(f"updates: expected the structure of params ({len(flat_p)} leaves), got {len(flat_u)} leaves")
  for (path, p), u in zip(flat_p, flat_u):
    if np.shape(p) != np.shape(u):
      raise ValueError(f"updates: {param_path(path)} has shape {np.shape(u)}, its parameter {np.shape(p)}")
    ratios[param_path(path)] = float(jnp.linalg.norm(u) / (jnp.linalg.norm(p) + TINY))
  return ratios


@dataclasses.dataclass
class ExplosionStop:
  """Feed it every loss; ``check(loss)`` returns ``None`` to go on, or why to stop."""

  factor: float = EXPLODE_FACTOR
  initial: float | None = None

  def check(self, loss: float) -> str | None:
    loss = float(loss)
    if not math.isfinite(loss):
      return f"loss is {loss}: the learning rate is almost certainly too high"
    if self.initial is None:
      self.initial = loss
      return None
    if loss > self.factor * self.initial:
      return f"loss {loss:.4g} > {self.factor:g} x initial {self.initial:.4g}: exploding"
    return None


def sanity_checks(seed: int = 0) -> dict[str, Any]:
  """The slide's three checks on the digits 2-layer net (hidden 50, weights 1e-4 * randn)."""
  data = fm.digits_arrays()
  key = jax.random.PRNGKey(seed)
  params = fm.init_mlp(key, data.input_dim, (50,), data.num_classes, SMALL_INIT)
  loss0 = float(fm.softmax_loss(params, data.x_train, data.y_train, 0.0))
  loss_reg = float(fm.softmax_loss(params, data.x_train, data.y_train, 1e3))
  tiny = fm.Arrays(data.x_train[:OVERFIT_EXAMPLES], data.y_train[:OVERFIT_EXAMPLES],
                   data.x_train[:OVERFIT_EXAMPLES], data.y_train[:OVERFIT_EXAMPLES], data.num_classes)
  # The slide: 200 epochs, full batch (sample_batches=False), sgd, reg 0; He init and lr 0.5 for digits.
  spec = fm.RunSpec(hidden_dims=(50,), rule="sgd", num_epochs=200, batch_size=OVERFIT_EXAMPLES, early_stop=False)
  out = jax.jit(fm.make_train_run(spec, tiny))(jnp.float32(0.5), jnp.float32(0.0), key)
  final_params = out["params"]
  return {
      "initial_loss": loss0, "ln_10": math.log(10.0), "initial_loss_reg_1e3": loss_reg,
      "overfit_train_accuracy": float(out["train_accuracy"]),
      "overfit_final_loss": float(fm.softmax_loss(final_params, tiny.x_train, tiny.y_train, 0.0)),
  }
