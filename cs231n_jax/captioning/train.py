"""Training and evaluating the captioners: the course's overfitting check, the runner, the metrics.

The loss is the course's ``temporal_softmax_loss``: cross-entropy of every next word given the
words before it (teacher forcing: inputs ``captions[:, :-1]``, targets ``captions[:, 1:]``), summed
over time and averaged over the minibatch, with ``<NULL>`` targets masked out. The attention
captioner may add Xu et al.'s doubly stochastic penalty ``λ Σ_i (1 - Σ_t p_ti)²`` (every location
attended about once over the caption).

:func:`overfit_small_data` is the course's sanity check: a fresh model trained on 50 training
captions (``load_coco_data(max_train=50)``), 50 epochs of minibatches of 25 drawn at random as the
course's ``CaptioningSolver`` draws them, Adam with the learning rate decayed once per epoch; the
final minibatch loss should fall below 0.1 (RNN), 0.5 (LSTM) and 0.03 (transformer; 100 epochs at
learning rate 1e-3, as its notebook trains it).

:func:`run_captioning` trains a captioner on a config's data, then decodes the val and test images
greedily and with beam search and reports the exact-match rate (the decoded caption equals one of
the image's reference captions), BLEU-1…4 against all references, and — for the attention model
on the synthetic scenes — how often the attention peak at a shape noun lies on that shape.
Checkpoints (``CheckpointManager``) carry the vocabulary; resuming with different data is
refused with a one-line error.
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
from cs231n_jax.captioning import scenes as S
from cs231n_jax.captioning.bleu import corpus_bleu
from cs231n_jax.captioning.data import CaptionData, CaptionSplit, load_caption_data
from cs231n_jax.captioning.decoding import make_beam_search, make_greedy_decoder
from cs231n_jax.captioning.models import CAPTIONERS, build_captioner
from cs231n_jax.captioning.vocab import NULL_ID, Vocabulary
from cs231n_jax.errors import CheckpointError, ConfigError
from cs231n_jax.train.checkpoint import CheckpointManager, json_safe
from cs231n_jax.train.metrics import MetricWriter

CHECKPOINT_DIR = "checkpoints"
OVERFIT_THRESHOLDS = {"rnn": 0.1, "lstm": 0.5, "attention_lstm": 0.5, "transformer": 0.03}  # the course's
COURSE_OVERFIT = {  # the course notebooks' settings: (learning rate, lr decay per epoch, epochs)
    "rnn": (5e-3, 0.95, 50), "lstm": (5e-3, 0.995, 50), "attention_lstm": (5e-3, 0.995, 50), "transformer": (1e-3, 1.0, 100),
}
MODEL_FIELDS = {
    "rnn": ("wordvec_dim", "hidden_dim"), "lstm": ("wordvec_dim", "hidden_dim", "forget_bias"),
    "attention_lstm": ("wordvec_dim", "hidden_dim", "attention_dim", "attention"),
    "transformer": ("wordvec_dim", "num_heads", "num_layers", "mlp_dim", "dropout_rate", "norm"),
}
ENCODER_FIELDS = ("encoder_channels", "feature_dim", "global_dim")


# ---------------------------------------------------------------------------------------------
# Model, loss, step.
# ---------------------------------------------------------------------------------------------


def model_kwargs(model_config, max_length: int) -> dict[str, Any]:
  name = model_config["name"]
  if name not in CAPTIONERS:
    raise ConfigError(f"model.name: expected one of {CAPTIONERS}, got {name!r}")
  kwargs = {k: model_config[k] for k in MODEL_FIELDS[name] + ENCODER_FIELDS if k in model_config}
  if "encoder_channels" in kwargs:
    kwargs["encoder_channels"] = tuple(kwargs["encoder_channels"])
  if name == "transformer":
    kwargs["max_length"] = max_length
  return kwargs


def build_model(model_config, vocab_size: int, max_length: int):
  return build_captioner(model_config["name"], vocab_size, **model_kwargs(model_config, max_length))


def caption_loss(logits: jax.Array, captions_out: jax.Array) -> jax.Array:
  """The course's temporal softmax loss: Σ_t CE(scores_t, y_t) over non-<NULL> targets, / N."""
  mask = (captions_out != NULL_ID).astype(jnp.float32)
  nll = optax.softmax_cross_entropy_with_integer_labels(logits, captions_out)
  return jnp.sum(nll * mask) / captions_out.shape[0]


