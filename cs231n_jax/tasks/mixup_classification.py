"""Classification trained on mixup blends (notes 7, L597; :mod:`cs231n_jax.techniques.mixup`).

Everything is the classification task's (data, model, optimizer, evaluation on clean images,
best state by validation accuracy) except the training step: each batch is first augmented as
``data.augment`` says, then blended with a permutation of itself, x̃ = λ x_i + (1 − λ) x_j with
λ ~ Beta(α, α) per example (``mixup.alpha``), and the loss is λ CE(y_i) + (1 − λ) CE(y_j). The
reported training accuracy is against y_i. A blend partner must be a real example, so a run needs
``train.last_batch = "drop"`` (no padded rows in a training batch).

``run(config, workdir)`` is the runner a config names: ``cs231n_jax.tasks.mixup_classification:run``.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import jax
import jax.numpy as jnp
import ml_collections
import optax

from cs231n_jax.data import augment
from cs231n_jax.errors import ConfigError
from cs231n_jax.tasks import classification
from cs231n_jax.techniques.mixup import mixup, mixup_cross_entropy
from cs231n_jax.train import loop
from cs231n_jax.train.state import TrainState
from cs231n_jax.train.steps import mean_over_valid, psum_if

RUNNER = "cs231n_jax.tasks.mixup_classification:run"


def base_config() -> ml_collections.ConfigDict:
  """The classification defaults plus ``mixup.alpha``; batches drop the short last one."""
  c = classification.base_config()
  c.runner = RUNNER
  c.mixup = ml_collections.ConfigDict({"alpha": 0.2})
  c.train.last_batch = "drop"
  return c


def mixup_train_step(state: TrainState, batch, rng, axis_name: str | None = None, *, alpha: float, num_classes: int,
                     augment_ops=()):
  """One step on the mixup loss of the batch (blends within this device's rows under ``pmap``)."""
  dropout_rng, augment_rng, mix_rng = jax.random.split(rng, 3)
  ops = tuple((name, dict(kwargs)) for name, kwargs in augment_ops)
  images = augment.augment(augment_rng, batch["image"], ops) if ops else batch["image"]
  images, _, lam, partner = mixup(mix_rng, images, batch["label"], num_classes, alpha)
  mask = batch["mask"]

  def loss_fn(params):
    logits, model_state, _ = classification.apply_model(state, params, images, True, dropout_rng)
    loss = mean_over_valid(mixup_cross_entropy(logits, batch["label"], lam, partner), mask, axis_name)
    return loss, (logits, model_state)

  (loss, (logits, model_state)), grads = jax.value_and_grad(loss_fn, has_aux=True)(state.params)
  grads = psum_if(grads, axis_name)
  loss = psum_if(loss, axis_name)
  accuracy = psum_if(mean_over_valid(jnp.argmax(logits, -1) == batch["label"], mask, axis_name), axis_name)
  return state.apply_gradients(grads, model_state), {"loss": loss, "accuracy": accuracy, "grad_norm": optax.tree.norm(grads),
                                                     "mean_lambda": jnp.mean(lam)}


def build(config: ml_collections.ConfigDict, with_report: bool = False):
  """The classification task of ``config`` with the mixup step; returns (task, data, dataset)."""
  alpha = config.get("mixup", {}).get("alpha", None)
  if alpha is None or not alpha > 0:
    raise ConfigError(f"mixup.alpha: expected a positive Beta(α, α) parameter, got {alpha!r}")
  if config.train.last_batch != "drop":
    raise ConfigError(f"train.last_batch: mixup blends rows with each other, so it needs 'drop', got {config.train.last_batch!r}")
  task, data, dataset = classification.build(config, with_report)
  ops = classification.parse_augment(config.data.get("augment", ""))

  def step(state, batch, rng, axis_name=None):
    return mixup_train_step(state, batch, rng, axis_name, alpha=float(alpha), num_classes=dataset.num_classes, augment_ops=ops)

  return dataclasses.replace(task, train_step=step, name="mixup_classification"), data, dataset


def run(config: ml_collections.ConfigDict, workdir: str) -> dict[str, Any]:
  """Train ``config.model`` on mixup blends of ``config.data`` in ``workdir``; returns the final results."""
  task, data, _ = build(config, with_report=True)
  return loop.fit(task, data, config, workdir)
