"""Character language modelling as tasks (lecture 10), measured in bits per character.

Two objectives on the same corpus (:mod:`cs231n_jax.text.corpus`), both scored over whole held-out
splits next to the n-gram baselines (:mod:`cs231n_jax.text.ngram`), models and baselines chosen on
val and reported on test:

- **A char-RNN / LSTM / GRU trained with truncated BPTT** (``run``, the runner of
  ``text/char_lstm.py`` and ``text/char_rnn.py``). The training text is cut into ``batch_size``
  contiguous streams (:class:`StreamBatcher`); every chunk is the next ``seq_length`` characters of
  every stream, so the recurrent state carried from one chunk to the next — it lives in the task
  state, next to the parameters and the optimizer state — is the state after exactly the preceding
  text: truncated BPTT as min-char-rnn does it (``hprev`` carried, gradients cut at chunk
  boundaries), with a batch of streams. At the end of an epoch the streams start over and the
  state is reset to zero. One engine step is one ``lax.scan`` over ``train.chunks_per_step`` chunks
  (:func:`truncated_bptt`), the optimizer stepping after every chunk.
- **min-char-rnn** (``run_min_char_rnn``, the runner of ``text/min_char_rnn.py``): Karpathy's gist
  as ported in :mod:`cs231n_jax.text.min_char_rnn` — one stream, the hand-written backward pass,
  Adagrad, ``smooth_loss`` — where one engine step is a ``lax.scan`` over ``train.chunks_per_step``
  iterations of the gist's ``while True`` body, its data pointer kept by :class:`GistBatcher`.

Evaluation runs the model over a whole split as one stream, chunk by chunk with the state carried
(:func:`stream_nats`), and scores every character after the first: the characters the n-gram
baselines score. The splits are ``val`` (picks the best parameters), ``test`` and
``train_sample`` (a test-sized slice of the training text, to show overfitting).

Checkpoints (the engine's) hold the task state and the stream position; the position records the
vocabulary, so a workdir trained on another text is refused with a one-line error rather than
silently producing garbage (:func:`check_workdir_vocabulary`).
"""

from __future__ import annotations

import json
import math
from typing import Any, Callable, Mapping

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax
from etils import epath

from cs231n_jax import optim
from cs231n_jax.errors import CheckpointError, ConfigError
from cs231n_jax.models.registry import get_model
from cs231n_jax.nn.recurrent import gradient_clipping
from cs231n_jax.plotting import save_figure, subplots
from cs231n_jax.text import min_char_rnn as gist
from cs231n_jax.text.corpus import CharCorpus, CharVocab, load_corpus
from cs231n_jax.text.dynamic_eval import check_dynamic_eval_config, tune_and_evaluate
from cs231n_jax.text.model import CharLM
from cs231n_jax.text.ngram import DEFAULT_ORDERS, baseline_table, kneser_ney_baselines, ngram_baselines
from cs231n_jax.text.sample import make_sampler
from cs231n_jax.train import loop, parallel
from cs231n_jax.train.checkpoint import CheckpointManager
from cs231n_jax.train.metrics import read_jsonl
from cs231n_jax.train.steps import mean_over_valid, psum_if
from cs231n_jax.train.task import Data, Task

LN2 = math.log(2.0)
RUNNER = "cs231n_jax.tasks.char_lm:run"
MIN_CHAR_RNN_RUNNER = "cs231n_jax.tasks.char_lm:run_min_char_rnn"
SAMPLES_NAME = "samples.txt"
CURVES_NAME = "bits_per_char.png"
CELLS_NAME = "interpretable_cells.png"
SAMPLE_KEY_OFFSET = 10_000  # sample keys: fold_in(key(seed), offset + i), apart from any training key

Carry = Any
LossFn = Callable[[Any, Carry, Any], tuple[jax.Array, Carry]]  # (params, carry, chunk) -> (loss, carry)


# ---------------------------------------------------------------------------------------------
# Configs.
# ---------------------------------------------------------------------------------------------


def data_config() -> ml_collections.ConfigDict:
  """The corpus block (:func:`cs231n_jax.text.corpus.load_corpus`): pydoc_data.topics, 85/5/10."""
  return ml_collections.ConfigDict({"name": "pydoc", "path": "", "val_fraction": 0.05, "test_fraction": 0.10})


