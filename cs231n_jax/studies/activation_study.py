"""Activations and their gradient flow on a trained network; dead ReLUs counted; batch norm at a high
learning rate (lectures 6-7). Every network is trained by the engine (``tasks.classification.run``).

- :func:`run_activation_study`: the digits MLP with each activation of lecture 6 (sigmoid, tanh,
  ReLU, leaky ReLU, PReLU, ELU, maxout), and ReLU at a learning rate too high for it. For every
  hidden unit of the trained network: *dead* if its pre-activation is <= 0 on every training
  example (a ReLU unit then gets no gradient, ever: "what is the gradient when x < 0?"); for sigmoid
  and tanh the fraction of unit activations in the saturated range (``|tanh| > 0.99``,
  ``sigmoid < 0.01`` or ``> 0.99``), where the local gradient is below 0.02.
- :func:`run_batchnorm_learning_rates`: the same deep MLP with and without batch norm over a range
  of learning rates: which rates train, which diverge (the engine stops on a NaN loss) — "allows
  higher learning rates".
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
from etils import epath

from cs231n_jax.errors import ConfigError
from cs231n_jax.nn.activations import ALL_ACTIVATIONS
from cs231n_jax.studies import engine_runs as er
from cs231n_jax.studies.regularizer_study import merge
from cs231n_jax.train.loop import TrainingDiverged

SATURATION = 0.99  # |tanh| above, or sigmoid outside (0.01, 0.99): local gradient < 0.02


def hidden_preactivations(model, variables: dict[str, Any], images: np.ndarray) -> list[np.ndarray]:
  """The output of each ``hidden{i}`` layer (dense or maxout) of ``technique_mlp``, eval mode."""
  _, state = jax.jit(lambda v, x: model.apply(v, x, train=False, capture_intermediates=True,
                                               mutable=["intermediates"]))(variables, jnp.asarray(images))
  inter = state["intermediates"]
  names = sorted((k for k in inter if k.startswith("hidden")), key=lambda k: int(k[len("hidden"):]))
  return [np.asarray(inter[k]["__call__"][0]) for k in names]


def unit_statistics(activation: str, preacts: list[np.ndarray]) -> dict[str, Any]:
  """Dead units (never positive) per layer, and the saturated fraction for sigmoid / tanh."""
  dead = [int(np.sum(np.all(z <= 0, axis=0))) for z in preacts]
  out = {"units_per_layer": [int(z.shape[1]) for z in preacts], "never_positive_per_layer": dead,
         "never_positive_fraction": float(sum(dead) / sum(z.shape[1] for z in preacts))}
  if activation == "tanh":
    out["saturated_fraction"] = float(np.mean([np.mean(np.abs(np.tanh(z)) > SATURATION) for z in preacts]))
  elif activation == "sigmoid":
    s = [1 / (1 + np.exp(-z)) for z in preacts]
    out["saturated_fraction"] = float(np.mean([np.mean((v < 1 - SATURATION) | (v > SATURATION)) for v in s]))
  return out


def run_activation_study(config: ml_collections.ConfigDict, workdir: str) -> dict[str, Any]:
  """Every run of ``config.runs`` (name -> {"activation", optional "optimizer" overrides})."""
  workdir = epath.Path(workdir)
  workdir.mkdir(parents=True, exist_ok=True)
  results = {}
  for name, spec in config.runs.to_dict().items():
    act = spec["activation"]
    if act not in ALL_ACTIVATIONS:
      raise ConfigError(f"runs.{name}.activation: expected one of {ALL_ACTIVATIONS}, got {act!r}")
    base = {k: v for k, v in config.to_dict().items() if k != "runs"}
    c = merge(ml_collections.ConfigDict(base), {"model": {"activation": act}, "optimizer": spec.get("optimizer", {})})
    wd = workdir / name
    try:
      r = er.fit_quietly(c, wd)
    except TrainingDiverged as e:
      results[name] = {"activation": act, "diverged": str(e)}
      continue
    restored = er.restore(c, wd)
    state = restored["tree"]["state"]  # the final parameters: dead units do not come back
    variables = er.variables_of(state["params"], state["model_state"])
    preacts = hidden_preactivations(restored["model"], variables, restored["dataset"].train.images)
    results[name] = {"activation": act, "learning_rate": c.optimizer.learning_rate, "optimizer": c.optimizer.name,
                     "best_val_accuracy": r["val_accuracy"], "train_loss": r["train_loss"],
                     **unit_statistics(act, preacts)}
  return results


def run_batchnorm_learning_rates(config: ml_collections.ConfigDict, workdir: str) -> dict[str, Any]:
  """The deep MLP without / with batch norm at each rate of ``config.learning_rates``."""
  if not config.learning_rates:
    raise ConfigError("learning_rates: expected at least one learning rate")
  workdir = epath.Path(workdir)
  workdir.mkdir(parents=True, exist_ok=True)
  base = {k: v for k, v in config.to_dict().items() if k != "learning_rates"}
  rows = []
  for lr in config.learning_rates:
    for norm in ("none", "batch"):
      c = merge(ml_collections.ConfigDict(base), {"model": {"normalization": norm}, "optimizer": {"learning_rate": float(lr)}})
      try:
        r = er.fit_quietly(c, workdir / f"{norm}_lr{lr:g}")
        rows.append({"learning_rate": float(lr), "normalization": norm, "diverged": False,
                     "val_accuracy": r["val_accuracy"], "test_accuracy": r["test_accuracy"], "train_loss": r["train_loss"]})
      except TrainingDiverged as e:
        rows.append({"learning_rate": float(lr), "normalization": norm, "diverged": True, "message": str(e)})
  return {"runs": rows}
