"""Image captioning as a task: the course's temporal softmax loss with teacher forcing.

The loss is the course's ``temporal_softmax_loss``: cross-entropy of every next word given the
words before it (inputs ``captions[:, :-1]``, targets ``captions[:, 1:]``), summed over time and
averaged over the captions of the global batch, with ``<NULL>`` targets masked out. The attention
captioner may add Xu et al.'s doubly stochastic penalty ``λ Σ_i (1 - Σ_t p_ti)²`` (every location
attended about once over the caption).

``run(config, workdir)`` is the runner of ``experiments/configs/captioning/{rnn,lstm,attention_lstm,
transformer}.py``: the engine trains the captioner (CNN encoder and decoder together), validates
the teacher-forced loss on val every epoch and keeps the parameters with the lowest one; ``finish``
then decodes val and test greedily and with beam search and reports the exact-match rate, BLEU-1…4
and — for the attention model on the synthetic scenes — how often the attention peak at a shape
noun lies on that shape (:mod:`cs231n_jax.captioning.evaluation`). The workdir keeps the caption
vocabulary; resuming with other data is refused in one line.

``run_overfit_checks`` is the course's sanity check (``experiments/configs/captioning/overfit.py``):
for every captioner an engine run on 50 training captions, minibatches of 25 drawn with replacement
as the course's ``CaptioningSolver`` draws them, Adam with the rate decayed once per epoch; the
final minibatch loss should fall below 0.1 (RNN), 0.5 (LSTM) and 0.03 (transformer; 100 epochs at
learning rate 1e-3, as its notebook trains it).
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any, Mapping

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax
from etils import epath

from cs231n_jax import optim
from cs231n_jax.captioning.data import CaptionData, CaptionSplit, load_caption_data, pooled_features
from cs231n_jax.captioning.evaluation import evaluate_captions, make_decoders
from cs231n_jax.captioning.vocab import NULL_ID, Vocabulary
from cs231n_jax.data import scenes as S
from cs231n_jax.data.pipeline import ArraySource, eval_batches
from cs231n_jax.errors import CheckpointError, ConfigError
from cs231n_jax.models.registry import get_model, list_models
from cs231n_jax.train import loop
from cs231n_jax.train.metrics import read_jsonl
from cs231n_jax.train.steps import mean_over_valid, psum_if
from cs231n_jax.train.task import Data, Task

RUNNER = "cs231n_jax.tasks.captioning:run"
OVERFIT_RUNNER = "cs231n_jax.tasks.captioning:run_overfit_checks"
VOCAB_NAME = "vocab.json"
OVERFIT_THRESHOLDS = {"rnn": 0.1, "lstm": 0.5, "attention_lstm": 0.5, "transformer": 0.03}  # the course's
COURSE_OVERFIT = {  # the course notebooks' settings: (learning rate, lr decay per epoch, epochs)
    "rnn": (5e-3, 0.95, 50), "lstm": (5e-3, 0.995, 50), "attention_lstm": (5e-3, 0.995, 50), "transformer": (1e-3, 1.0, 100),
}
MODEL_FIELDS = {
    "rnn": ("wordvec_dim", "hidden_dim"), "lstm": ("wordvec_dim", "hidden_dim", "forget_bias", "initial_cell"),
    "attention_lstm": ("wordvec_dim", "hidden_dim", "attention_dim", "attention", "attention_query"),
    "transformer": ("wordvec_dim", "num_heads", "num_layers", "mlp_dim", "dropout_rate", "norm"),
}
ENCODER_FIELDS = ("encoder_channels", "feature_dim", "global_dim")


def base_config(name: str = "lstm") -> ml_collections.ConfigDict:
  """Every field a captioning run reads, at the values of the scenes experiments."""
  c = ml_collections.ConfigDict()
  c.runner = RUNNER
  c.seed = 0
  c.data = ml_collections.ConfigDict({
      "name": "scenes", "num_train": 3000, "num_val": 500, "num_test": 500, "image_size": S.DEFAULT_IMAGE_SIZE,
      "max_length": 12, "heldout_pair_fraction": 0.2, "single_fraction": 0.2, "seed": 0,
      "dir": "", "pca_features": True, "max_train": 0,  # data.name = "coco": the course's files in dir
  })
  c.model = ml_collections.ConfigDict({
      "name": name, "wordvec_dim": 64, "hidden_dim": 128, "attention_dim": 64, "attention": "mlp",
      "num_heads": 2, "num_layers": 2, "mlp_dim": 256, "dropout_rate": 0.1, "norm": "post",
      "encoder_channels": (16, 32), "feature_dim": 64, "global_dim": 128, "doubly_stochastic": 0.0,
      "forget_bias": 0.0,  # the LSTM captioner's; 0 as the course initialises it
      "initial_cell": "zeros",  # the LSTM captioner's c0: "zeros" (the course's) or "projected" from the image
      "attention_query": "state",  # the attention LSTM's query: "state" (Xu et al.'s h_{t-1}) or "state_word" (+ E y_{t-1})
  })
  c.optimizer = optim.default_config("adam", 2e-3)
  c.optimizer.eps = 1e-8  # the course's Adam
  c.optimizer.grad_clip_norm = 5.0
  c.optimizer.schedule.name = "cosine"
  c.train = loop.engine_config()
  c.train.update({"batch_size": 64, "num_epochs": 20, "log_every": 50, "keep_checkpoints": 2,
                  "eval_batch_size": 250})
  c.decode = ml_collections.ConfigDict({"beam_size": 3, "length_penalty": 0.0})
  c.figures = ml_collections.ConfigDict({"num_examples": 8, "num_attention": 3})
  return c


# ---------------------------------------------------------------------------------------------
# Model and loss.
# ---------------------------------------------------------------------------------------------


def model_kwargs(model_config, max_length: int) -> dict[str, Any]:
  name = model_config["name"]
  captioners = tuple(list_models("caption"))
  if name not in captioners:
    raise ConfigError(f"model.name: expected one of {captioners}, got {name!r}")
  kwargs = {k: model_config[k] for k in MODEL_FIELDS[name] + ENCODER_FIELDS if k in model_config}
  if "encoder_channels" in kwargs:
    kwargs["encoder_channels"] = tuple(kwargs["encoder_channels"])
  if name == "transformer":
    kwargs["max_length"] = max_length
  return kwargs


def build_model(model_config, vocab_size: int, max_length: int):
  return get_model(model_config["name"], vocab_size=vocab_size, **model_kwargs(model_config, max_length))


def caption_nll(logits: jax.Array, captions_out: jax.Array) -> jax.Array:
  """Per caption: Σ_t CE(scores_t, y_t) over its non-<NULL> targets, shape (N,)."""
  mask = (captions_out != NULL_ID).astype(jnp.float32)
  nll = optax.softmax_cross_entropy_with_integer_labels(logits.astype(jnp.float32), captions_out)
  return jnp.sum(nll * mask, axis=-1)


def caption_loss(logits: jax.Array, captions_out: jax.Array) -> jax.Array:
  """The course's temporal softmax loss: Σ_t CE(scores_t, y_t) over non-<NULL> targets, / N."""
  return jnp.mean(caption_nll(logits, captions_out))