def doubly_stochastic_penalty(attention: jax.Array, captions_out: jax.Array) -> jax.Array:
  """Σ_i (1 - Σ_t p_ti)² over the steps that predict a real word, averaged over the batch."""
  mask = (captions_out != NULL_ID).astype(attention.dtype)[..., None]
  return jnp.mean(jnp.sum((1.0 - jnp.sum(attention * mask, axis=1)) ** 2, axis=-1))


def make_train_step(model, tx: optax.GradientTransformation, doubly_stochastic: float = 0.0):
  """``step(variables, opt_state, inputs, captions, key) -> (variables, opt_state, loss)``."""

  def loss_fn(variables, inputs, captions, key):
    logits, attention = model.apply(variables, inputs, captions[:, :-1], train=True, rngs={"dropout": key})
    loss = caption_loss(logits, captions[:, 1:])
    if doubly_stochastic:
      loss = loss + doubly_stochastic * doubly_stochastic_penalty(attention, captions[:, 1:])
    return loss

  @jax.jit
  def step(variables, opt_state, inputs, captions, key):
    loss, grads = jax.value_and_grad(loss_fn)(variables, inputs, captions, key)
    updates, opt_state = tx.update(grads, opt_state, variables)
    return optax.apply_updates(variables, updates), opt_state, loss

  return step


def init_variables(model, split: CaptionSplit, seed: int):
  inputs = split.inputs[:1]
  return jax.jit(model.init)(jax.random.key(seed), inputs, split.captions[:1, :-1])


# ---------------------------------------------------------------------------------------------
# The course's overfitting sanity check.
# ---------------------------------------------------------------------------------------------


