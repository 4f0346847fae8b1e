"""min-char-rnn (Karpathy's 112-line gist, shown in lecture 10) in JAX, ported from its equations.

The model and training are the gist's: one-hot characters ``x``, ``h_t = tanh(Wxh x_t + Whh h_{t-1}
+ bh)``, ``y_t = Why h_t + by``, ``p_t = softmax(y_t)``, loss ``Σ_t -log p_t[target_t]`` over a
chunk of ``seq_length = 25`` characters, weights ``randn * 0.01`` and zero biases, hidden size 100,
every gradient clipped to [-5, 5], Adagrad with learning rate 0.1 and ``sqrt(mem + 1e-8)``, the
hidden state ``hprev`` carried from chunk to chunk (truncated BPTT) and reset with the data pointer
at the end of the text, ``smooth_loss`` starting at ``-log(1/V) * seq_length``.

The lecture's printed listing has transcription errors (curriculum §4.1). They are *not* copied:

=============================================  ===================================================
printed                                        here (the gist, and the equations)
=============================================  ===================================================
``ys[t] = np.dot(why, hs[t]) - by``            ``+ by``
``dyb = np.dot(dy, hs[t].T)`` (no ``dby``)     ``dWhy += dy h_tᵀ``; ``dby += dy``
``ddraw = (i - hs[t].T) * dh``                 ``dhraw = (1 - h_t²) ⊙ dh``
``ddbh = ddraw``                               ``dbh += dhraw``
``dwhh += np.dot(ddraw, xs[t].T)``             ``dWxh += dhraw x_tᵀ``
``dwhy += np.dot(ddraw, hs[t-1].T)``           ``dWhh += dhraw h_{t-1}ᵀ``
``dhnext = np.dot(why.T, ddraw)``              ``dhnext = Whhᵀ dhraw``
``smooth_loss * .999 + loss / n``              ``smooth_loss * 0.999 + loss * 0.001``
``param += -lr * param / sqrt(mem + 1e-8)``    ``param += -lr * dparam / sqrt(mem + 1e-8)``
=============================================  ===================================================

``loss_fun`` is the gist's ``lossFun`` with the corrected backward pass written by hand as a
reverse ``lax.scan`` (the tests compare it with ``jax.grad`` in float64). The training loop runs
``iterations_per_call`` iterations of the gist's ``while True`` body inside one jitted
``lax.scan``, data pointer and all.
"""

from __future__ import annotations

import json
import math
import sys
import time
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
from etils import epath

from cs231n_jax.errors import ConfigError
from cs231n_jax.text.corpus import load_corpus
from cs231n_jax.text.ngram import DEFAULT_ORDERS, baseline_table, ngram_baselines
from cs231n_jax.text.sample import pick
from cs231n_jax.text.train import CHECKPOINT_DIR, LN2, RESULTS_NAME, SAMPLES_NAME, check_vocabulary
from cs231n_jax.train.checkpoint import CheckpointManager, json_safe
from cs231n_jax.train.metrics import MetricWriter

HIDDEN_SIZE = 100
SEQ_LENGTH = 25
LEARNING_RATE = 0.1
INIT_SCALE = 0.01  # np.random.randn(...) * 0.01
CLIP = 5.0  # np.clip(dparam, -5, 5, out=dparam)
ADAGRAD_EPS = 1e-8  # np.sqrt(mem + 1e-8)
SMOOTHING = 0.999  # smooth_loss = smooth_loss * 0.999 + loss * 0.001
SAMPLE_LENGTH = 200  # sample(hprev, inputs[0], 200)
PARAM_NAMES = ("Wxh", "Whh", "Why", "bh", "by")


def init_params(key: jax.Array, vocab_size: int, hidden_size: int = HIDDEN_SIZE, dtype=jnp.float32) -> dict[str, jax.Array]:
  """The gist's initialisation: weights ~ N(0, 0.01²), biases 0. Shapes as in the gist
  (column vectors): Wxh (H, V), Whh (H, H), Why (V, H), bh (H,), by (V,)."""
  k1, k2, k3 = jax.random.split(key, 3)
  normal = lambda k, shape: INIT_SCALE * jax.random.normal(k, shape, dtype)
  return {"Wxh": normal(k1, (hidden_size, vocab_size)), "Whh": normal(k2, (hidden_size, hidden_size)),
          "Why": normal(k3, (vocab_size, hidden_size)), "bh": jnp.zeros(hidden_size, dtype),
          "by": jnp.zeros(vocab_size, dtype)}