def base_config() -> ml_collections.ConfigDict:
  """Every field ``run`` reads (the char-RNN / LSTM configs start here and override)."""
  c = ml_collections.ConfigDict()
  c.runner = RUNNER
  c.seed = 0
  c.data = data_config()
  c.model = ml_collections.ConfigDict(
      {"cell": "lstm", "hidden_size": 256, "num_layers": 1, "embed_dim": 64, "dropout_rate": 0.0,
       "embed_dropout_rate": 0.0, "recurrent_dropout_rate": 0.0})
  c.optimizer = optim.default_config("adam", 2e-3)  # fields: cs231n_jax.optim.factory
  c.train = loop.engine_config()
  c.train.update({
      "batch_size": 32,        # parallel streams (global: split over the devices)
      "seq_length": 64,        # characters per truncated-BPTT chunk
      "chunks_per_step": 1,    # chunks per engine step (one lax.scan); num_steps and eval_every count steps
      "num_steps": 3000,
      "eval_every": 500,
      "log_every": 100,
      "checkpoint_every": 500,
      "keep_checkpoints": 2,
      "clip": "norm",          # "norm" | "value" | "none"
      "clip_threshold": 5.0,
      "eval_chunk": 512,       # characters per window of the one-stream evaluation
  })
  c.sample = ml_collections.ConfigDict({"length": 300, "prime": "The ", "temperatures": (0.5, 1.0)})
  c.ngram_orders = DEFAULT_ORDERS
  c.kneser_ney_orders = ()  # interpolated Kneser-Ney baselines (text.ngram.KneserNeyModel); () for none
  # The interpretable-cells figure (LSTM only): correlations over the first analysis_chars of the
  # test text, the figure over its first figure_chars.
  c.cells = ml_collections.ConfigDict({"enabled": True, "analysis_chars": 5000, "figure_chars": 600})
  # Dynamic evaluation (text.dynamic_eval), reported beside the static test bits: every (η, λ) of the
  # grid scored on val, the best once on test. No learning rates: off.
  c.dynamic_eval = ml_collections.ConfigDict({"learning_rates": (), "decays": (0.0,), "segment_length": 64})
  return c


def min_char_rnn_config() -> ml_collections.ConfigDict:
  """Every field ``run_min_char_rnn`` reads, at the gist's values (H=100, T=25, Adagrad 0.1,
  clip 5); one engine step = ``chunks_per_step`` iterations (the gist printed every 100)."""
  c = ml_collections.ConfigDict()
  c.runner = MIN_CHAR_RNN_RUNNER
  c.seed = 0
  c.data = data_config()
  c.model = ml_collections.ConfigDict({"hidden_size": gist.HIDDEN_SIZE})
  c.train = loop.engine_config()
  c.train.update({
      "seq_length": gist.SEQ_LENGTH,
      "learning_rate": gist.LEARNING_RATE,  # Adagrad, by hand (cs231n_jax.text.min_char_rnn.adagrad_update)
      "clip": gist.CLIP,                    # every gradient entry clipped to [-clip, clip]
      "chunks_per_step": 100,               # gist iterations per engine step (one lax.scan)
      "num_steps": 2400,                    # 240,000 iterations
      "eval_every": 200,
      "log_every": 1,
      "checkpoint_every": 200,
      "keep_checkpoints": 2,
      "eval_chunk": 512,
      "batch_size": 1,                      # one stream: the gist's
  })
  c.sample = ml_collections.ConfigDict({"length": gist.SAMPLE_LENGTH, "temperatures": (1.0,)})
  c.ngram_orders = DEFAULT_ORDERS
  return c


def _positive(t: ml_collections.ConfigDict, names) -> None:
  for name in names:
    v = t[name]
    if isinstance(v, bool) or not isinstance(v, int) or v < 1:
      raise ConfigError(f"train.{name}: expected a positive integer, got {v!r}")


def check_config(config: ml_collections.ConfigDict) -> None:
  """Raise ``ConfigError`` naming the first impossible value of a char-LM config."""
  t = config.train
  _positive(t, ("batch_size", "seq_length", "chunks_per_step", "eval_chunk"))
  loop.check_engine_config(t)
  gradient_clipping(t.clip, t.clip_threshold)
  if t.step != "jit":
    parallel.check_batch_size(t.batch_size)
  if "dynamic_eval" in config:
    check_dynamic_eval_config(config.dynamic_eval)


def check_min_char_rnn_config(config: ml_collections.ConfigDict) -> None:
  t = config.train
  _positive(t, ("seq_length", "chunks_per_step", "eval_chunk"))
  h = config.model.hidden_size
  if isinstance(h, bool) or not isinstance(h, int) or h < 1:
    raise ConfigError(f"model.hidden_size: expected a positive integer, got {h!r}")
  loop.check_engine_config(t)
  if t.step != "jit":
    raise ConfigError(f"train.step: min-char-rnn reads one stream, so it runs on one device: expected 'jit', got {t.step!r}")
  if not t.learning_rate > 0:
    raise ConfigError(f"train.learning_rate: expected a positive number, got {t.learning_rate!r}")


# ---------------------------------------------------------------------------------------------
# Data: streams for training, whole splits for evaluation; the vocabulary travels with the position.
# ---------------------------------------------------------------------------------------------


def vocabulary_mismatch(saved: list[str] | None, vocab: CharVocab | None) -> str | None:
  """None when ``saved`` (a checkpoint's ``vocab.to_json()``) is this vocabulary (or either is
  unknown); otherwise what differs, for an error message."""
  if saved is None or vocab is None or list(saved) == vocab.to_json():
    return None
  other = CharVocab.from_json(saved)
  return (f"a different character vocabulary ({other.size} ids, fingerprint {other.fingerprint()}) than this "
          f"corpus ({vocab.size} ids, fingerprint {vocab.fingerprint()})")