def overfit_small_data(model_name: str, split: CaptionSplit, vocab: Vocabulary, max_length: int, num_examples: int = 50,
                       num_epochs: int | None = None, batch_size: int = 25, learning_rate: float | None = None,
                       lr_decay: float | None = None, seed: int = 231, **model_overrides) -> list[float]:
  """Train a fresh captioner on ``num_examples`` captions of as many images; returns the loss
  history (one entry per minibatch; the course's ``loss_history``).

  Each synthetic scene has two captions (two phrasings of one layout); training on both would leave
  an irreducible ln 2 at the word where they part, so the set takes one caption per image — as the
  course's 50 random COCO captions almost always come from 50 different images.
  """
  small = split.first_captions(num_examples)
  default_lr, default_decay, default_epochs = COURSE_OVERFIT[model_name]
  num_epochs = default_epochs if num_epochs is None else num_epochs
  learning_rate = default_lr if learning_rate is None else learning_rate
  lr_decay = default_decay if lr_decay is None else lr_decay
  iterations_per_epoch = max(len(small.captions) // batch_size, 1)
  schedule = optax.exponential_decay(learning_rate, iterations_per_epoch, lr_decay, staircase=True)
  tx = optax.adam(schedule)
  model = build_model({"name": model_name, **model_overrides}, vocab.size, max_length)
  variables = init_variables(model, small, seed)
  opt_state = tx.init(variables)
  step = make_train_step(model, tx)
  rng = np.random.default_rng(seed)
  history = []
  for it in range(num_epochs * iterations_per_epoch):
    rows = rng.choice(len(small.captions), batch_size)  # sample_coco_minibatch: with replacement
    variables, opt_state, loss = step(variables, opt_state, small.inputs[small.image_idxs[rows]], small.captions[rows],
                                      jax.random.key(it))
    history.append(float(loss))
  return history


# ---------------------------------------------------------------------------------------------
# Evaluation.
# ---------------------------------------------------------------------------------------------


def decode_split(decode, variables, split: CaptionSplit, batch_size: int) -> tuple[np.ndarray, np.ndarray | None]:
  """Decoded word ids (N_images, T) for every image, in fixed-size batches (the last one padded)."""
  outs, extras = [], []
  n = split.num_images
  for start in range(0, n, batch_size):
    chunk = split.inputs[start:start + batch_size]
    pad = batch_size - len(chunk)
    if pad:
      chunk = np.concatenate([chunk, np.repeat(chunk[-1:], pad, axis=0)])
    words, extra = decode(variables, chunk)
    outs.append(np.asarray(words)[:batch_size - pad])
    extras.append(np.asarray(extra)[:batch_size - pad])
  return np.concatenate(outs), np.concatenate(extras)


def caption_metrics(hypotheses: list[str], references: list[list[list[str]]]) -> dict[str, float]:
  """Exact-match rate and BLEU-1…4 of decoded captions against every image's references."""
  hyp_words = [h.split() for h in hypotheses]
  exact = [h in refs for h, refs in zip(hyp_words, references)]
  bleu = corpus_bleu(hyp_words, references)
  return {"exact_match": float(np.mean(exact)), **{f"bleu{n}": bleu[f"bleu{n}"] for n in range(1, 5)}}


def attention_hit_rate(captions: list[str], attention: np.ndarray, scenes: list[S.Scene], image_size: int) -> dict[str, float]:
  """For every shape noun the model wrote that names an object of the scene: is the attention peak
  (of the step that produced the noun) inside that object's box? Also the chance rate (the mean
  fraction of the image a box covers)."""
  grid = int(round(math.sqrt(attention.shape[-1])))
  cell = image_size / grid
  hits, total, area = 0, 0, []
  for caption, att, scene in zip(captions, attention, scenes):
    words = caption.split()
    for t, w in enumerate(words):
      if w not in S.SHAPES or t == 0:
        continue
      matches = [o for o in scene.objects if o.shape == w and o.color == words[t - 1]]
      if len(matches) != 1:
        continue
      obj = matches[0]
      peak = int(np.argmax(att[t]))
      cy, cx = (peak // grid + 0.5) * cell, (peak % grid + 0.5) * cell
      x0, y0, x1, y1 = obj.box
      hits += int(x0 <= cx <= x1 and y0 <= cy <= y1)
      total += 1
      area.append(min(x1 - x0, image_size) * min(y1 - y0, image_size) / image_size ** 2)
  return {"attention_hit_rate": hits / total if total else float("nan"), "attention_nouns": total,
          "attention_chance": float(np.mean(area)) if area else float("nan")}


def make_decoders(model, decode_length: int, beam_size: int, length_penalty: float = 0.0):
  """The jitted greedy decoder and (for beam_size > 1) beam search, built once and reused for
  every split (one compilation each)."""
  greedy = make_greedy_decoder(model, decode_length)
  beam = make_beam_search(model, decode_length, beam_size, length_penalty) if beam_size > 1 else None
  return greedy, beam


def evaluate(model, variables, data: CaptionData, split_name: str, decode_length: int, beam_size: int,
             batch_size: int, length_penalty: float = 0.0, decoders=None):
  """(metrics, greedy captions, attention) of ``split_name``: exact match and BLEU-1…4 for greedy
  decoding and beam search, the attention check on scenes, and a few examples."""
  split = data.split(split_name)
  greedy, beam = decoders or make_decoders(model, decode_length, beam_size, length_penalty)
  words, attention = decode_split(greedy, variables, split, batch_size)
  captions = data.vocab.decode_batch(words)
  out = {f"greedy_{k}": v for k, v in caption_metrics(captions, split.references).items()}
  if beam is not None:
    beam_words, _ = decode_split(beam, variables, split, batch_size)
    out.update({f"beam{beam_size}_{k}": v for k, v in caption_metrics(data.vocab.decode_batch(beam_words), split.references).items()})
  if split.scenes is not None and np.any(attention):
    out.update(attention_hit_rate(captions, attention, split.scenes, split.inputs.shape[1]))
  out["examples"] = [{"generated": c, "references": [" ".join(r) for r in refs]}
                     for c, refs in list(zip(captions, split.references))[:8]]
  return out, captions, attention


# ---------------------------------------------------------------------------------------------
# The runner.
# ---------------------------------------------------------------------------------------------


def default_config(name: str = "lstm") -> ml_collections.ConfigDict:
  c = ml_collections.ConfigDict()
  c.runner = "cs231n_jax.captioning.train:run_captioning"
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
  })
  c.optimizer = optim.default_config("adam", 2e-3)
  c.optimizer.eps = 1e-8  # the course's Adam
  c.optimizer.grad_clip_norm = 5.0
  c.optimizer.schedule.name = "cosine"
  c.train = ml_collections.ConfigDict({"batch_size": 64, "num_epochs": 20, "log_every": 50, "checkpoint_every": 5,
                                       "keep_checkpoints": 2, "eval_batch_size": 250, "progress": True})
  c.decode = ml_collections.ConfigDict({"beam_size": 3, "length_penalty": 0.0})
  c.figures = ml_collections.ConfigDict({"num_examples": 8, "num_attention": 3})
  return c