def _forward_scan(params, inputs, hprev):
  def step(h, x):
    h = jnp.tanh(params["Wxh"][:, x] + params["Whh"] @ h + params["bh"])  # Wxh @ one_hot(x)
    y = params["Why"] @ h + params["by"]
    return h, (h, jax.nn.log_softmax(y))

  return jax.lax.scan(step, hprev, inputs)


def forward_loss(params, inputs, targets, hprev) -> tuple[jax.Array, jax.Array]:
  """Σ_t -log p_t[target_t] (nats) and the last hidden state."""
  h_last, (_, log_p) = _forward_scan(params, inputs, hprev)
  return -jnp.sum(jnp.take_along_axis(log_p, targets[:, None], axis=1)), h_last


def loss_fun(params, inputs, targets, hprev, clip: float | None = CLIP):
  """The gist's ``lossFun``: (loss, grads, last hidden state), backward pass by hand.

  Args:
    params: ``init_params``'s dict; inputs, targets: (T,) character ids; hprev: (H,) state.
    clip: clip every gradient entry to [-clip, clip] (the gist's 5); None leaves them raw.
  """
  h_last, (hs, log_p) = _forward_scan(params, inputs, hprev)
  loss = -jnp.sum(jnp.take_along_axis(log_p, targets[:, None], axis=1))
  ps = jnp.exp(log_p)
  prev_hs = jnp.concatenate([hprev[None], hs[:-1]], axis=0)

  def backward_step(carry, inputs_t):
    dhnext, grads = carry
    x, target, h, h_prev, p = inputs_t
    dy = p.at[target].add(-1.0)  # backprop into y: softmax minus the one-hot target
    dh = params["Why"].T @ dy + dhnext  # into h, plus what flows back from step t+1
    dhraw = (1 - h * h) * dh  # through tanh
    grads = {"Why": grads["Why"] + jnp.outer(dy, h), "by": grads["by"] + dy,
             "Wxh": grads["Wxh"].at[:, x].add(dhraw), "Whh": grads["Whh"] + jnp.outer(dhraw, h_prev),
             "bh": grads["bh"] + dhraw}
    return (params["Whh"].T @ dhraw, grads), None

  zeros = jax.tree.map(jnp.zeros_like, params)
  (_, grads), _ = jax.lax.scan(backward_step, (jnp.zeros_like(hprev), zeros), (inputs, targets, hs, prev_hs, ps),
                               reverse=True)
  if clip is not None:
    grads = jax.tree.map(lambda g: jnp.clip(g, -clip, clip), grads)  # "to mitigate exploding gradients"
  return loss, grads, h_last


def adagrad_update(params, grads, memory, learning_rate: float = LEARNING_RATE):
  """The gist's update: ``mem += dparam²``; ``param += -lr * dparam / sqrt(mem + 1e-8)``."""
  memory = jax.tree.map(lambda m, g: m + g * g, memory, grads)
  params = jax.tree.map(lambda p, g, m: p - learning_rate * g / jnp.sqrt(m + ADAGRAD_EPS), params, grads, memory)
  return params, memory


def init_state(key, vocab_size: int, hidden_size: int = HIDDEN_SIZE, seq_length: int = SEQ_LENGTH) -> dict[str, Any]:
  """What the gist keeps between iterations, besides its data pointer: the parameters, Adagrad's
  memory, ``hprev`` and ``smooth_loss`` (which starts at ``-log(1/V) * seq_length``)."""
  params = init_params(key, vocab_size, hidden_size)
  return {"params": params, "memory": jax.tree.map(jnp.zeros_like, params), "hprev": jnp.zeros(hidden_size),
          "smooth_loss": jnp.float32(-math.log(1.0 / vocab_size) * seq_length)}


def iteration(state: dict[str, Any], window, restart, learning_rate: float = LEARNING_RATE,
              clip: float | None = CLIP) -> tuple[dict[str, Any], jax.Array]:
  """One pass of the gist's ``while True`` body on ``window`` (``seq_length + 1`` ids: inputs then
  targets shifted by one): ``hprev`` reset where the gist resets its data pointer (``restart``),
  ``lossFun``, the Adagrad update and ``smooth_loss``. Returns the new state and the chunk's loss
  (nats summed over its ``seq_length`` characters)."""
  hprev = jnp.where(restart, jnp.zeros_like(state["hprev"]), state["hprev"])
  loss, grads, hprev = loss_fun(state["params"], window[:-1], window[1:], hprev, clip)
  params, memory = adagrad_update(state["params"], grads, state["memory"], learning_rate)
  smooth = state["smooth_loss"] * SMOOTHING + loss * (1 - SMOOTHING)
  return {"params": params, "memory": memory, "hprev": hprev, "smooth_loss": smooth}, loss


