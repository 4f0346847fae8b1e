"""The copy / long-lag task: remember the first symbol across a long stretch of distractors.

Each sequence is ``s, d_1, …, d_{L-2}, ?``: a symbol s from ``num_symbols`` classes, then L-2
distractors drawn from a separate alphabet, then a query token; the network must output s at the
query. Nothing between the first and the last step helps, so the answer has to be carried for
L-1 steps — and the gradient that teaches it has to travel back the same distance. Chance is
1 / num_symbols.

Lecture 10's claims, checked: "Vanilla RNNs are simple but don't work very well"; "Common to use
LSTM or GRU: their additive interactions improve gradient flow"; "Vanishing is controlled with
additive interactions (LSTM)". Every cell gets the same hidden size, optimiser, clipping and number
of steps; the runner also records the gradient-flow profile (:mod:`gradient_flow`) of each trained
network on a test sequence.
"""

from __future__ import annotations

import json
import time
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax
from etils import epath

from cs231n_jax.errors import ConfigError
from cs231n_jax.nn.recurrent import CELL_KINDS, RecurrentStack, gradient_clipping, make_cell
from cs231n_jax.plotting import subplots
from cs231n_jax.text.gradient_flow import state_gradient_norms
from cs231n_jax.train.metrics import MetricWriter

Array = jax.Array
FIGURE_NAME = "copy_task.png"


def vocabulary_size(num_symbols: int, num_distractors: int) -> int:
  return num_symbols + num_distractors + 1  # + the query token


def make_batch(key: Array, batch_size: int, length: int, num_symbols: int, num_distractors: int) -> tuple[Array, Array]:
  """(inputs (B, length) ids, targets (B,)): symbol first, distractors, query token last."""
  if length < 3:
    raise ConfigError(f"length: the copy task needs at least 3 steps (symbol, distractor, query), got {length}")
  k1, k2 = jax.random.split(key)
  symbols = jax.random.randint(k1, (batch_size,), 0, num_symbols)
  distractors = jax.random.randint(k2, (batch_size, length - 2), num_symbols, num_symbols + num_distractors)
  query = jnp.full((batch_size, 1), num_symbols + num_distractors)
  return jnp.concatenate([symbols[:, None], distractors, query], axis=1).astype(jnp.int32), symbols.astype(jnp.int32)


def gate_kwargs(cell: str, forget_bias: float, update_bias: float) -> dict[str, float]:
  return {"lstm": {"forget_bias": forget_bias}, "gru": {"update_bias": update_bias}}.get(cell, {})


class CopyNet(nn.Module):
  """One-hot inputs - recurrent layer - linear read-out of the last output."""

  cell: str
  hidden_size: int
  vocab_size: int
  num_symbols: int
  forget_bias: float = 1.0  # LSTM only
  update_bias: float = 0.0  # GRU only

  @nn.compact
  def __call__(self, tokens: Array) -> Array:
    kwargs = gate_kwargs(self.cell, self.forget_bias, self.update_bias)
    _, h = RecurrentStack(self.cell, self.hidden_size, cell_kwargs=kwargs, name="rnn")(jax.nn.one_hot(tokens, self.vocab_size))
    return nn.Dense(self.num_symbols, name="head")(h[:, -1])


def default_config() -> ml_collections.ConfigDict:
  c = ml_collections.ConfigDict()
  c.runner = "cs231n_jax.text.copy_task:run_copy_task"
  c.seed = 0
  c.cells = ("rnn", "lstm", "gru")
  c.length = 50
  c.num_symbols = 8
  c.num_distractors = 8
  c.hidden_size = 64
  c.batch_size = 64
  c.num_steps = 3000
  c.steps_per_call = 100
  c.learning_rate = 3e-3
  c.clip_norm = 1.0
  c.eval_examples = 2048
  # The LSTM's forget gates start at sigmoid(bias): with bias 1 a signal 50 steps back is scaled by
  # about 0.73^50 at initialisation (see gradient_flow); bias 3 (0.95^50 = 0.08) lets it learn.
  c.lstm_forget_bias = 3.0
  c.gru_update_bias = 3.0  # the same head start for the GRU's update gate (z = σ(3) = 0.95 kept)
  return c


