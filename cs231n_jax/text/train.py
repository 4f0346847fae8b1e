"""Training a character language model with truncated BPTT, and measuring it in bits per character.

The training text is cut into ``batch_size`` contiguous streams (one long row each); every step
takes the next ``seq_length`` characters of every stream, so the hidden state carried from one
step to the next is the state after exactly the preceding text — truncated BPTT as min-char-rnn
does it (``hprev`` carried, gradients cut at chunk boundaries), but with a batch of streams. At the
end of an epoch the streams start over and the state is reset to zero. ``steps_per_call`` steps
run inside one jitted ``lax.scan`` (:func:`cs231n_jax.nn.recurrent.truncated_bptt`).

Evaluation runs the model over a whole split as one stream, chunk by chunk with the state carried,
and scores every character after the first: the same characters the n-gram baselines score
(:mod:`cs231n_jax.text.ngram`), with models and baselines both chosen on val and reported on test.

Checkpoints (``CheckpointManager``) hold the parameters, optimizer state, the carried state, the
best-on-val parameters and the stream position, so a restarted run continues where it stopped; the
vocabulary is stored with them and a checkpoint of a different vocabulary is refused with a
one-line error rather than silently producing garbage.
"""

from __future__ import annotations

import json
import math
import sys
import time
from typing import Any

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax
from etils import epath

from cs231n_jax import optim
from cs231n_jax.errors import CheckpointError, ConfigError
from cs231n_jax.nn.recurrent import gradient_clipping, truncated_bptt
from cs231n_jax.plotting import subplots
from cs231n_jax.text.corpus import CharCorpus, CharVocab, load_corpus
from cs231n_jax.text.model import CharLM
from cs231n_jax.text.ngram import DEFAULT_ORDERS, baseline_table, ngram_baselines
from cs231n_jax.text.sample import make_sampler
from cs231n_jax.train.checkpoint import CheckpointManager, json_safe
from cs231n_jax.train.metrics import MetricWriter, read_jsonl

LN2 = math.log(2.0)
CHECKPOINT_DIR = "checkpoints"
RESULTS_NAME = "results.json"
SAMPLES_NAME = "samples.txt"
CURVES_NAME = "bits_per_char.png"
CELLS_NAME = "interpretable_cells.png"


def default_config() -> ml_collections.ConfigDict:
  """Every field ``run_char_lm`` reads (configs start here and override)."""
  c = ml_collections.ConfigDict()
  c.runner = "cs231n_jax.text.train:run_char_lm"
  c.seed = 0
  c.data = ml_collections.ConfigDict({"name": "pydoc", "path": "", "val_fraction": 0.05, "test_fraction": 0.10})
  c.model = ml_collections.ConfigDict(
      {"cell": "lstm", "hidden_size": 256, "num_layers": 1, "embed_dim": 64, "dropout_rate": 0.0})
  c.optimizer = optim.default_config("adam", 2e-3)
  c.train = ml_collections.ConfigDict({
      "batch_size": 32,        # parallel streams
      "seq_length": 64,        # characters per truncated-BPTT chunk
      "num_steps": 3000,
      "steps_per_call": 25,    # chunks per jitted lax.scan
      "eval_every": 500,
      "log_every": 100,
      "checkpoint_every": 500,
      "keep_checkpoints": 2,
      "clip": "norm",          # "norm" | "value" | "none"
      "clip_threshold": 5.0,
      "eval_chunk": 512,
      "progress": True,
  })
  c.sample = ml_collections.ConfigDict({"length": 300, "prime": "The ", "temperatures": (0.5, 1.0)})
  c.ngram_orders = DEFAULT_ORDERS
  # The interpretable-cells figure (LSTM only): correlations over the first analysis_chars of the
  # test text, the figure over its first figure_chars.
  c.cells = ml_collections.ConfigDict({"enabled": True, "analysis_chars": 5000, "figure_chars": 600})
  return c


def check_config(c: ml_collections.ConfigDict) -> None:
  t = c.train
  for name in ("batch_size", "seq_length", "num_steps", "steps_per_call", "eval_every", "log_every",
               "checkpoint_every", "keep_checkpoints", "eval_chunk"):
    v = t[name]
    if isinstance(v, bool) or not isinstance(v, int) or v < 1:
      raise ConfigError(f"train.{name}: expected a positive integer, got {v!r}")
  for name in ("eval_every", "log_every", "checkpoint_every"):
    if t[name] % t.steps_per_call:
      raise ConfigError(f"train.{name}: must be a multiple of train.steps_per_call ({t.steps_per_call}), got {t[name]}")
  if t.num_steps % t.steps_per_call:
    raise ConfigError(f"train.num_steps: must be a multiple of train.steps_per_call ({t.steps_per_call}), got {t.num_steps}")