def window_nll(params, h, window) -> tuple[jax.Array, jax.Array]:
  """(last hidden state, -log p of each of ``window[1:]`` given the text before it, from ``h``)."""
  h_last, (_, log_p) = _forward_scan(params, window[:-1], h)
  return h_last, -jnp.take_along_axis(log_p, window[1:, None], axis=1)[:, 0]


class TrainState(NamedTuple):
  params: dict
  memory: dict
  hprev: jax.Array
  pointer: jax.Array  # p, the data position
  iteration: jax.Array  # n
  smooth_loss: jax.Array


def initial_state(key, vocab_size: int, hidden_size: int = HIDDEN_SIZE, seq_length: int = SEQ_LENGTH) -> TrainState:
  params = init_params(key, vocab_size, hidden_size)
  return TrainState(params, jax.tree.map(jnp.zeros_like, params), jnp.zeros(hidden_size), jnp.int32(0), jnp.int32(0),
                    jnp.float32(-math.log(1.0 / vocab_size) * seq_length))


def make_train_program(data_length: int, seq_length: int = SEQ_LENGTH, learning_rate: float = LEARNING_RATE,
                       clip: float | None = CLIP):
  """``run(state, data, num_iterations) -> (state, losses)``: the gist's main loop, jitted."""

  def iteration(state: TrainState, data):
    # "prepare inputs (we're sweeping from left to right in steps seq_length long)"
    restart = (state.pointer + seq_length + 1 >= data_length) | (state.iteration == 0)
    pointer = jnp.where(restart, 0, state.pointer)
    hprev = jnp.where(restart, jnp.zeros_like(state.hprev), state.hprev)
    window = jax.lax.dynamic_slice_in_dim(data, pointer, seq_length + 1)
    loss, grads, hprev = loss_fun(state.params, window[:-1], window[1:], hprev, clip)
    params, memory = adagrad_update(state.params, grads, state.memory, learning_rate)
    smooth = state.smooth_loss * SMOOTHING + loss * (1 - SMOOTHING)
    return TrainState(params, memory, hprev, pointer + seq_length, state.iteration + 1, smooth), loss

  def run(state: TrainState, data, num_iterations: int):
    return jax.lax.scan(lambda s, _: iteration(s, data), state, None, length=num_iterations)

  return jax.jit(run, static_argnums=2)


@jax.jit
def sequence_nats(params, ids) -> jax.Array:
  """Total nats of predicting ids[1:] from ids[:-1], one stream from h = 0."""
  loss, _ = forward_loss(params, ids[:-1], ids[1:], jnp.zeros(params["Whh"].shape[0], params["Whh"].dtype))
  return loss


def bits_per_char(params, ids) -> float:
  ids = jnp.asarray(ids, jnp.int32)
  return float(sequence_nats(params, ids)) / (len(ids) - 1) / LN2


def sample(params, h, seed_ix: int, n: int, key, temperature: float = 1.0) -> jax.Array:
  """The gist's ``sample(h, seed_ix, n)``: n character ids, each fed back (one ``lax.scan``)."""
  return _sample(params, h, jnp.int32(seed_ix), key, jnp.float32(temperature), n)


@jax.jit
def _sample_impl(params, h, seed_ix, keys, temperature):
  def step(carry, key):
    h, x = carry
    h = jnp.tanh(params["Wxh"][:, x] + params["Whh"] @ h + params["bh"])
    y = params["Why"] @ h + params["by"]
    x = pick(y, key, temperature)
    return (h, x), x

  return jax.lax.scan(step, (h, seed_ix), keys)[1]


def _sample(params, h, seed_ix, key, temperature, n):
  return _sample_impl(params, h, seed_ix, jax.random.split(key, n), temperature)


def default_config() -> ml_collections.ConfigDict:
  c = ml_collections.ConfigDict()
  c.runner = "cs231n_jax.text.min_char_rnn:run_min_char_rnn"
  c.seed = 0
  c.data = ml_collections.ConfigDict({"name": "pydoc", "path": "", "val_fraction": 0.05, "test_fraction": 0.10})
  c.hidden_size = HIDDEN_SIZE
  c.seq_length = SEQ_LENGTH
  c.learning_rate = LEARNING_RATE
  c.clip = CLIP
  c.num_iterations = 240_000
  c.iterations_per_call = 2_000
  c.eval_every = 20_000
  c.checkpoint_every = 20_000
  c.sample_length = SAMPLE_LENGTH
  c.temperatures = (1.0,)
  c.ngram_orders = DEFAULT_ORDERS
  return c


