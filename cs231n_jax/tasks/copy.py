"""The copy / long-lag task as a task: recall the first symbol across a long stretch of distractors.

The sequences (:func:`cs231n_jax.text.copy_task.make_batch`) are synthetic and endless: every
training step draws its own batch on the device from the step's key (a function of the run's seed
and the step, so a resumed run sees the same sequences); the engine's training iterator only
yields the batch's row indices, which fix the batch size. Evaluation uses fixed held-out sequences:
``val`` (drawn from ``seed + 1_000_003``, the same for every cell, picks the best state) and
``test`` (``seed + 2_000_003``). The metric is accuracy at the query step (chance
``1 / num_symbols``).

:mod:`cs231n_jax.studies.copy_task` trains every cell of a config with this task and compares
accuracies and gradient-flow profiles.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Mapping

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax

from cs231n_jax import optim
from cs231n_jax.data.pipeline import ArraySource, eval_batches
from cs231n_jax.errors import ConfigError
from cs231n_jax.models.registry import get_model
from cs231n_jax.nn.recurrent import CELL_KINDS
from cs231n_jax.text.copy_task import CopyNet, make_batch, vocabulary_size
from cs231n_jax.train import loop
from cs231n_jax.train.steps import mean_over_valid, psum_if
from cs231n_jax.train.task import Data, Task

VAL_SEED_OFFSET = 1_000_003
TEST_SEED_OFFSET = 2_000_003


def base_config() -> ml_collections.ConfigDict:
  """Every field a copy-task run reads (one cell: ``model.cell``; the study trains ``cells``)."""
  c = ml_collections.ConfigDict()
  c.runner = "cs231n_jax.studies.copy_task:run"
  c.seed = 0
  c.cells = ("rnn", "lstm", "gru")  # the study's cells; each run sets model.cell
  c.task = ml_collections.ConfigDict({"length": 50, "num_symbols": 8, "num_distractors": 8, "eval_examples": 2048})
  c.model = ml_collections.ConfigDict({
      "cell": "lstm", "hidden_size": 64,
      # The LSTM's forget gates start at sigmoid(bias): with bias 1 a signal 50 steps back is scaled
      # by about 0.73^50 at initialisation (see gradient_flow); bias 3 (0.95^50 = 0.08) lets it learn.
      "lstm_forget_bias": 3.0,
      "gru_update_bias": 3.0,  # the same head start for the GRU's update gate (z = σ(3) = 0.95 kept)
  })
  c.optimizer = optim.default_config("adam", 3e-3)
  c.optimizer.eps = 1e-8
  c.optimizer.grad_clip_norm = 1.0
  c.train = loop.engine_config()
  c.train.update({"batch_size": 64, "num_steps": 3000, "eval_every": 100, "log_every": 100,
                  "eval_batch_size": 2048, "checkpoint_every": 1000, "keep_checkpoints": 1})
  return c


def check_config(config: ml_collections.ConfigDict) -> None:
  """Raise ``ConfigError`` naming the first impossible value."""
  for block, name in (("task", "length"), ("task", "num_symbols"), ("task", "num_distractors"),
                      ("task", "eval_examples"), ("model", "hidden_size")):
    v = config[block][name]
    if isinstance(v, bool) or not isinstance(v, int) or v < 1:
      raise ConfigError(f"{block}.{name}: expected a positive integer, got {v!r}")
  if config.task.length < 3:
    raise ConfigError(f"task.length: the copy task needs at least 3 steps (symbol, distractor, query), got {config.task.length}")
  unknown = [c for c in (*config.get("cells", ()), config.model.cell) if c not in CELL_KINDS]
  if unknown:
    raise ConfigError(f"cells: expected names from {CELL_KINDS}, got {unknown[0]!r}")
  loop.check_engine_config(config.train)


def build_model(config: ml_collections.ConfigDict) -> CopyNet:
  t, m = config.task, config.model
  return get_model("copy_net", cell=m.cell, hidden_size=m.hidden_size,
                   vocab_size=vocabulary_size(t.num_symbols, t.num_distractors), num_symbols=t.num_symbols,
                   forget_bias=m.lstm_forget_bias, update_bias=m.gru_update_bias)


def train_step(model: CopyNet, tx: optax.GradientTransformation, length: int, num_distractors: int,
               state, batch, key, axis_name: str | None = None):
  """One update on a batch of fresh sequences drawn from ``key`` (as many as ``batch["index"]`` rows)."""
  tokens, targets = make_batch(key, batch["index"].shape[0], length, model.num_symbols, num_distractors)
  ones = jnp.ones(targets.shape, jnp.float32)

  def loss_fn(params):
    logits = model.apply({"params": params}, tokens)
    return mean_over_valid(optax.softmax_cross_entropy_with_integer_labels(logits, targets), ones, axis_name), logits

  (loss, logits), grads = jax.value_and_grad(loss_fn, has_aux=True)(state["params"])
  grads = psum_if(grads, axis_name)
  updates, opt_state = tx.update(grads, state["opt_state"], state["params"])
  accuracy = mean_over_valid(jnp.argmax(logits, -1) == targets, ones, axis_name)
  new = {"params": optax.apply_updates(state["params"], updates), "opt_state": opt_state}
  return new, {"loss": psum_if(loss, axis_name), "accuracy": psum_if(accuracy, axis_name)}


def eval_step(model: CopyNet, state, batch):
  logits = model.apply({"params": state["params"]}, batch["tokens"])
  mask = batch["mask"]
  losses = optax.softmax_cross_entropy_with_integer_labels(logits, batch["targets"])
  return {"loss_sum": jnp.sum(losses * mask), "accuracy_sum": jnp.sum((jnp.argmax(logits, -1) == batch["targets"]) * mask),
          "count": jnp.sum(mask)}


def copy_task(model: CopyNet, tx: optax.GradientTransformation, length: int, num_distractors: int, finish=None) -> Task:
  """The task for ``model`` trained with ``tx``; the best state is the parameters with the highest
  val accuracy."""

  def init(key, example):
    del example
    params = model.init(key, jnp.zeros((1, length), jnp.int32))["params"]
    return {"params": params, "opt_state": tx.init(params)}

  def step(state, batch, key, axis_name=None):
    return train_step(model, tx, length, num_distractors, state, batch, key, axis_name)

  return Task(init=init, train_step=step, eval_step=lambda s, b: eval_step(model, s, b), metric="accuracy",
              mode="max", best=lambda s: s["params"], with_best=lambda s, p: {**s, "params": p}, finish=finish,
              name="copy")


@dataclasses.dataclass
class StepIndices:
  """The training "batches" of a task that draws its sequences on the device: row indices only.
  ``steps_per_epoch`` is a reporting unit (the sequences never repeat)."""

  batch_size: int
  steps_per_epoch: int = 100
  position: int = 0

  def __next__(self) -> dict[str, np.ndarray]:
    self.position += 1
    return {"index": np.arange(self.batch_size, dtype=np.int32)}

  def state(self) -> dict[str, int]:
    return {"position": self.position}

  def restore(self, state: Mapping[str, int]) -> None:
    self.position = int(state["position"])


def held_out(config: ml_collections.ConfigDict, offset: int) -> ArraySource:
  t = config.task
  tokens, targets = make_batch(jax.random.PRNGKey(config.seed + offset), t.eval_examples, t.length, t.num_symbols,
                               t.num_distractors)
  return ArraySource({"tokens": np.asarray(tokens), "targets": np.asarray(targets)})


def copy_data(config: ml_collections.ConfigDict) -> Data:
  t = config.train
  sources = {"val": held_out(config, VAL_SEED_OFFSET), "test": held_out(config, TEST_SEED_OFFSET)}
  evals = {name: (lambda n=name: eval_batches(sources[n], t.eval_batch_size, name=n)) for name in sources}
  train = StepIndices(t.batch_size, t.eval_every or 100)
  return Data(train=train, eval=evals, example={"index": np.arange(1, dtype=np.int32)}, batch_size=t.batch_size)


def build(config: ml_collections.ConfigDict, finish=None) -> tuple[Task, Data, CopyNet]:
  """``(task, data, model)`` for one cell (``config.model.cell``)."""
  check_config(config)
  data = copy_data(config)
  num_steps = loop.total_steps(config.train, data.train.steps_per_epoch)
  model = build_model(config)
  tx = optim.make_optimizer(config.optimizer, num_steps)
  return copy_task(model, tx, config.task.length, config.task.num_distractors, finish), data, model


def run(config: ml_collections.ConfigDict, workdir: str) -> dict[str, Any]:
  """Train ``config.model.cell`` on the copy task (one cell; the study runs several)."""
  task, data, _ = build(config)
  return loop.fit(task, data, config, workdir)


def evaluate(config: ml_collections.ConfigDict, workdir: str, split: str = "test") -> dict[str, Any]:
  """Accuracy and loss of the best checkpointed parameters on ``split``."""
  task, data, _ = build(config)
  return loop.evaluate_run(task, data, config, workdir, split)