def attention_coverage_penalty(attention: jax.Array, captions_out: jax.Array) -> jax.Array:
  """Per caption: Σ_i (1 - Σ_t p_ti)² over the steps that predict a real word, shape (N,)."""
  mask = (captions_out != NULL_ID).astype(attention.dtype)[..., None]
  return jnp.sum((1.0 - jnp.sum(attention * mask, axis=1)) ** 2, axis=-1)


def doubly_stochastic_penalty(attention: jax.Array, captions_out: jax.Array) -> jax.Array:
  """Xu et al.'s doubly stochastic penalty averaged over the batch."""
  return jnp.mean(attention_coverage_penalty(attention, captions_out))


# ---------------------------------------------------------------------------------------------
# The steps.
# ---------------------------------------------------------------------------------------------


def train_step(model, tx: optax.GradientTransformation, state, batch, key, axis_name: str | None = None,
               doubly_stochastic: float = 0.0):
  """One update on the mean over the batch's captions of their summed word cross-entropies."""
  captions = batch["captions"]
  mask = batch.get("mask", jnp.ones(captions.shape[:1], jnp.float32))

  def loss_fn(variables):
    logits, attention = model.apply(variables, batch["inputs"], captions[:, :-1], train=True, rngs={"dropout": key})
    loss = mean_over_valid(caption_nll(logits, captions[:, 1:]), mask, axis_name)
    total = loss
    if doubly_stochastic:
      total = total + doubly_stochastic * mean_over_valid(attention_coverage_penalty(attention, captions[:, 1:]), mask, axis_name)
    return total, loss

  (total, loss), grads = jax.value_and_grad(loss_fn, has_aux=True)(state["variables"])
  grads = psum_if(grads, axis_name)
  updates, opt_state = tx.update(grads, state["opt_state"], state["variables"])
  new = {"variables": optax.apply_updates(state["variables"], updates), "opt_state": opt_state}
  metrics = {"loss": psum_if(total, axis_name), "caption_loss": psum_if(loss, axis_name),
             "grad_norm": optax.tree.norm(grads)}
  return new, metrics