def check_vocabulary(checkpoints: CheckpointManager, vocab: Vocabulary) -> None:
  step = checkpoints.latest_step()
  if step is None:
    return
  saved = checkpoints.read_meta(step).get("vocab")
  if saved is not None and list(saved) != list(vocab.idx_to_word):
    other = Vocabulary(tuple(saved))
    raise CheckpointError(
        f"checkpoint step {step} in {checkpoints.directory} was trained with a different caption vocabulary "
        f"({other.size} words, fingerprint {other.fingerprint()}) than this data ({vocab.size} words, "
        f"fingerprint {vocab.fingerprint()}); use a new --workdir or the same data")


def run_captioning(config: ml_collections.ConfigDict, workdir: str) -> dict[str, Any]:
  """Train ``config.model.name`` on ``config.data``; exact match and BLEU on val and test."""
  t = config.train
  for name in ("batch_size", "num_epochs", "log_every", "checkpoint_every", "keep_checkpoints", "eval_batch_size"):
    if isinstance(t[name], bool) or not isinstance(t[name], int) or t[name] < 1:
      raise ConfigError(f"train.{name}: expected a positive integer, got {t[name]!r}")
  workdir = epath.Path(workdir)
  workdir.mkdir(parents=True, exist_ok=True)
  wall_start = time.time()
  data = load_caption_data(config.data)
  train = data.train
  steps_per_epoch = len(train.captions) // t.batch_size
  if steps_per_epoch < 1:
    raise ConfigError(f"train.batch_size: {t.batch_size} exceeds the {len(train.captions)} training captions")
  num_steps = steps_per_epoch * t.num_epochs
  model = build_model(config.model, data.vocab.size, data.max_length)
  tx = optim.make_optimizer(config.optimizer, num_steps)
  variables = init_variables(model, train, config.seed)
  opt_state = tx.init(variables)
  step_fn = make_train_step(model, tx, config.model.get("doubly_stochastic", 0.0))
  config_json = json_safe(config.to_dict())
  checkpoints = CheckpointManager(workdir / CHECKPOINT_DIR, keep=t.keep_checkpoints)
  check_vocabulary(checkpoints, data.vocab)
  restored = checkpoints.restore_latest(jax.tree.map(np.asarray, {"variables": variables, "opt_state": opt_state}),
                                        config=config_json)
  epoch = 0
  if restored is not None:
    variables, opt_state = restored.tree["variables"], restored.tree["opt_state"]
    epoch = restored.step
    print(f"resuming after epoch {epoch} of {t.num_epochs} ({checkpoints.directory})")
  writer = MetricWriter(workdir)
  writer.truncate_after(epoch * steps_per_epoch)
  (workdir / "config.json").write_text(json.dumps(config_json, indent=2))
  progress = None
  if t.progress and epoch < t.num_epochs:
    from tqdm.auto import tqdm

    progress = tqdm(total=num_steps, initial=epoch * steps_per_epoch, desc=f"captioning/{config.model.name}",
                    unit="step", file=sys.stderr, mininterval=1.0)
  losses = []
  while epoch < t.num_epochs:
    order = np.random.default_rng((config.seed, epoch)).permutation(len(train.captions))
    for i in range(steps_per_epoch):
      global_step = epoch * steps_per_epoch + i + 1
      rows = order[i * t.batch_size:(i + 1) * t.batch_size]
      variables, opt_state, loss = step_fn(variables, opt_state, train.inputs[train.image_idxs[rows]], train.captions[rows],
                                           jax.random.fold_in(jax.random.key(config.seed), global_step))
      losses.append(loss)
      if global_step % t.log_every == 0:
        mean = float(np.mean(np.asarray(losses)))
        if not math.isfinite(mean):
          raise FloatingPointError(f"captioning: loss is {mean} at step {global_step}; lower optimizer.learning_rate")
        writer.write(global_step, "train", {"loss": mean})
        if progress is not None:
          progress.set_postfix(loss=f"{mean:.3f}")
        losses = []
      if progress is not None:
        progress.update(1)
    epoch += 1
    if epoch % t.checkpoint_every == 0 or epoch == t.num_epochs:
      checkpoints.save(epoch, jax.tree.map(np.asarray, {"variables": variables, "opt_state": opt_state}),
                       {"vocab": list(data.vocab.idx_to_word), "vocab_fingerprint": data.vocab.fingerprint(),
                        "config": config_json})
  if progress is not None:
    progress.close()
  checkpoints.close()

  decode_length = data.max_length - 1  # every token after <START>
  results: dict[str, Any] = {"model": config.model.name, "data": data.name, "epochs": t.num_epochs, "steps": num_steps,
                             "train_captions": int(len(train.captions)),
                             "parameters": int(sum(np.size(p) for p in jax.tree.leaves(variables)))}
  decoded = {}
  decoders = make_decoders(model, decode_length, config.decode.beam_size, config.decode.length_penalty)
  for split in ("val", "test"):
    metrics, captions, attention = evaluate(model, variables, data, split, decode_length, config.decode.beam_size,
                                            t.eval_batch_size, config.decode.length_penalty, decoders)
    results[split] = metrics
    decoded[split] = (captions, attention)
    writer.write(num_steps, split, {k: v for k, v in metrics.items() if isinstance(v, float) and math.isfinite(v)})
  writer.close()
  from cs231n_jax.captioning import figures

  if data.train.inputs.ndim == 4:
    captions, attention = decoded["test"]
    figures.plot_samples(data.test, captions, workdir / "samples.png", config.figures.num_examples)
    if np.any(attention):
      figures.plot_attention(data.test, captions, attention, workdir / "attention.png", config.figures.num_attention)
  results["wall_time_s"] = time.time() - wall_start
  (workdir / "results.json").write_text(json.dumps(results, indent=2))
  for split in ("val", "test"):
    r = results[split]
    print(f"{config.model.name} {split}: exact match {r['greedy_exact_match']:.3f}, BLEU-4 {r['greedy_bleu4']:.3f} (greedy)"
          + (f"; beam {config.decode.beam_size}: {r[f'beam{config.decode.beam_size}_exact_match']:.3f}, "
             f"{r[f'beam{config.decode.beam_size}_bleu4']:.3f}" if config.decode.beam_size > 1 else ""))
  return results