def check_workdir_vocabulary(workdir: str | epath.PathLike, vocab: CharVocab) -> None:
  """Refuse a workdir whose newest checkpoint was trained on another vocabulary (one line)."""
  directory = epath.Path(workdir) / loop.CHECKPOINT_DIR
  if not directory.exists():
    return
  checkpoints = CheckpointManager(directory, read_only=True)
  try:
    step = checkpoints.latest_step()
    saved = None if step is None else checkpoints.read_meta(step).get("data_iterator", {}).get("vocab")
  finally:
    checkpoints.close()
  problem = vocabulary_mismatch(saved, vocab)
  if problem:
    raise CheckpointError(f"checkpoint step {step} in {directory} was trained on {problem}; "
                          "use a new --workdir or the same data")


def _restore_vocabulary(state: Mapping[str, Any], vocab: CharVocab | None) -> None:
  problem = vocabulary_mismatch(state.get("vocab"), vocab)
  if problem:
    raise CheckpointError(f"the checkpoint's text position was recorded on {problem}; use a new --workdir or the same data")


class StreamBatcher:
  """Consecutive ``seq_length + 1``-character windows of ``batch_size`` parallel streams.

  Window k of an epoch covers characters [k T, (k + 1) T] of every stream (inputs are the first T,
  targets the last T), so consecutive windows overlap by one character and the carried state is
  exact. A batch is ``chunks_per_step`` consecutive windows, streams first: ``{"tokens": (b,
  chunks_per_step, T + 1), "reset": (b, chunks_per_step)}`` (``reset``: the window starts an epoch,
  so the state starts from zero), where ``b`` is this process's share of the streams.
  ``state()`` / ``restore()`` make the position (and the vocabulary) part of a checkpoint.
  """

  def __init__(self, ids: np.ndarray, batch_size: int, seq_length: int, chunks_per_step: int = 1,
               vocab: CharVocab | None = None, process_index: int = 0, process_count: int = 1):
    length = len(ids) // batch_size
    if length < seq_length + 1:
      raise ConfigError(f"train.batch_size x train.seq_length: {batch_size} streams of {seq_length + 1} characters "
                        f"need {batch_size * (seq_length + 1)} training characters, the corpus has {len(ids)}")
    if batch_size % process_count:
      raise ConfigError(f"train.batch_size: {batch_size} streams do not split over {process_count} processes")
    streams = np.asarray(ids[:length * batch_size], np.int32).reshape(batch_size, length)
    share = batch_size // process_count
    self.streams = streams[process_index * share:(process_index + 1) * share]
    self.seq_length = seq_length
    self.chunks_per_step = chunks_per_step
    self.windows_per_epoch = (length - 1) // seq_length
    self.steps_per_epoch = max(1, self.windows_per_epoch // chunks_per_step)
    self.vocab = vocab
    self.position = 0
    self.epoch = 0

  def __iter__(self):
    return self

  def __next__(self) -> dict[str, np.ndarray]:
    windows, resets = [], []
    for _ in range(self.chunks_per_step):
      if self.position == self.windows_per_epoch:
        self.position, self.epoch = 0, self.epoch + 1
      start = self.position * self.seq_length
      windows.append(self.streams[:, start:start + self.seq_length + 1])
      resets.append(self.position == 0)
      self.position += 1
    reset = np.broadcast_to(np.asarray(resets), (len(self.streams), self.chunks_per_step))
    return {"tokens": np.stack(windows, axis=1), "reset": np.array(reset)}

  def state(self) -> dict[str, Any]:
    state = {"position": self.position, "epoch": self.epoch}
    if self.vocab is not None:
      state["vocab"] = self.vocab.to_json()
    return state

  def restore(self, state: Mapping[str, Any]) -> None:
    _restore_vocabulary(state, self.vocab)
    self.position, self.epoch = int(state["position"]), int(state["epoch"])


class GistBatcher:
  """min-char-rnn's data pointer ``p``: iteration n reads ``data[p : p + T + 1]`` and moves ``p`` on
  by T; where the gist resets (``p + T + 1 >= len(data)`` or n = 0) ``p`` goes back to 0 and the
  window is flagged ``restart`` (``hprev`` starts from zero). A batch is ``chunks_per_step``
  iterations of the one stream: ``{"window": (1, chunks_per_step, T + 1), "restart": (1,
  chunks_per_step)}``."""

  def __init__(self, ids: np.ndarray, seq_length: int, chunks_per_step: int = 1, vocab: CharVocab | None = None):
    if len(ids) < seq_length + 1:
      raise ConfigError(f"train.seq_length: a window of {seq_length + 1} characters does not fit the "
                        f"{len(ids)} training characters")
    self.data = np.asarray(ids, np.int32)
    self.seq_length = seq_length
    self.chunks_per_step = chunks_per_step
    self.steps_per_epoch = max(1, (len(ids) - 1) // seq_length // chunks_per_step)
    self.vocab = vocab
    self.pointer = 0
    self.iteration = 0

  def __iter__(self):
    return self

  def __next__(self) -> dict[str, np.ndarray]:
    t = self.seq_length
    windows, restarts = [], []
    for _ in range(self.chunks_per_step):
      restart = self.pointer + t + 1 >= len(self.data) or self.iteration == 0
      if restart:
        self.pointer = 0
      windows.append(self.data[self.pointer:self.pointer + t + 1])
      restarts.append(restart)
      self.pointer += t
      self.iteration += 1
    return {"window": np.stack(windows)[None], "restart": np.asarray(restarts)[None]}

  def state(self) -> dict[str, Any]:
    state = {"pointer": self.pointer, "iteration": self.iteration}
    if self.vocab is not None:
      state["vocab"] = self.vocab.to_json()
    return state

  def restore(self, state: Mapping[str, Any]) -> None:
    _restore_vocabulary(state, self.vocab)
    self.pointer, self.iteration = int(state["pointer"]), int(state["iteration"])


def stream_windows(ids: np.ndarray, chunk: int) -> int:
  """How many ``chunk``-prediction windows score the ``len(ids) - 1`` predictions of one stream."""
  return -(-(len(ids) - 1) // chunk)


def stream_eval_batch(ids: np.ndarray, chunk: int, num_windows: int, rows: int = 1,
                      real: bool = True) -> dict[str, np.ndarray]:
  """A split as one stream, in ``num_windows`` windows of ``chunk + 1`` characters overlapping by
  one (padded past the end; ``weights`` mark the ``len(ids) - 1`` predictions). The stream is row
  0; rows 1.. (and row 0 when not ``real``, i.e. on another process) are empty padding, so that
  every device of a ``sharded`` / ``pmap`` evaluation gets a row. Every split is padded to the same
  ``num_windows``, so one compiled evaluation serves all of them; ``num_windows`` per row tells
  the loop where to stop."""
  ids = np.asarray(ids, np.int32)
  predictions = len(ids) - 1
  if predictions < 1:
    raise ConfigError(f"data: a split of {len(ids)} characters has nothing to predict")
  k = stream_windows(ids, chunk)
  if k > num_windows:
    raise ValueError(f"stream_eval_batch: the split needs {k} windows, more than {num_windows}")
  windows = np.zeros((rows, num_windows, chunk + 1), np.int32)
  weights = np.zeros((rows, num_windows, chunk), np.float32)
  counts = np.zeros((rows,), np.int32)
  if real:
    padded = np.zeros(num_windows * chunk + 1, np.int32)
    padded[:len(ids)] = ids
    windows[0] = padded[np.arange(num_windows)[:, None] * chunk + np.arange(chunk + 1)]
    weights[0] = (np.arange(num_windows * chunk) < predictions).reshape(num_windows, chunk)
    counts[0] = k
  return {"windows": windows, "weights": weights, "num_windows": counts}


def eval_rows(kind: str) -> int:
  """Rows of this process's evaluation batch: one per local device (one for ``jit``)."""
  return 1 if kind == "jit" else jax.local_device_count()


def eval_splits(corpus: CharCorpus) -> dict[str, np.ndarray]:
  return {"val": corpus.val, "test": corpus.test, "train_sample": corpus.train[:len(corpus.test)]}


def stream_eval_data(corpus: CharCorpus, chunk: int, kind: str) -> dict[str, Callable[[], list]]:
  """Split name -> one pass of that split (one batch: the split as one stream)."""
  splits = eval_splits(corpus)
  num_windows = max(stream_windows(ids, chunk) for ids in splits.values())
  rows, real = eval_rows(kind), jax.process_index() == 0
  return {name: (lambda ids=ids: [stream_eval_batch(ids, chunk, num_windows, rows, real)])
          for name, ids in splits.items()}


# ---------------------------------------------------------------------------------------------
# The maths of the steps.
# ---------------------------------------------------------------------------------------------


def truncated_bptt(loss_fn: LossFn, tx: optax.GradientTransformation, axis_name: str | None = None):
  """A training program that steps the optimizer after every chunk, carrying the state forward.

  Returns ``run(params, opt_state, carry, chunks) -> (params, opt_state, carry, losses)``, one
  ``lax.scan`` over the leading (chunk) axis of ``chunks``: each chunk's loss is differentiated with
  its incoming state held constant (``stop_gradient``, the truncation) and the optimizer steps; the
  carry returned continues the sequence on the next call. Under ``pmap`` (``axis_name``) the
  gradients and losses are summed over devices (``loss_fn`` returns this device's share).
  """

  def run(params, opt_state, carry, chunks):
    def step(state, chunk):
      params, opt_state, c = state
      (loss, c), grads = jax.value_and_grad(loss_fn, has_aux=True)(params, jax.lax.stop_gradient(c), chunk)
      grads, loss = psum_if(grads, axis_name), psum_if(loss, axis_name)
      updates, opt_state = tx.update(grads, opt_state, params)
      return (optax.apply_updates(params, updates), opt_state, c), loss

    (params, opt_state, carry), losses = jax.lax.scan(step, (params, opt_state, carry), chunks)
    return params, opt_state, carry, losses

  return run


def chunk_loss(model: CharLM, axis_name: str | None = None) -> LossFn:
  """(params, carries, {"tokens" (b, T + 1), "reset" (b,), "key"}) -> (mean nats per character of
  the global batch (this device's share under ``pmap``), carries). A stream whose ``reset`` is set
  starts from the zero state."""

  def loss_fn(params, carries, chunk):
    tokens, reset = chunk["tokens"], chunk["reset"]
    carries = jax.tree.map(lambda c: jnp.where(reset.reshape(reset.shape + (1,) * (c.ndim - 1)), jnp.zeros_like(c), c),
                           carries)
    carries, logits = model.apply({"params": params}, tokens[:, :-1], carries, train=True,
                                  rngs={"dropout": chunk["key"]})
    nll = optax.softmax_cross_entropy_with_integer_labels(logits, tokens[:, 1:])
    return mean_over_valid(nll, jnp.ones_like(nll), axis_name), carries

  return loss_fn


def _local_rows(carries: Carry, rows: int, axis_name: str | None) -> Carry:
  """This device's streams of the carried state (all of them outside ``pmap``)."""
  if axis_name is None:
    return carries
  start = jax.lax.axis_index(axis_name) * rows
  return jax.tree.map(lambda c: jax.lax.dynamic_slice_in_dim(c, start, rows, axis=0), carries)


def _all_rows(carries: Carry, axis_name: str | None) -> Carry:
  if axis_name is None:
    return carries
  return jax.tree.map(lambda c: jax.lax.all_gather(c, axis_name, tiled=True), carries)


def char_lm_train_step(model: CharLM, tx: optax.GradientTransformation, state: dict[str, Any], batch,
                       key: jax.Array, axis_name: str | None = None) -> tuple[dict[str, Any], dict[str, jax.Array]]:
  """``chunks_per_step`` truncated-BPTT updates (one ``lax.scan``) on a :class:`StreamBatcher`
  batch; the carried state (every stream's, ``state["carries"]``) continues the streams."""
  tokens = jnp.swapaxes(batch["tokens"], 0, 1)  # (chunks, b, T + 1): the scan runs over chunks
  reset = jnp.swapaxes(batch["reset"], 0, 1)
  chunks = {"tokens": tokens, "reset": reset, "key": jax.random.split(key, tokens.shape[0])}
  carries = _local_rows(state["carries"], tokens.shape[1], axis_name)
  run = truncated_bptt(chunk_loss(model, axis_name), tx, axis_name)
  params, opt_state, carries, losses = run(state["params"], state["opt_state"], carries, chunks)
  loss = jnp.mean(losses)
  new = {"params": params, "opt_state": opt_state, "carries": _all_rows(carries, axis_name)}
  return new, {"loss": loss, "bits_per_char": loss / LN2}


def stream_nats(chunk_nll: Callable[[Carry, jax.Array], tuple[Carry, jax.Array]], carry: Carry,
                batch: Mapping[str, jax.Array]) -> dict[str, jax.Array]:
  """Sums of a :func:`stream_eval_batch`: the model reads each row's windows in order with its
  state carried (``chunk_nll(carry, windows (rows, chunk + 1)) -> (carry, nll (rows, chunk))``),
  stopping after the longest row's windows."""
  windows, weights = batch["windows"], batch["weights"]

  def body(i, value):
    carry, total = value
    carry, nll = chunk_nll(carry, windows[:, i])
    return carry, total + jnp.sum(nll * weights[:, i])

  _, total = jax.lax.fori_loop(0, jnp.max(batch["num_windows"]), body, (carry, jnp.zeros((), jnp.float32)))
  return {"nats_sum": total, "count": jnp.sum(weights)}


def bits_summary(total: Mapping[str, Any]) -> dict[str, float]:
  """Summed nats and characters -> bits (and nats) per character."""
  nats = float(total["nats_sum"]) / max(float(total["count"]), 1.0)
  return {"bits_per_char": nats / LN2, "nats_per_char": nats}


def _params(state):
  return state["params"]


def _with_params(state, params):
  return {**state, "params": params}


def char_lm_task(model: CharLM, tx: optax.GradientTransformation, batch_size: int, finish=None,
                 averaged: bool = False) -> Task:
  """The truncated-BPTT task: state ``{"params", "opt_state", "carries"}`` (the carries of all
  ``batch_size`` streams); the best state is the parameters with the lowest val bits per char.

  ``averaged`` (an optimizer built with ``ema_decay``): evaluation, the best state and ``finish``
  use the Polyak average the optimizer keeps, not the raw parameters training updates."""

  def evaluated(state):
    return optim.averaged_params(state["opt_state"]) if averaged else state["params"]

  def with_best(state, params):
    if not averaged:
      return _with_params(state, params)
    # A fresh optimizer state's average is the kept parameters, so evaluating it evaluates them.
    return {**state, "params": params, "opt_state": tx.init(params)}

  def init(key, example):
    del example
    params = jax.jit(model.init)(key, jnp.zeros((1, 1), jnp.int32))["params"]
    # Copies: an LSTM's (c, h) zeros may be one array, and a donated state must not hold a buffer twice.
    carries = jax.tree.map(jnp.copy, model.initial_carries(batch_size))
    return {"params": params, "opt_state": tx.init(params), "carries": carries}

  def train_step(state, batch, key, axis_name=None):
    return char_lm_train_step(model, tx, state, batch, key, axis_name)

  def eval_step(state, batch):
    def chunk_nll(carries, windows):
      carries, logits = model.apply({"params": evaluated(state)}, windows[:, :-1], carries)
      return carries, optax.softmax_cross_entropy_with_integer_labels(logits, windows[:, 1:])

    return stream_nats(chunk_nll, model.initial_carries(batch["windows"].shape[0]), batch)

  return Task(init=init, train_step=train_step, eval_step=eval_step, summarize=bits_summary,
              metric="bits_per_char", mode="min", best=evaluated, with_best=with_best, finish=finish,
              name="char_lm")


def min_char_rnn_train_step(state: dict[str, Any], batch, key: jax.Array, axis_name: str | None = None,
                            learning_rate: float = gist.LEARNING_RATE, clip: float | None = gist.CLIP,
                            seq_length: int = gist.SEQ_LENGTH):
  """``chunks_per_step`` iterations of the gist (:func:`cs231n_jax.text.min_char_rnn.iteration`) on
  a :class:`GistBatcher` batch, in one ``lax.scan``. ``loss`` is the gist's (nats summed over a
  chunk), averaged over the step's iterations."""
  del key  # the gist draws no randomness while training
  if axis_name is not None:
    raise ConfigError("train.step: min-char-rnn reads one stream, so it runs on one device ('jit')")

  def body(s, inputs):
    window, restart = inputs
    return gist.iteration(s, window, restart, learning_rate, clip)

  state, losses = jax.lax.scan(body, state, (batch["window"][0], batch["restart"][0]))
  loss = jnp.mean(losses)
  return state, {"loss": loss, "smooth_loss": state["smooth_loss"], "bits_per_char": loss / seq_length / LN2}


def min_char_rnn_task(vocab_size: int, hidden_size: int = gist.HIDDEN_SIZE, seq_length: int = gist.SEQ_LENGTH,
                      learning_rate: float = gist.LEARNING_RATE, clip: float | None = gist.CLIP, finish=None) -> Task:
  """The gist as a task: state ``{"params", "memory", "hprev", "smooth_loss"}``; the best state is
  the parameters with the lowest val bits per char."""

  def init(key, example):
    del example
    return gist.initial_state(key, vocab_size, hidden_size, seq_length)

  def train_step(state, batch, key, axis_name=None):
    return min_char_rnn_train_step(state, batch, key, axis_name, learning_rate, clip, seq_length)

  def eval_step(state, batch):
    params = state["params"]

    def chunk_nll(h, windows):
      return jax.vmap(lambda hh, w: gist.window_nll(params, hh, w))(h, windows)

    h0 = jnp.zeros((batch["windows"].shape[0], params["Whh"].shape[0]), params["Whh"].dtype)
    return stream_nats(chunk_nll, h0, batch)

  return Task(init=init, train_step=train_step, eval_step=eval_step, summarize=bits_summary,
              metric="bits_per_char", mode="min", best=_params, with_best=_with_params, finish=finish,
              name="min_char_rnn")


# ---------------------------------------------------------------------------------------------
# Reports: baselines, samples, figures.
# ---------------------------------------------------------------------------------------------


def plot_bits(records: list[dict[str, Any]], baselines: dict[str, dict[str, float]], path) -> None:
  """Train and val bits per character against the step, with the n-gram baselines' val bits."""
  fig, ax = subplots(figsize=(7, 4))
  for split, style in (("train", "-"), ("val", "o-")):
    rs = [r for r in records if r.get("split") == split and "bits_per_char" in r]
    if rs:
      ax.plot([r["step"] for r in rs], [r["bits_per_char"] for r in rs], style, label=f"{split} (model)")
  for name, r in baselines.items():
    if name != "uniform":
      ax.axhline(r["val_bits"], ls=":", lw=1, color="gray")
      ax.text(0, r["val_bits"], f" {name} (val)", va="bottom", fontsize=7, color="gray")
  ax.set_xlabel("step")
  ax.set_ylabel("bits per character")
  ax.set_ylim(bottom=1.0, top=5.0)
  ax.legend()
  fig.tight_layout()
  save_figure(fig, path, dpi=100)


def baseline_results(corpus: CharCorpus, orders, test_bits: float, kneser_ney_orders=()) -> dict[str, Any]:
  """The add-k n-gram baselines on the corpus's split, the best one by val, and whether the model's
  test bits beat it; with ``kneser_ney_orders``, the interpolated Kneser-Ney models too (in
  ``ngram``, and their best by val as ``best_kneser_ney``)."""
  baselines = ngram_baselines(corpus, tuple(orders))
  best = min((k for k in baselines if k != "uniform"), key=lambda k: baselines[k]["val_bits"])
  out = {"ngram": baselines, "best_ngram": best, "best_ngram_test_bits": baselines[best]["test_bits"],
         "beats_best_ngram": test_bits < baselines[best]["test_bits"]}
  if kneser_ney_orders:
    kn = kneser_ney_baselines(corpus, tuple(kneser_ney_orders))
    best_kn = min(kn, key=lambda k: kn[k]["val_bits"])
    baselines.update(kn)
    out.update(best_kneser_ney=best_kn, best_kneser_ney_test_bits=kn[best_kn]["test_bits"],
               beats_kneser_ney=test_bits < kn[best_kn]["test_bits"])
  return out


def write_report(workdir, samples: dict[str, str], baselines: dict[str, dict[str, float]], line: str) -> None:
  workdir = epath.Path(workdir)
  (workdir / SAMPLES_NAME).write_text("".join(f"--- temperature {k} ---\n{v}\n\n" for k, v in samples.items()))
  plot_bits(read_jsonl(workdir / "metrics.jsonl"), baselines, workdir / CURVES_NAME)
  print(baseline_table(baselines))
  print(line)


def char_lm_report(config, model: CharLM, corpus: CharCorpus, params, evals, workdir, num_steps: int) -> dict[str, Any]:
  """``Task.finish`` of ``run``: n-gram baselines, samples at each temperature, the interpretable
  cells (LSTM), the bits/char curve and ``samples.txt``."""
  t = config.train
  updates = num_steps * t.chunks_per_step
  test_bits = evals["test"]["bits_per_char"]
  results: dict[str, Any] = {"updates": updates, "characters_seen": updates * t.batch_size * t.seq_length,
                             "corpus": corpus.describe(), **baseline_results(corpus, config.ngram_orders, test_bits,
                                                 config.get("kneser_ney_orders", ()))}
  key = jax.random.key(config.seed)
  sampler = make_sampler(model, config.sample.length)
  prime = corpus.vocab.encode(config.sample.prime or "\n")[None]
  samples = {}
  for i, temperature in enumerate(config.sample.temperatures):
    ids = sampler(params, prime, jax.random.fold_in(key, SAMPLE_KEY_OFFSET + i), float(temperature))
    samples[str(temperature)] = config.sample.prime + corpus.vocab.decode(ids[0])
  results["samples"] = samples
  dynamic = config.get("dynamic_eval")
  if dynamic is not None and dynamic.learning_rates:
    results["dynamic_eval"] = tune_and_evaluate(model, params, corpus.val, corpus.test, dynamic.segment_length,
                                                tuple(dynamic.learning_rates), tuple(dynamic.decays))
  if jax.process_index() != 0:
    return results
  if config.model.get("cell") == "lstm" and config.cells.enabled:
    from cs231n_jax.text.cells import interpretable_cells

    results["interpretable_cells"] = interpretable_cells(
        model, params, corpus.vocab, corpus.test[:config.cells.analysis_chars], epath.Path(workdir) / CELLS_NAME,
        figure_chars=config.cells.figure_chars)
  dynamic_line = ""
  if "dynamic_eval" in results:
    d = results["dynamic_eval"]
    dynamic_line = f", dynamic evaluation {d['test_bits_per_char']:.3f} (lr {d['learning_rate']:g}, decay {d['decay']:g})"
  write_report(workdir, samples, results["ngram"],
               f"{config.model.get('cell', config.model.get('name'))} test bits/char {test_bits:.3f}{dynamic_line} (best n-gram "
               f"{results['best_ngram']}: {results['best_ngram_test_bits']:.3f}); samples in {epath.Path(workdir) / SAMPLES_NAME}")
  return results


def min_char_rnn_report(config, corpus: CharCorpus, params, evals, workdir, num_steps: int) -> dict[str, Any]:
  """``Task.finish`` of ``run_min_char_rnn``: baselines, the gist's samples, the curve."""
  t = config.train
  iterations = num_steps * t.chunks_per_step
  test_bits = evals["test"]["bits_per_char"]
  results: dict[str, Any] = {"iterations": iterations, "iterations_per_step": t.chunks_per_step,
                             "characters_seen": iterations * t.seq_length, "corpus": corpus.describe(),
                             **baseline_results(corpus, config.ngram_orders, test_bits)}
  key = jax.random.key(config.seed)
  first = int(corpus.train[0])
  samples = {}
  for i, temperature in enumerate(config.sample.temperatures):
    ids = gist.sample(params, jnp.zeros(config.model.hidden_size), first, config.sample.length,
                      jax.random.fold_in(key, i + 1), temperature)
    samples[str(temperature)] = corpus.vocab.decode([first]) + corpus.vocab.decode(ids)
  results["samples"] = samples
  if jax.process_index() == 0:
    write_report(workdir, samples, results["ngram"], f"min-char-rnn test bits/char {test_bits:.3f}")
  return results


# ---------------------------------------------------------------------------------------------
# From a config to the engine.
# ---------------------------------------------------------------------------------------------


def build_model(model_config: ml_collections.ConfigDict, vocab_size: int) -> CharLM:
  """``model.name`` "char_lm" (the recurrent stack; the default) or "char_transformer"."""
  m = model_config
  name = m.get("name", "char_lm")
  if name == "char_transformer":
    return get_model(name, vocab_size=vocab_size, embed_dim=m.embed_dim, num_layers=m.num_layers, num_heads=m.num_heads,
                     mlp_dim=m.mlp_dim, memory=m.memory, dropout_rate=m.dropout_rate)
  if name != "char_lm":
    raise ConfigError(f"model.name: expected 'char_lm' or 'char_transformer', got {name!r}")
  return get_model("char_lm", vocab_size=vocab_size, cell=m.cell, hidden_size=m.hidden_size, num_layers=m.num_layers,
                   embed_dim=m.embed_dim, dropout_rate=m.dropout_rate, embed_dropout_rate=m.get("embed_dropout_rate", 0.0),
                   recurrent_dropout_rate=m.get("recurrent_dropout_rate", 0.0))


def char_lm_data(corpus: CharCorpus, config: ml_collections.ConfigDict) -> Data:
  """This process's streams and the three one-stream evaluation splits. ``batch_size`` is the
  characters a step trains on, so the engine's throughput is characters per second."""
  t = config.train
  train = StreamBatcher(corpus.train, t.batch_size, t.seq_length, t.chunks_per_step, corpus.vocab,
                        jax.process_index(), jax.process_count())
  example = {"tokens": np.zeros((1, t.chunks_per_step, t.seq_length + 1), np.int32),
             "reset": np.zeros((1, t.chunks_per_step), bool)}
  return Data(train=train, eval=stream_eval_data(corpus, t.eval_chunk, t.step), example=example,
              batch_size=t.batch_size * t.chunks_per_step * t.seq_length)


def build(config: ml_collections.ConfigDict, with_report: bool = False):
  """``(task, data, corpus, model)`` of a char-RNN / LSTM config; ``with_report`` adds the
  baselines, samples and figures (``task.finish``)."""
  check_config(config)
  parallel.initialize()
  t = config.train
  corpus = load_corpus(config.data)
  data = char_lm_data(corpus, config)
  model = build_model(config.model, corpus.vocab.size)
  num_steps = loop.total_steps(t, data.train.steps_per_epoch)
  tx = optax.chain(gradient_clipping(t.clip, t.clip_threshold),
                   optim.make_optimizer(config.optimizer, num_steps * t.chunks_per_step))

  def finish(state, evals, workdir):
    return char_lm_report(config, model, corpus, state["params"], evals, workdir, num_steps)

  averaged = config.optimizer.get("ema_decay") is not None
  return char_lm_task(model, tx, t.batch_size, finish if with_report else None, averaged), data, corpus, model


def build_min_char_rnn(config: ml_collections.ConfigDict, with_report: bool = False):
  """``(task, data, corpus)`` of a min-char-rnn config."""
  check_min_char_rnn_config(config)
  t = config.train
  corpus = load_corpus(config.data)
  train = GistBatcher(corpus.train, t.seq_length, t.chunks_per_step, corpus.vocab)
  example = {"window": np.zeros((1, t.chunks_per_step, t.seq_length + 1), np.int32),
             "restart": np.zeros((1, t.chunks_per_step), bool)}
  data = Data(train=train, eval=stream_eval_data(corpus, t.eval_chunk, t.step), example=example,
              batch_size=t.chunks_per_step * t.seq_length)
  num_steps = loop.total_steps(t, train.steps_per_epoch)

  def finish(state, evals, workdir):
    return min_char_rnn_report(config, corpus, state["params"], evals, workdir, num_steps)

  task = min_char_rnn_task(corpus.vocab.size, config.model.hidden_size, t.seq_length, t.learning_rate, t.clip,
                           finish if with_report else None)
  return task, data, corpus


def run(config: ml_collections.ConfigDict, workdir: str) -> dict[str, Any]:
  """Train a char-RNN / LSTM / GRU on ``config.data`` in ``workdir``; returns bits/char (val, test,
  a training slice) of the best-on-val parameters next to the n-gram baselines, and samples."""
  task, data, corpus, _ = build(config, with_report=True)
  check_workdir_vocabulary(workdir, corpus.vocab)
  return loop.fit(task, data, config, workdir)


def run_min_char_rnn(config: ml_collections.ConfigDict, workdir: str) -> dict[str, Any]:
  """The gist on ``config.data`` (one stream, one chunk at a time, Adagrad), with held-out bits per
  character next to the n-gram baselines."""
  task, data, corpus = build_min_char_rnn(config, with_report=True)
  check_workdir_vocabulary(workdir, corpus.vocab)
  if jax.process_index() == 0:
    print(f"data has {len(corpus.train)} characters, {corpus.vocab.size} unique.")  # the gist's first print
  return loop.fit(task, data, config, workdir)


def _build_any(config: ml_collections.ConfigDict):
  if config.get("runner", RUNNER) == MIN_CHAR_RNN_RUNNER:
    task, data, corpus = build_min_char_rnn(config)
    return task, data, corpus
  task, data, corpus, _ = build(config)
  return task, data, corpus


def evaluate(config: ml_collections.ConfigDict, workdir: str, split: str = "test") -> dict[str, Any]:
  """Bits per character of the best parameters of the newest checkpoint in ``workdir`` on
  ``split`` (``val``, ``test`` or ``train_sample``), for either runner's config."""
  task, data, corpus = _build_any(config)
  check_workdir_vocabulary(workdir, corpus.vocab)
  return loop.evaluate_run(task, data, config, workdir, split)


def load_run(workdir: str) -> tuple[CharLM, Any, CharCorpus]:
  """The best-on-val model of a ``run`` workdir: ``(model, params, corpus)``, from its
  ``config.json`` and newest checkpoint (read-only), to sample from or inspect."""
  path = epath.Path(workdir) / "config.json"
  if not path.exists():
    raise ConfigError(f"--workdir: {workdir} has no config.json (not a char-LM run)")
  config = ml_collections.ConfigDict(json.loads(path.read_text()))
  task, data, corpus, model = build(config)
  check_workdir_vocabulary(workdir, corpus.vocab)
  state, _, _ = loop.restore_best(task, data, config, workdir)
  return model, state["task"]["params"], corpus