def eval_step(model, state, batch):
  """Sums over the valid captions: teacher-forced loss, correctly predicted words, words, captions."""
  captions, mask = batch["captions"], batch["mask"]
  logits, _ = model.apply(state["variables"], batch["inputs"], captions[:, :-1], train=False)
  targets = captions[:, 1:]
  words = (targets != NULL_ID).astype(jnp.float32) * mask[:, None]
  correct = (jnp.argmax(logits, -1) == targets) * words
  return {"loss_sum": jnp.sum(caption_nll(logits, targets) * mask), "correct_words": jnp.sum(correct),
          "words": jnp.sum(words), "count": jnp.sum(mask)}


def summarize(sums: Mapping[str, Any]) -> dict[str, float]:
  count = max(float(sums["count"]), 1.0)
  return {"loss": float(sums["loss_sum"]) / count,
          "word_accuracy": float(sums["correct_words"]) / max(float(sums["words"]), 1.0)}


def captioning_task(model, tx: optax.GradientTransformation, doubly_stochastic: float = 0.0, finish=None) -> Task:
  """The task for ``model`` trained with ``tx``; the best state is the variables with the lowest
  teacher-forced val loss."""

  def init(key, example):
    variables = model.init(key, example["inputs"][:1], example["captions"][:1, :-1])
    return {"variables": variables, "opt_state": tx.init(variables)}

  def step(state, batch, key, axis_name=None):
    return train_step(model, tx, state, batch, key, axis_name, doubly_stochastic)

  return Task(init=init, train_step=step, eval_step=lambda s, b: eval_step(model, s, b), summarize=summarize,
              metric="loss", mode="min", best=lambda s: s["variables"], with_best=lambda s, v: {**s, "variables": v},
              finish=finish, name="captioning")


# ---------------------------------------------------------------------------------------------
# Data.
# ---------------------------------------------------------------------------------------------


def caption_batch(split: CaptionSplit, rows: np.ndarray) -> dict[str, np.ndarray]:
  """The captions ``rows`` with their images' inputs (one input per caption)."""
  return {"inputs": split.inputs[split.image_idxs[rows]], "captions": split.captions[rows]}