def run_overfit_checks(config: ml_collections.ConfigDict, workdir: str) -> dict[str, Any]:
  """The course's overfitting check for every captioner in ``config.models`` (final losses)."""
  from cs231n_jax.captioning.data import pooled_features

  workdir = epath.Path(workdir)
  workdir.mkdir(parents=True, exist_ok=True)
  data = load_caption_data(config.data)
  split = pooled_features(data.train) if config.get("features", "pooled") == "pooled" else data.train
  results = {"num_examples": config.num_examples, "final_loss": {}, "threshold": {}, "passed": {}}
  for name in config.models:
    overrides = {k: v for k, v in config.model.items() if k in MODEL_FIELDS[name] + ENCODER_FIELDS}
    if "encoder_channels" in overrides:
      overrides["encoder_channels"] = tuple(overrides["encoder_channels"])
    history = overfit_small_data(name, split, data.vocab, data.max_length, config.num_examples,
                                 config.num_epochs or None, config.batch_size, seed=config.seed, **overrides)
    results["final_loss"][name] = history[-1]
    results["threshold"][name] = OVERFIT_THRESHOLDS[name]
    results["passed"][name] = history[-1] < OVERFIT_THRESHOLDS[name]
    print(f"{name:15s} final loss {history[-1]:.4f} (course: < {OVERFIT_THRESHOLDS[name]})")
  (workdir / "results.json").write_text(json.dumps(results, indent=2))
  return results