class StreamBatcher:
  """Consecutive ``seq_length + 1``-character windows of ``batch_size`` parallel streams.

  Window k of an epoch covers characters [k T, (k + 1) T] of every stream (inputs are the first T,
  targets the last T), so consecutive windows overlap by one character and the carried state is
  exact. ``state()`` / ``restore()`` make the position part of a checkpoint.
  """

  def __init__(self, ids: np.ndarray, batch_size: int, seq_length: int):
    length = len(ids) // batch_size
    if length < seq_length + 1:
      raise ConfigError(f"train.batch_size x train.seq_length: {batch_size} streams of {seq_length + 1} characters "
                        f"need {batch_size * (seq_length + 1)} training characters, the corpus has {len(ids)}")
    self.streams = np.asarray(ids[:length * batch_size], np.int32).reshape(batch_size, length)
    self.seq_length = seq_length
    self.steps_per_epoch = (length - 1) // seq_length
    self.position = 0
    self.epoch = 0

  def next(self, count: int) -> tuple[np.ndarray, np.ndarray]:
    """``count`` windows (count, B, T + 1) and whether each starts an epoch (reset the state)."""
    windows, resets = [], []
    for _ in range(count):
      if self.position == self.steps_per_epoch:
        self.position, self.epoch = 0, self.epoch + 1
      start = self.position * self.seq_length
      windows.append(self.streams[:, start:start + self.seq_length + 1])
      resets.append(self.position == 0)
      self.position += 1
    return np.stack(windows), np.asarray(resets)

  def state(self) -> dict[str, int]:
    return {"position": self.position, "epoch": self.epoch}

  def restore(self, state: dict[str, int]) -> None:
    self.position, self.epoch = int(state["position"]), int(state["epoch"])


def build_model(c: ml_collections.ConfigDict, vocab_size: int) -> CharLM:
  m = c.model
  return CharLM(vocab_size=vocab_size, cell=m.cell, hidden_size=m.hidden_size, num_layers=m.num_layers,
                embed_dim=m.embed_dim, dropout_rate=m.dropout_rate)


def sequence_loss(model: CharLM):
  """(params, carries, {"tokens", "reset", "key"}) -> (mean nats per character, carries)."""

  def loss_fn(params, carries, chunk):
    tokens = chunk["tokens"]
    carries = jax.tree.map(lambda c: jnp.where(chunk["reset"], jnp.zeros_like(c), c), carries)
    carries, logits = model.apply({"params": params}, tokens[:, :-1], carries, train=True,
                                  rngs={"dropout": chunk["key"]})
    nll = optax.softmax_cross_entropy_with_integer_labels(logits, tokens[:, 1:])
    return jnp.mean(nll), carries

  return loss_fn