@dataclasses.dataclass
class ShuffledCaptions:
  """Epochs of captions: epoch e visits them in the order ``default_rng((seed, e)).permutation``, in
  minibatches of ``batch_size``; the last partial minibatch of an epoch is dropped."""

  split: CaptionSplit
  batch_size: int
  seed: int
  epoch: int = 0
  position: int = 0

  def __post_init__(self):
    if self.steps_per_epoch < 1:
      raise ConfigError(f"train.batch_size: {self.batch_size} exceeds the {len(self.split.captions)} training captions")
    self._order = None

  @property
  def steps_per_epoch(self) -> int:
    return len(self.split.captions) // self.batch_size

  def __next__(self) -> dict[str, np.ndarray]:
    if self._order is None or self._order[0] != self.epoch:
      self._order = (self.epoch, np.random.default_rng((self.seed, self.epoch)).permutation(len(self.split.captions)))
    rows = self._order[1][self.position * self.batch_size:(self.position + 1) * self.batch_size]
    self.position += 1
    if self.position == self.steps_per_epoch:
      self.epoch, self.position = self.epoch + 1, 0
    return caption_batch(self.split, rows)

  def state(self) -> dict[str, int]:
    return {"epoch": self.epoch, "position": self.position}

  def restore(self, state: Mapping[str, int]) -> None:
    self.epoch, self.position = int(state["epoch"]), int(state["position"])


