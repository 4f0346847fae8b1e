"""Sequence to sequence as a task (:mod:`cs231n_jax.text.seq2seq`): reverse or sort ``task.length``
symbols.

Training sequences are synthetic and endless, drawn on the device from the step's key (as
:mod:`cs231n_jax.tasks.copy` does; a resumed run sees the same sequences), with teacher forcing
(the decoder reads y^{t-1}; ``model.train_feed="output"``: free-running, it reads its own softmax
o^{t-1}; ``model.recurrence``: :mod:`cs231n_jax.text.seq2seq`). Evaluation decodes greedily (the
decoder reads its own argmax o^{t-1}) on fixed held-out sequences (``val`` from ``seed +
1_000_003``, ``test`` from ``seed + 2_000_003``): ``token_accuracy`` (the metric that picks the
best state), ``sequence_accuracy`` (every symbol right), and in the training mode (teacher-forced
or free-running) the ``loss`` and ``forced_token_accuracy`` (with teacher forcing every step reads
the true y^{t-1}, so its gap to ``token_accuracy`` is what greedy decoding loses to its own earlier
mistakes).
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax

from cs231n_jax import optim
from cs231n_jax.data.pipeline import ArraySource, eval_batches
from cs231n_jax.errors import ConfigError
from cs231n_jax.models.registry import get_model
from cs231n_jax.tasks.copy import StepIndices
from cs231n_jax.text.seq2seq import RECURRENCES, TASKS, TRAIN_FEEDS, make_batch
from cs231n_jax.train import loop
from cs231n_jax.train.steps import mean_over_valid, psum_if
from cs231n_jax.train.task import Data, Task

RUNNER = "cs231n_jax.tasks.seq2seq:run"
VAL_SEED_OFFSET = 1_000_003
TEST_SEED_OFFSET = 2_000_003


def base_config() -> ml_collections.ConfigDict:
  """Every field a seq2seq run reads."""
  c = ml_collections.ConfigDict()
  c.runner = RUNNER
  c.seed = 0
  c.task = ml_collections.ConfigDict({"kind": "reverse", "length": 10, "num_symbols": 10, "eval_examples": 1024})
  c.model = ml_collections.ConfigDict({"attention": True, "hidden_size": 128, "embed_dim": 32, "attention_dim": 64,
                                      "recurrence": "hidden", "train_feed": "target",
                                      "bidirectional": False})
  c.optimizer = optim.default_config("adam", 3e-3)
  c.optimizer.eps = 1e-8
  c.optimizer.grad_clip_norm = 1.0
  c.train = loop.engine_config()
  c.train.update({"batch_size": 64, "num_steps": 2000, "eval_every": 500, "log_every": 100,
                  "eval_batch_size": 1024, "checkpoint_every": 1000, "keep_checkpoints": 1})
  return c


def check_config(config: ml_collections.ConfigDict) -> None:
  """Raise ``ConfigError`` naming the first impossible value."""
  if config.task.kind not in TASKS:
    raise ConfigError(f"task.kind: expected one of {TASKS}, got {config.task.kind!r}")
  for block, name in (("task", "length"), ("task", "num_symbols"), ("task", "eval_examples"), ("model", "hidden_size")):
    v = config[block][name]
    if isinstance(v, bool) or not isinstance(v, int) or v < 1:
      raise ConfigError(f"{block}.{name}: expected a positive integer, got {v!r}")
  if not isinstance(config.model.get("bidirectional", False), bool):
    raise ConfigError(f"model.bidirectional: expected True or False, got {config.model.bidirectional!r}")
  if config.model.recurrence not in RECURRENCES:
    raise ConfigError(f"model.recurrence: expected one of {RECURRENCES}, got {config.model.recurrence!r}")
  if config.model.train_feed not in TRAIN_FEEDS:
    raise ConfigError(f"model.train_feed: expected one of {TRAIN_FEEDS}, got {config.model.train_feed!r}")
  loop.check_engine_config(config.train)


def build_model(config: ml_collections.ConfigDict):
  m = config.model
  return get_model("seq2seq", num_symbols=config.task.num_symbols, hidden_size=m.hidden_size, embed_dim=m.embed_dim,
                   attention=m.attention, attention_dim=m.attention_dim, recurrence=m.recurrence, train_feed=m.train_feed,
                   bidirectional=bool(m.get("bidirectional", False)))


def train_step(model, tx, task_config, state, batch, key, axis_name: str | None = None):
  """One teacher-forced update on fresh sequences drawn from ``key``."""
  t = task_config
  src, tgt = make_batch(key, batch["index"].shape[0], t.length, t.num_symbols, t.kind)
  ones = jnp.ones(tgt.shape, jnp.float32)

  def loss_fn(params):
    logits, _ = model.apply({"params": params}, src, tgt)
    return mean_over_valid(optax.softmax_cross_entropy_with_integer_labels(logits, tgt), ones, axis_name), logits

  (loss, logits), grads = jax.value_and_grad(loss_fn, has_aux=True)(state["params"])
  grads = psum_if(grads, axis_name)
  updates, opt_state = tx.update(grads, state["opt_state"], state["params"])
  accuracy = mean_over_valid(jnp.argmax(logits, -1) == tgt, ones, axis_name)
  return ({"params": optax.apply_updates(state["params"], updates), "opt_state": opt_state},
          {"loss": psum_if(loss, axis_name), "teacher_forced_accuracy": psum_if(accuracy, axis_name)})


def eval_step(model, state, batch):
  """Greedy decoding (o^{t-1} fed back) for the accuracies; the teacher-forced loss beside them."""
  src, tgt, mask = batch["source"], batch["target"], batch["mask"]
  greedy, _ = model.apply({"params": state["params"]}, src, tgt, greedy=True)
  forced, _ = model.apply({"params": state["params"]}, src, tgt)
  right = (jnp.argmax(greedy, -1) == tgt).astype(jnp.float32)
  forced_right = (jnp.argmax(forced, -1) == tgt).astype(jnp.float32)
  losses = optax.softmax_cross_entropy_with_integer_labels(forced, tgt).mean(-1)
  return {"token_accuracy_sum": jnp.sum(right.mean(-1) * mask), "sequence_accuracy_sum": jnp.sum(right.min(-1) * mask),
          "forced_token_accuracy_sum": jnp.sum(forced_right.mean(-1) * mask),
          "loss_sum": jnp.sum(losses * mask), "count": jnp.sum(mask)}


def seq2seq_task(model, tx, task_config, finish=None) -> Task:
  def init(key, example):
    del example
    zeros = jnp.zeros((1, task_config.length), jnp.int32)
    params = model.init(key, zeros, zeros)["params"]
    return {"params": params, "opt_state": tx.init(params)}

  return Task(init=init, train_step=lambda s, b, k, axis_name=None: train_step(model, tx, task_config, s, b, k, axis_name),
              eval_step=lambda s, b: eval_step(model, s, b), metric="token_accuracy", mode="max",
              best=lambda s: s["params"], with_best=lambda s, p: {**s, "params": p}, finish=finish, name="seq2seq")


def held_out(config: ml_collections.ConfigDict, offset: int) -> ArraySource:
  t = config.task
  src, tgt = make_batch(jax.random.PRNGKey(config.seed + offset), t.eval_examples, t.length, t.num_symbols, t.kind)
  return ArraySource({"source": np.asarray(src), "target": np.asarray(tgt)})


def build(config: ml_collections.ConfigDict, finish=None):
  """``(task, data, model)``."""
  check_config(config)
  t = config.train
  sources = {"val": held_out(config, VAL_SEED_OFFSET), "test": held_out(config, TEST_SEED_OFFSET)}
  evals = {name: (lambda n=name: eval_batches(sources[n], t.eval_batch_size, name=n)) for name in sources}
  data = Data(train=StepIndices(t.batch_size, t.eval_every or 100), eval=evals,
              example={"index": np.arange(1, dtype=np.int32)}, batch_size=t.batch_size)
  num_steps = loop.total_steps(t, data.train.steps_per_epoch)
  model = build_model(config)
  tx = optim.make_optimizer(config.optimizer, num_steps)
  frozen = ml_collections.FrozenConfigDict(config.task)
  return seq2seq_task(model, tx, frozen, finish), data, model


def run(config: ml_collections.ConfigDict, workdir: str) -> dict[str, Any]:
  """Train the encoder-decoder of ``config.model`` on ``config.task``."""
  task, data, _ = build(config)
  return loop.fit(task, data, config, workdir)