def make_evaluator(model: CharLM, chunk: int):
  """``nats(params, ids) -> (total nats, characters scored)`` over one stream, state carried."""

  @jax.jit
  def run(params, windows, weights):
    def step(carries, inputs):
      window, weight = inputs
      carries, logits = model.apply({"params": params}, window[None, :-1], carries)
      nll = optax.softmax_cross_entropy_with_integer_labels(logits[0], window[1:])
      return carries, jnp.sum(nll * weight)

    _, sums = jax.lax.scan(step, model.initial_carries(1), (windows, weights))
    return jnp.sum(sums)

  def nats(params, ids: np.ndarray) -> tuple[float, int]:
    ids = np.asarray(ids, np.int32)
    predictions = len(ids) - 1
    if predictions < 1:
      raise ValueError(f"evaluate: a split of {len(ids)} characters has nothing to predict")
    k = -(-predictions // chunk)
    padded = np.zeros(k * chunk + 1, np.int32)
    padded[:len(ids)] = ids
    windows = np.stack([padded[i * chunk:(i + 1) * chunk + 1] for i in range(k)])
    weights = (np.arange(k * chunk) < predictions).astype(np.float32).reshape(k, chunk)
    return float(run(params, windows, weights)), predictions

  return nats


def bits_per_char(evaluator, params, ids) -> float:
  total, count = evaluator(params, ids)
  return total / count / LN2


def check_vocabulary(checkpoints: CheckpointManager, vocab: CharVocab) -> None:
  """Refuse a checkpoint trained on another vocabulary (one line, both sizes and fingerprints)."""
  step = checkpoints.latest_step()
  if step is None:
    return
  saved = checkpoints.read_meta(step).get("vocab")
  if saved is not None and list(saved) != vocab.to_json():
    other = CharVocab.from_json(saved)
    raise CheckpointError(
        f"checkpoint step {step} in {checkpoints.directory} was trained on a different character vocabulary "
        f"({other.size} ids, fingerprint {other.fingerprint()}) than this corpus ({vocab.size} ids, "
        f"fingerprint {vocab.fingerprint()}); use a new --workdir or the same data")


def plot_bits(records: list[dict[str, Any]], baselines: dict[str, dict[str, float]], path) -> None:
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
  fig.savefig(str(path), dpi=100)


def run_char_lm(config: ml_collections.ConfigDict, workdir: str) -> dict[str, Any]:
  """Train a char-RNN/LSTM on ``config.data`` in ``workdir``; returns bits/char vs the n-grams."""
  check_config(config)
  t = config.train
  workdir = epath.Path(workdir)
  workdir.mkdir(parents=True, exist_ok=True)
  wall_start = time.time()
  corpus = load_corpus(config.data)
  baselines = ngram_baselines(corpus, tuple(config.ngram_orders))
  model = build_model(config, corpus.vocab.size)
  clip = gradient_clipping(t.clip, t.clip_threshold)
  tx = optax.chain(clip, optim.make_optimizer(config.optimizer, t.num_steps))
  key = jax.random.key(config.seed)
  params = jax.jit(model.init)(key, jnp.zeros((1, 1), jnp.int32))["params"]
  opt_state = tx.init(params)
  carries = model.initial_carries(t.batch_size)
  batcher = StreamBatcher(corpus.train, t.batch_size, t.seq_length)
  run_chunks = jax.jit(truncated_bptt(sequence_loss(model), tx), donate_argnums=(0, 1))
  evaluator = make_evaluator(model, t.eval_chunk)

  config_json = json_safe(config.to_dict())
  checkpoints = CheckpointManager(workdir / CHECKPOINT_DIR, keep=t.keep_checkpoints)
  check_vocabulary(checkpoints, corpus.vocab)
  template = {"params": params, "opt_state": opt_state, "carries": carries, "best_params": params}
  template = jax.tree.map(np.asarray, template)
  restored = checkpoints.restore_latest(template, config=config_json)
  step, best_val, best_step = 0, math.inf, 0
  best_params = jax.tree.map(jnp.array, params)  # a copy: params' buffers are donated to the step
  if restored is not None:
    tree = restored.tree
    params, opt_state, carries, best_params = tree["params"], tree["opt_state"], tree["carries"], tree["best_params"]
    batcher.restore(restored.meta["batcher"])
    step, best_val, best_step = restored.step, restored.meta["best_val_bits"], restored.meta["best_step"]
    print(f"resuming from step {step} of {t.num_steps} ({checkpoints.directory})")
  writer = MetricWriter(workdir)
  writer.truncate_after(step)
  (workdir / "config.json").write_text(json.dumps(config_json, indent=2))

  def save(step):
    tree = jax.tree.map(np.asarray, {"params": params, "opt_state": opt_state, "carries": carries,
                                     "best_params": best_params})
    checkpoints.save(step, tree, {"batcher": batcher.state(), "vocab": corpus.vocab.to_json(),
                                  "vocab_fingerprint": corpus.vocab.fingerprint(), "best_val_bits": best_val,
                                  "best_step": best_step, "config": config_json})

  progress = None
  if t.progress and step < t.num_steps:
    from tqdm.auto import tqdm

    progress = tqdm(total=t.num_steps, initial=step, desc="char-lm", unit="step", file=sys.stderr, mininterval=1.0)
  window_losses, window_start = [], time.time()
  while step < t.num_steps:
    windows, resets = batcher.next(t.steps_per_call)
    keys = jax.random.split(jax.random.fold_in(key, step), t.steps_per_call)
    chunks = {"tokens": windows, "reset": resets, "key": keys}
    params, opt_state, carries, losses = run_chunks(params, opt_state, carries, chunks)
    step += t.steps_per_call
    losses = np.asarray(losses)
    if not np.all(np.isfinite(losses)):
      raise FloatingPointError(f"char-lm: loss is {losses[~np.isfinite(losses)][0]} at step {step}; lower "
                               "optimizer.learning_rate or clip harder (train.clip_threshold)")
    window_losses.extend(losses.tolist())
    if progress is not None:
      progress.update(t.steps_per_call)
    if step % t.log_every == 0:
      elapsed = max(time.time() - window_start, 1e-9)
      bits = float(np.mean(window_losses)) / LN2
      writer.write(step, "train", {"bits_per_char": bits, "chars_per_sec": len(window_losses) * t.batch_size * t.seq_length / elapsed})
      if progress is not None:
        progress.set_postfix(bits=f"{bits:.3f}")
      window_losses, window_start = [], time.time()
    if step % t.eval_every == 0 or step == t.num_steps:
      val_bits = bits_per_char(evaluator, params, corpus.val)
      writer.write(step, "val", {"bits_per_char": val_bits})
      if val_bits < best_val:
        best_val, best_step = val_bits, step
        best_params = jax.tree.map(jnp.array, params)
      window_start = time.time()  # throughput excludes evaluation
    if step % t.checkpoint_every == 0 or step == t.num_steps:
      save(step)
  if progress is not None:
    progress.close()
  checkpoints.close()
  writer.close()

  results: dict[str, Any] = {"steps": t.num_steps, "best_step": best_step, "corpus": corpus.describe(),
                             "val_bits_per_char": bits_per_char(evaluator, best_params, corpus.val),
                             "test_bits_per_char": bits_per_char(evaluator, best_params, corpus.test),
                             "train_sample_bits_per_char": bits_per_char(evaluator, best_params, corpus.train[:len(corpus.test)]),
                             "ngram": baselines}
  best_ngram = min((k for k in baselines if k != "uniform"), key=lambda k: baselines[k]["val_bits"])
  results["best_ngram"] = best_ngram
  results["best_ngram_test_bits"] = baselines[best_ngram]["test_bits"]
  results["beats_best_ngram"] = results["test_bits_per_char"] < baselines[best_ngram]["test_bits"]
  samples = {}
  sampler = make_sampler(model, config.sample.length)
  prime = corpus.vocab.encode(config.sample.prime or "\n")[None]
  for i, temperature in enumerate(config.sample.temperatures):
    ids = sampler(best_params, prime, jax.random.fold_in(key, 10_000 + i), float(temperature))
    samples[str(temperature)] = config.sample.prime + corpus.vocab.decode(ids[0])
  results["samples"] = samples
  if config.model.cell == "lstm" and config.cells.enabled:
    from cs231n_jax.text.cells import interpretable_cells

    results["interpretable_cells"] = interpretable_cells(
        model, best_params, corpus.vocab, corpus.test[:config.cells.analysis_chars], workdir / CELLS_NAME,
        figure_chars=config.cells.figure_chars)
  results["wall_time_s"] = time.time() - wall_start
  (workdir / RESULTS_NAME).write_text(json.dumps(results, indent=2))
  (workdir / SAMPLES_NAME).write_text("".join(f"--- temperature {k} ---\n{v}\n\n" for k, v in samples.items()))
  plot_bits(read_jsonl(workdir / "metrics.jsonl"), baselines, workdir / CURVES_NAME)
  print(baseline_table(baselines))
  print(f"{config.model.cell} test bits/char {results['test_bits_per_char']:.3f} (best n-gram {best_ngram}: "
        f"{results['best_ngram_test_bits']:.3f}); samples in {workdir / SAMPLES_NAME}")
  return results


def load_char_lm(workdir: str):
  """The best-on-val model of a finished ``run_char_lm`` workdir: ``(model, params, corpus)``.

  Reads ``config.json`` and the newest checkpoint (read-only), so a notebook or a script can sample
  from or inspect a trained model.
  """
  workdir = epath.Path(workdir)
  config_path = workdir / "config.json"
  if not config_path.exists():
    raise ConfigError(f"--workdir: {workdir} has no config.json (not a run_char_lm workdir)")
  config = ml_collections.ConfigDict(json.loads(config_path.read_text()))
  corpus = load_corpus(config.data)
  model = build_model(config, corpus.vocab.size)
  params = jax.jit(model.init)(jax.random.key(0), jnp.zeros((1, 1), jnp.int32))["params"]
  tx = optax.chain(gradient_clipping(config.train.clip, config.train.clip_threshold),
                   optim.make_optimizer(config.optimizer, config.train.num_steps))
  template = jax.tree.map(np.asarray, {"params": params, "opt_state": tx.init(params),
                                       "carries": model.initial_carries(config.train.batch_size), "best_params": params})
  checkpoints = CheckpointManager(workdir / CHECKPOINT_DIR, read_only=True)
  check_vocabulary(checkpoints, corpus.vocab)
  restored = checkpoints.restore_latest(template)
  checkpoints.close()
  if restored is None:
    raise ConfigError(f"--workdir: no readable checkpoint in {workdir / CHECKPOINT_DIR}")
  return model, restored.tree["best_params"], corpus
