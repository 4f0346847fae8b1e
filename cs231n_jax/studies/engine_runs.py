"""Helpers for studies that train ordinary Flax classifiers with the engine (``tasks.classification`` through ``train.loop.fit``).

A study is several ``fit`` runs, each in its own sub-directory of the study's workdir, followed by
analysis of the trained variables restored from the engine's checkpoints (best-validation
parameters, a given step's parameters, or the optimizer state's Polyak average). A run that
starts from another run's parameters (transfer learning) says so in its own config, through the
engine's ``train.init_from`` / ``train.init_keep_fresh``.
"""

from __future__ import annotations

import contextlib
import io
from typing import Any

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
from etils import epath
from flax import traverse_util

from cs231n_jax.tasks import classification
from cs231n_jax.train import loop
from cs231n_jax.train.checkpoint import CheckpointManager, json_safe


def variant(config: ml_collections.ConfigDict, **overrides: Any) -> ml_collections.ConfigDict:
  """A copy of ``config`` with dotted-key overrides (``**{"model.dropout_keep_ratio": 0.5}``)."""
  c = ml_collections.ConfigDict(config.to_dict())
  for dotted, value in overrides.items():
    *parents, leaf = dotted.split(".")
    node = c
    for p in parents:
      node = node[p]
    node[leaf] = value
  return c


def fit_quietly(config: ml_collections.ConfigDict, workdir: epath.Path) -> dict[str, Any]:
  """A classification run without its progress bar and summary table (many runs per study);
  returns its results."""
  config = variant(config, **{"train.progress": False})
  task, data, _ = classification.build(config)
  with contextlib.redirect_stdout(io.StringIO()):
    return loop.fit(task, data, config, str(workdir))


def restore(config: ml_collections.ConfigDict, workdir: epath.Path, step: int | None = None) -> dict[str, Any]:
  """The checkpointed tree of a finished run: ``{"state": {"params", "model_state", "opt_state",
  "step", "rng"}, "best": {"params", "model_state"}}`` (numpy arrays), with the run's model, data
  set and a freshly initialised TrainState.

  ``step=None`` restores the newest checkpoint.
  """
  config = variant(config, **{"train.progress": False})
  task, data, dataset = classification.build(config)
  template = loop.checkpoint_template(task, data, config)
  manager = CheckpointManager(epath.Path(workdir) / loop.CHECKPOINT_DIR, keep=config.train.keep_checkpoints, read_only=True)
  try:
    steps = manager.all_steps()
    if not steps:
      raise FileNotFoundError(f"{workdir}: no checkpoint")
    restored = manager.restore(steps[-1] if step is None else step, template, config=json_safe(config.to_dict()))
  finally:
    manager.close()
  tree = {"state": restored.tree["state"]["task"].data(), "best": restored.tree["best"]}
  return {"tree": tree, "model": classification.build_model(config.model, dataset.num_classes, "float32"),
          "dataset": dataset, "state": template["state"]["task"], "steps": steps}


def flatten(tree: Any) -> dict[tuple[str, ...], Any]:
  """A nested dict of arrays (params, model state) as ``{("layer", "kernel"): leaf}``."""
  return traverse_util.flatten_dict(dict(tree))


def checkpoint_steps(config: ml_collections.ConfigDict, workdir: epath.Path) -> list[int]:
  manager = CheckpointManager(epath.Path(workdir) / loop.CHECKPOINT_DIR, keep=config.train.keep_checkpoints, read_only=True)
  try:
    return manager.all_steps()
  finally:
    manager.close()


def variables_of(params: Any, model_state: Any) -> dict[str, Any]:
  return {"params": params, **(model_state or {})}


def predict_probs(model, variables: dict[str, Any], images: np.ndarray, batch_size: int = 512) -> np.ndarray:
  """Softmax class probabilities of ``model`` (eval mode) on ``images``."""
  apply = jax.jit(lambda v, x: jax.nn.softmax(model.apply(v, x, train=False), axis=-1))
  out = [np.asarray(apply(variables, jnp.asarray(images[i:i + batch_size]))) for i in range(0, len(images), batch_size)]
  return np.concatenate(out)


def accuracy(probs: np.ndarray, labels: np.ndarray) -> float:
  return float(np.mean(np.argmax(probs, axis=-1) == labels))


def nll(probs: np.ndarray, labels: np.ndarray) -> float:
  """Mean negative log-likelihood of the true labels (the softmax loss of averaged probabilities)."""
  return float(-np.mean(np.log(np.maximum(probs[np.arange(len(labels)), labels], 1e-12))))