@dataclasses.dataclass
class SampledCaptions:
  """Minibatches drawn with replacement (the course's ``sample_coco_minibatch``): step i takes the
  i-th draw ``rng.choice(N, batch_size)`` of ``default_rng(seed)``; restoring replays the draws."""

  split: CaptionSplit
  batch_size: int
  seed: int
  position: int = 0

  def __post_init__(self):
    self._rng = np.random.default_rng(self.seed)

  @property
  def steps_per_epoch(self) -> int:
    return max(len(self.split.captions) // self.batch_size, 1)

  def __next__(self) -> dict[str, np.ndarray]:
    rows = self._rng.choice(len(self.split.captions), self.batch_size)
    self.position += 1
    return caption_batch(self.split, rows)

  def state(self) -> dict[str, int]:
    return {"position": self.position}

  def restore(self, state: Mapping[str, int]) -> None:
    self._rng = np.random.default_rng(self.seed)
    for _ in range(int(state["position"])):
      self._rng.choice(len(self.split.captions), self.batch_size)
    self.position = int(state["position"])


def split_source(split: CaptionSplit) -> ArraySource:
  return ArraySource(caption_batch(split, np.arange(len(split.captions))))


def caption_engine_data(data: CaptionData, train_iter, eval_batch_size: int, splits=("val", "train", "test")) -> Data:
  sources = {name: split_source(data.split(name)) for name in splits}
  evals = {name: (lambda n=name: eval_batches(sources[n], eval_batch_size, name=n)) for name in splits}
  example = caption_batch(data.train, np.arange(1))
  return Data(train=train_iter, eval=evals, example=example, batch_size=train_iter.batch_size)


# ---------------------------------------------------------------------------------------------
# From a config to the engine.
# ---------------------------------------------------------------------------------------------


def check_config(config: ml_collections.ConfigDict) -> None:
  loop.check_engine_config(config.train)
  if config.train.step != "jit" or jax.process_count() > 1:
    raise ConfigError("train.step: captioning runs on one device ('jit')")
  model_kwargs(config.model, 2)


def check_vocabulary(workdir: epath.Path, vocab: Vocabulary) -> None:
  """Refuse a workdir whose checkpoints were trained with another caption vocabulary; record this
  vocabulary in a fresh one."""
  path = workdir / VOCAB_NAME
  if path.exists() and (workdir / loop.CHECKPOINT_DIR).exists():
    saved = json.loads(path.read_text())
    if list(saved) != list(vocab.idx_to_word):
      other = Vocabulary(tuple(saved))
      raise CheckpointError(
          f"the checkpoints in {workdir / loop.CHECKPOINT_DIR} were trained with a different caption vocabulary "
          f"({other.size} words, fingerprint {other.fingerprint()}) than this data ({vocab.size} words, "
          f"fingerprint {vocab.fingerprint()}); use a new --workdir or the same data")
  workdir.mkdir(parents=True, exist_ok=True)
  path.write_text(json.dumps(list(vocab.idx_to_word)))


def build(config: ml_collections.ConfigDict, with_report: bool = False):
  """``(task, data, caption data, model)`` for a captioning config; ``with_report`` adds the
  decoding, BLEU and figures of the finished run (``task.finish``)."""
  check_config(config)
  t = config.train
  cdata = load_caption_data(config.data)
  train_iter = ShuffledCaptions(cdata.train, t.batch_size, config.seed)
  data = caption_engine_data(cdata, train_iter, t.eval_batch_size)
  num_steps = loop.total_steps(t, train_iter.steps_per_epoch)
  model = build_model(config.model, cdata.vocab.size, cdata.max_length)
  tx = optim.make_optimizer(config.optimizer, num_steps)

  def finish(state, evals, workdir):
    return decode_and_report(model, state["variables"], cdata, config, num_steps, epath.Path(workdir))

  task = captioning_task(model, tx, config.model.get("doubly_stochastic", 0.0), finish if with_report else None)
  return task, data, cdata, model


def decode_and_report(model, variables, cdata: CaptionData, config, num_steps: int, workdir: epath.Path) -> dict[str, Any]:
  """Greedy and beam-search captions of val and test: exact match, BLEU, attention check, figures."""
  from cs231n_jax.captioning import figures

  decode_length = cdata.max_length - 1  # every token after <START>
  results: dict[str, Any] = {"model": config.model.name, "data": cdata.name, "epochs": config.train.num_epochs,
                             "train_captions": int(len(cdata.train.captions)),
                             "parameters": int(sum(np.size(p) for p in jax.tree.leaves(variables)))}
  decoders = make_decoders(model, decode_length, config.decode.beam_size, config.decode.length_penalty)
  decoded = {}
  for split in ("val", "test"):
    metrics, captions, attention = evaluate_captions(model, variables, cdata, split, decode_length, config.decode.beam_size,
                                                     config.train.eval_batch_size, config.decode.length_penalty, decoders)
    results[split] = metrics
    decoded[split] = (captions, attention)
  if jax.process_index() == 0 and cdata.train.inputs.ndim == 4:
    captions, attention = decoded["test"]
    figures.plot_samples(cdata.test, captions, workdir / "samples.png", config.figures.num_examples)
    if np.any(attention):
      figures.plot_attention(cdata.test, captions, attention, workdir / "attention.png", config.figures.num_attention)
  beam = config.decode.beam_size
  for split in ("val", "test"):
    r = results[split]
    print(f"{config.model.name} {split}: exact match {r['greedy_exact_match']:.3f}, BLEU-4 {r['greedy_bleu4']:.3f} (greedy)"
          + (f"; beam {beam}: {r[f'beam{beam}_exact_match']:.3f}, {r[f'beam{beam}_bleu4']:.3f}" if beam > 1 else ""))
  return results


def run(config: ml_collections.ConfigDict, workdir: str) -> dict[str, Any]:
  """Train ``config.model.name`` on ``config.data``; teacher-forced loss, exact match and BLEU on
  val and test."""
  task, data, cdata, _ = build(config, with_report=True)
  check_vocabulary(epath.Path(workdir), cdata.vocab)
  return loop.fit(task, data, config, workdir)


def evaluate(config: ml_collections.ConfigDict, workdir: str, split: str = "test") -> dict[str, Any]:
  """The teacher-forced loss and word accuracy of the best checkpointed variables on ``split``."""
  task, data, _, _ = build(config)
  return loop.evaluate_run(task, data, config, workdir, split)


# ---------------------------------------------------------------------------------------------
# The course's overfitting sanity check.
# ---------------------------------------------------------------------------------------------


def overfit_config(name: str, num_examples: int = 50, batch_size: int = 25, num_epochs: int | None = None,
                   learning_rate: float | None = None, lr_decay: float | None = None, seed: int = 231,
                   **model_overrides) -> ml_collections.ConfigDict:
  """The engine config of the course's check for captioner ``name`` (its notebook's learning rate,
  per-epoch decay and epochs unless given): Adam, the rate decayed once per epoch, one training-loss
  record per step, no validation, one checkpoint at the end."""
  default_lr, default_decay, default_epochs = COURSE_OVERFIT[name]
  steps_per_epoch = max(num_examples // batch_size, 1)
  c = ml_collections.ConfigDict()
  c.seed = seed
  c.model = ml_collections.ConfigDict({"name": name, **model_overrides})
  c.optimizer = optim.default_config("adam", default_lr if learning_rate is None else learning_rate)
  c.optimizer.eps = 1e-8
  c.optimizer.schedule.update(name="step", decay_steps=steps_per_epoch,
                              decay_rate=default_decay if lr_decay is None else lr_decay)
  num_epochs = default_epochs if num_epochs is None else num_epochs
  c.train = loop.engine_config()
  c.train.update(batch_size=batch_size, num_epochs=num_epochs, log_every=1, progress=False, keep_checkpoints=1,
                 checkpoint_every=num_epochs * steps_per_epoch)  # one checkpoint, at the end
  return c


def overfit(config: ml_collections.ConfigDict, split: CaptionSplit, vocab: Vocabulary, max_length: int,
            workdir: str, num_examples: int = 50) -> list[float]:
  """An engine run of ``config`` (:func:`overfit_config`) on the first ``num_examples`` images of
  ``split`` with one caption each; returns the loss history (one entry per minibatch: the course's
  ``loss_history``).

  Each synthetic scene has two captions (two phrasings of one layout); training on both would leave
  an irreducible ln 2 at the word where they part, so the set takes one caption per image — as the
  course's 50 random COCO captions almost always come from 50 different images.
  """
  small = split.first_captions(num_examples)
  train_iter = SampledCaptions(small, config.train.batch_size, config.seed)
  data = Data(train=train_iter, eval={}, example=caption_batch(small, np.arange(1)), batch_size=config.train.batch_size)
  num_steps = loop.total_steps(config.train, train_iter.steps_per_epoch)
  model = build_model(config.model, vocab.size, max_length)
  task = captioning_task(model, optim.make_optimizer(config.optimizer, num_steps))
  loop.fit(task, data, config, workdir)
  return [r["loss"] for r in read_jsonl(epath.Path(workdir) / "metrics.jsonl") if r["split"] == "train"]


def run_overfit_checks(config: ml_collections.ConfigDict, workdir: str) -> dict[str, Any]:
  """The course's overfitting check for every captioner in ``config.models`` (final losses)."""
  workdir = epath.Path(workdir)
  workdir.mkdir(parents=True, exist_ok=True)
  data = load_caption_data(config.data)
  split = pooled_features(data.train) if config.get("features", "pooled") == "pooled" else data.train
  results = {"num_examples": config.num_examples, "final_loss": {}, "threshold": {}, "passed": {}}
  for name in config.models:
    overrides = {k: v for k, v in config.model.items() if k in MODEL_FIELDS[name] + ENCODER_FIELDS}
    if "encoder_channels" in overrides:
      overrides["encoder_channels"] = tuple(overrides["encoder_channels"])
    c = overfit_config(name, config.num_examples, config.batch_size, config.num_epochs or None, seed=config.seed,
                       **overrides)
    history = overfit(c, split, data.vocab, data.max_length, str(workdir / name), config.num_examples)
    results["final_loss"][name] = history[-1]
    results["threshold"][name] = OVERFIT_THRESHOLDS[name]
    results["passed"][name] = history[-1] < OVERFIT_THRESHOLDS[name]
    print(f"{name:15s} final loss {history[-1]:.4f} (course: < {OVERFIT_THRESHOLDS[name]})")
  (workdir / "results.json").write_text(json.dumps(results, indent=2))
  return results


def report(config: ml_collections.ConfigDict, workdir: str) -> dict[str, Any]:
  """The finished run's report again from the best checkpointed variables in ``workdir``: greedy and
  beam decoding of val and test, exact match, BLEU and the attention measures of the code now
  (:func:`cs231n_jax.captioning.evaluation.attention_on_objects`), without training."""
  task, data, cdata, model = build(config)
  state, _, _ = loop.restore_best(task, data, config, workdir)
  num_steps = loop.total_steps(config.train, data.train.steps_per_epoch)
  return decode_and_report(model, state["task"]["variables"], cdata, config, num_steps, epath.Path(workdir))