def run_min_char_rnn(config: ml_collections.ConfigDict, workdir: str) -> dict[str, Any]:
  """The gist on ``config.data`` (single stream, one character at a time, Adagrad), with held-out
  bits per character next to the n-gram baselines."""
  for name in ("num_iterations", "iterations_per_call", "eval_every", "checkpoint_every", "hidden_size", "seq_length"):
    if not isinstance(config[name], int) or config[name] < 1:
      raise ConfigError(f"{name}: expected a positive integer, got {config[name]!r}")
  for name in ("num_iterations", "eval_every", "checkpoint_every"):
    if config[name] % config.iterations_per_call:
      raise ConfigError(f"{name}: must be a multiple of iterations_per_call ({config.iterations_per_call}), got {config[name]}")
  workdir = epath.Path(workdir)
  workdir.mkdir(parents=True, exist_ok=True)
  wall_start = time.time()
  corpus = load_corpus(config.data)
  baselines = ngram_baselines(corpus, tuple(config.ngram_orders))
  data = jnp.asarray(corpus.train)
  key = jax.random.key(config.seed)
  state = initial_state(key, corpus.vocab.size, config.hidden_size, config.seq_length)
  print(f"data has {len(corpus.train)} characters, {corpus.vocab.size} unique.")  # the gist's first print
  run = make_train_program(len(corpus.train), config.seq_length, config.learning_rate, config.clip)
  config_json = json_safe(config.to_dict())
  checkpoints = CheckpointManager(workdir / CHECKPOINT_DIR, keep=2)
  check_vocabulary(checkpoints, corpus.vocab)
  template = {"state": jax.tree.map(np.asarray, state._asdict()), "best": jax.tree.map(np.asarray, state.params)}
  restored = checkpoints.restore_latest(template, config=config_json)
  best_params, best_val, best_iteration = state.params, math.inf, 0
  if restored is not None:
    state = TrainState(**restored.tree["state"])
    best_params, best_val, best_iteration = restored.tree["best"], restored.meta["best_val_bits"], restored.meta["best_iteration"]
  writer = MetricWriter(workdir)
  done = int(state.iteration)
  writer.truncate_after(done)
  while done < config.num_iterations:
    state, losses = run(state, data, config.iterations_per_call)
    done += config.iterations_per_call
    smooth = float(state.smooth_loss)
    if not math.isfinite(smooth):
      raise FloatingPointError(f"min-char-rnn: smooth loss is {smooth} at iteration {done}")
    writer.write(done, "train", {"smooth_loss": smooth, "bits_per_char": float(jnp.mean(losses)) / config.seq_length / LN2})
    print(f"iter {done}, loss: {smooth:f}", file=sys.stderr)  # the gist prints this every 100 iterations
    if done % config.eval_every == 0 or done == config.num_iterations:
      val = bits_per_char(state.params, corpus.val)
      writer.write(done, "val", {"bits_per_char": val})
      if val < best_val:
        best_params, best_val, best_iteration = state.params, val, done
    if done % config.checkpoint_every == 0 or done == config.num_iterations:
      checkpoints.save(done, {"state": jax.tree.map(np.asarray, state._asdict()), "best": jax.tree.map(np.asarray, best_params)},
                       {"vocab": corpus.vocab.to_json(), "best_val_bits": best_val, "best_iteration": best_iteration,
                        "config": config_json})
  checkpoints.close()
  writer.close()
  samples = {}
  for i, temperature in enumerate(config.temperatures):
    ids = sample(best_params, jnp.zeros(config.hidden_size), int(corpus.train[0]), config.sample_length,
                 jax.random.fold_in(key, i + 1), temperature)
    samples[str(temperature)] = corpus.vocab.decode([corpus.train[0]]) + corpus.vocab.decode(ids)
  best_ngram = min((k for k in baselines if k != "uniform"), key=lambda k: baselines[k]["val_bits"])
  results = {"iterations": config.num_iterations, "best_iteration": best_iteration,
             "characters_seen": config.num_iterations * config.seq_length, "corpus": corpus.describe(),
             "val_bits_per_char": bits_per_char(best_params, corpus.val),
             "test_bits_per_char": bits_per_char(best_params, corpus.test),
             "ngram": baselines, "best_ngram": best_ngram, "best_ngram_test_bits": baselines[best_ngram]["test_bits"],
             "samples": samples, "wall_time_s": time.time() - wall_start}
  (workdir / RESULTS_NAME).write_text(json.dumps(results, indent=2))
  (workdir / SAMPLES_NAME).write_text("".join(f"--- temperature {k} ---\n{v}\n\n" for k, v in samples.items()))
  print(baseline_table(baselines))
  print(f"min-char-rnn test bits/char {results['test_bits_per_char']:.3f}")
  return results