def train_cell(config: ml_collections.ConfigDict, cell: str, writer: MetricWriter | None = None) -> dict[str, Any]:
  """Train one cell on the task; returns accuracy (final), the curve and the trained parameters."""
  vocab = vocabulary_size(config.num_symbols, config.num_distractors)
  model = CopyNet(cell, config.hidden_size, vocab, config.num_symbols, config.lstm_forget_bias, config.gru_update_bias)
  key = jax.random.key(config.seed)
  params = model.init(key, jnp.zeros((1, config.length), jnp.int32))["params"]
  tx = optax.chain(gradient_clipping("norm", config.clip_norm), optax.adam(config.learning_rate))
  opt_state = tx.init(params)

  def loss_fn(params, tokens, targets):
    logits = model.apply({"params": params}, tokens)
    return optax.softmax_cross_entropy_with_integer_labels(logits, targets).mean()

  @jax.jit
  def train(params, opt_state, key):
    def step(state, key):
      params, opt_state = state
      tokens, targets = make_batch(key, config.batch_size, config.length, config.num_symbols, config.num_distractors)
      loss, grads = jax.value_and_grad(loss_fn)(params, tokens, targets)
      updates, opt_state = tx.update(grads, opt_state, params)
      return (optax.apply_updates(params, updates), opt_state), loss

    (params, opt_state), losses = jax.lax.scan(step, (params, opt_state), jax.random.split(key, config.steps_per_call))
    return params, opt_state, losses

  @jax.jit
  def accuracy(params, key):
    tokens, targets = make_batch(key, config.eval_examples, config.length, config.num_symbols, config.num_distractors)
    return jnp.mean(jnp.argmax(model.apply({"params": params}, tokens), -1) == targets)

  eval_key = jax.random.key(config.seed + 1_000_003)  # the same held-out sequences for every cell
  curve = []
  for i in range(config.num_steps // config.steps_per_call):
    params, opt_state, losses = train(params, opt_state, jax.random.fold_in(key, i))
    step = (i + 1) * config.steps_per_call
    acc = float(accuracy(params, eval_key))
    curve.append((step, float(np.mean(losses)), acc))
    if writer is not None:
      writer.write(step, cell, {"loss": float(np.mean(losses)), "accuracy": acc})
  return {"accuracy": curve[-1][2], "curve": curve, "params": params, "model": model}


def trained_gradient_profile(model: CopyNet, params, config, key) -> np.ndarray:
  """‖∂(correct logit)/∂state_t‖ over one test sequence for a trained CopyNet."""
  tokens, target = make_batch(key, 1, config.length, config.num_symbols, config.num_distractors)
  cell_params = params["rnn"]["layer_0"]
  cell = make_cell(model.cell, model.hidden_size, **gate_kwargs(model.cell, model.forget_bias, model.update_bias))  # the trained layer's cell, stepped by hand
  xs = jax.nn.one_hot(tokens[0], model.vocab_size)
  carry0 = cell.initialize_carry(None, (model.vocab_size,))
  step = lambda c, x: cell.apply({"params": cell_params}, c, x)[0]
  readout = params["head"]["kernel"][:, target[0]]
  return np.asarray(state_gradient_norms(step, carry0, xs, readout))


def run_copy_task(config: ml_collections.ConfigDict, workdir: str) -> dict[str, Any]:
  """Train every cell in ``config.cells`` on the copy task; accuracies, curves and gradient profiles."""
  for name in ("length", "num_symbols", "num_distractors", "hidden_size", "batch_size", "num_steps", "steps_per_call"):
    if not isinstance(config[name], int) or config[name] < 1:
      raise ConfigError(f"{name}: expected a positive integer, got {config[name]!r}")
  if config.num_steps % config.steps_per_call:
    raise ConfigError(f"num_steps: must be a multiple of steps_per_call ({config.steps_per_call}), got {config.num_steps}")
  unknown = [c for c in config.cells if c not in CELL_KINDS]
  if unknown:
    raise ConfigError(f"cells: expected names from {CELL_KINDS}, got {unknown[0]!r}")
  workdir = epath.Path(workdir)
  workdir.mkdir(parents=True, exist_ok=True)
  start = time.time()
  writer = MetricWriter(workdir)
  results: dict[str, Any] = {"chance": 1.0 / config.num_symbols, "length": config.length, "accuracy": {},
                             "gradient_ratio_first_to_last": {}}
  curves, profiles = {}, {}
  for cell in config.cells:
    out = train_cell(config, cell, writer)
    results["accuracy"][cell] = out["accuracy"]
    curves[cell] = out["curve"]
    profiles[cell] = trained_gradient_profile(out["model"], out["params"], config, jax.random.key(config.seed + 7))
    results["gradient_ratio_first_to_last"][cell] = float(profiles[cell][0] / max(profiles[cell][-1], 1e-30))
    print(f"{cell:5s} accuracy {out['accuracy']:.3f} (chance {results['chance']:.3f})")
  writer.close()
  plot_copy_task(curves, profiles, results["chance"], workdir / FIGURE_NAME)
  results["wall_time_s"] = time.time() - start
  (workdir / "results.json").write_text(json.dumps(results, indent=2))
  return results


def plot_copy_task(curves, profiles, chance: float, path) -> None:
  fig, (a, b) = subplots(1, 2, figsize=(10, 3.8))
  for cell, curve in curves.items():
    steps, _, acc = zip(*curve)
    a.plot(steps, acc, label=cell)
  a.axhline(chance, ls=":", color="gray", label="chance")
  a.set_xlabel("training step")
  a.set_ylabel("held-out accuracy")
  a.set_title("copy task: recall the first symbol")
  a.legend()
  for cell, norms in profiles.items():
    b.semilogy(np.arange(len(norms))[::-1], np.maximum(norms, 1e-30) / max(norms[-1], 1e-30), label=cell)
  b.set_xlabel("steps back from the query (k)")
  b.set_ylabel("‖∂ correct logit / ∂ state‖ (relative)")
  b.set_title("gradient flow in the trained networks")
  b.legend()
  fig.tight_layout()
  fig.savefig(str(path), dpi=100)
