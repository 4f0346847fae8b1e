"""Adversarial training (Madry et al. 2018; lecture 13's defence): classification on PGD examples.

The classification task (:mod:`cs231n_jax.tasks.classification`) with two changes, and nothing
copied: each training step first replaces ``adv_fraction`` of the batch by untargeted L-inf (or L2)
PGD examples made against the current parameters (:func:`cs231n_jax.vis.adversarial.pgd`, a
``lax.scan`` inside the step, from a random start in the ball; the attack sees the model in eval
mode and its result is a constant for the parameter gradient), then takes the classification step
on that batch; evaluation adds ``robust_accuracy``, the accuracy under the same attack at the
evaluation epsilon (``adversarial.eval_epsilon``). Pixels must lie in [0, 1]
(``data.subtract_mean = False``).

Config fields (beyond classification's): ``adversarial.{norm, epsilon, step_size, steps, adv_fraction,
eval_epsilon, eval_steps}``; ``adversarial.epsilon = 0`` trains normally (the baseline run).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import jax
import jax.numpy as jnp
import ml_collections
import optax

from cs231n_jax import optim
from cs231n_jax.data import load_dataset
from cs231n_jax.errors import ConfigError
from cs231n_jax.tasks import classification
from cs231n_jax.train import loop, parallel
from cs231n_jax.train.state import TrainState
from cs231n_jax.vis import adversarial
from cs231n_jax.vis import digits_cnn as _digits_cnn  # noqa: F401  (registers vis_digits_cnn)

RUNNER = "cs231n_jax.tasks.robust_classification:run"


def base_config() -> ml_collections.ConfigDict:
  c = classification.base_config()
  c.runner = RUNNER
  c.data.subtract_mean = False
  c.adversarial = ml_collections.ConfigDict({
      "norm": "linf", "epsilon": 0.2, "step_size": 0.05, "steps": 7, "adv_fraction": 1.0,
      "eval_epsilon": 0.2, "eval_steps": 20})
  return c


def check_adversarial(a: ml_collections.ConfigDict, subtract_mean: bool) -> None:
  if a.norm not in adversarial.NORMS:
    raise ConfigError(f"adversarial.norm: expected one of {adversarial.NORMS}, got {a.norm!r}")
  if a.epsilon < 0 or a.eval_epsilon < 0:
    raise ConfigError(f"adversarial.epsilon / eval_epsilon: expected >= 0, got {a.epsilon}, {a.eval_epsilon}")
  if a.steps < 1 or a.eval_steps < 1 or a.step_size <= 0:
    raise ConfigError("adversarial.steps / eval_steps / step_size: expected >= 1, >= 1, > 0")
  if not 0.0 <= a.adv_fraction <= 1.0:
    raise ConfigError(f"adversarial.adv_fraction: expected a fraction in [0, 1], got {a.adv_fraction}")
  if subtract_mean:
    raise ConfigError("data.subtract_mean: expected False (attacks clip pixels to [0, 1])")


def _logits_fn(state: TrainState, params):
  return lambda x: classification.apply_model(state, params, x, False, state.rng)[0]


def attack(state: TrainState, images: jax.Array, labels: jax.Array, key: jax.Array, epsilon: float, step_size: float,
           steps: int, norm: str) -> jax.Array:
  """Untargeted PGD against the state's parameters (a constant for the caller's gradient)."""
  params = jax.lax.stop_gradient(state.params)
  adv, _ = adversarial.pgd(_logits_fn(state, params), images, labels, epsilon, step_size, steps, norm=norm, key=key)
  return jax.lax.stop_gradient(adv)


def robust_train_step(state: TrainState, batch, rng, axis_name: str | None = None, a: dict | None = None, **step_kwargs):
  """PGD examples for the first ``adv_fraction`` of the batch, then classification's step on it."""
  attack_key, step_key = jax.random.split(rng)
  images = batch["image"]
  if a["epsilon"] > 0 and a["adv_fraction"] > 0:
    adv = attack(state, images, batch["label"], attack_key, a["epsilon"], a["step_size"], a["steps"], a["norm"])
    n_adv = int(round(a["adv_fraction"] * images.shape[0]))
    use = (jnp.arange(images.shape[0]) < n_adv)[:, None, None, None]
    images = jnp.where(use, adv, images)
  return classification.train_step(state, dict(batch, image=images), step_key, axis_name, **step_kwargs)


def robust_eval_step(state: TrainState, batch, a: dict | None = None):
  """Classification's sums plus ``robust_accuracy_sum`` under PGD at ``eval_epsilon`` (fixed key per batch)."""
  sums = classification.eval_step(state, batch)
  key = jax.random.fold_in(state.rng, 7)
  adv = attack(state, batch["image"], batch["label"], key, a["eval_epsilon"], a["step_size"], a["eval_steps"], a["norm"])
  pred = jnp.argmax(_logits_fn(state, state.params)(adv), -1)
  sums["robust_accuracy_sum"] = jnp.sum((pred == batch["label"]) * batch["mask"])
  return sums


def build(config: ml_collections.ConfigDict):
  classification.check_config(config)
  check_adversarial(config.adversarial, config.data.subtract_mean)
  parallel.initialize()
  t = config.train
  dataset = load_dataset(config.data)
  data = classification.classification_data(dataset, config)
  num_steps = loop.total_steps(t, data.train.steps_per_epoch)
  model = classification.prepare_model(classification.build_model(config.model, dataset.num_classes, t.compute_dtype),
                                       t.step)
  tx: optax.GradientTransformation = optim.make_optimizer(config.optimizer, num_steps)
  a = dict(config.adversarial.to_dict())
  augment_ops = classification.parse_augment(config.data.get("augment", ""))
  base = classification.classification_task(model, tx, augment_ops=augment_ops)

  def step(state, batch, rng, axis_name=None):
    return robust_train_step(state, batch, rng, axis_name, a, augment_ops=augment_ops)

  task = dataclasses.replace(base, train_step=step, eval_step=lambda state, batch: robust_eval_step(state, batch, a),
                             name="robust_classification")
  return task, data, dataset


def run(config: ml_collections.ConfigDict, workdir: str) -> dict[str, Any]:
  """Train with PGD examples; results include ``robust_accuracy`` on every split."""
  task, data, _ = build(config)
  return loop.fit(task, data, config, workdir)
