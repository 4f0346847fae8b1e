"""A pure-function MLP and its whole training run as one compiled, vmappable program.

The hyperparameter search's object of study, kept by design beside the engine.

This is the program the hyperparameter search trains K copies of at once: ``train_run(lr, reg,
key, data)`` runs every minibatch step inside ``lax.scan`` and returns the trained parameters and
their curves, so ``jax.vmap`` over ``(lr, reg, key)`` turns K training runs into one XLA program
(batched matrix multiplies instead of K small ones). The lecture's babysitting rules are part of
the program: "if the cost is ever > 3 * original cost, break out early" (seed line 6792), or NaN —
a run that trips either is frozen from that step on (its parameters stop changing) and flagged,
since one member of a vmapped batch cannot leave the loop by itself.

The model is the course's: parameters ``{"W1", "b1", ..., "WL", "bL"}`` (``init_two_layer_model``,
seed 6455), affine-ReLU layers, softmax loss plus ``reg * sum W**2`` over the weight matrices (the
lecture's ``lambda R(W)``, biases unpenalised). Minibatches are sampled with replacement, as the
course's trainer does with ``sample_batches=True``; ``lr_decay`` multiplies the rate once per epoch
(the trainer's ``learning_rate_decay``).

For ordinary "train a Flax classifier" runs use the engine (``cs231n_jax.tasks.classification.run``); this
program exists because training many small models as one vmapped program is the point.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from cs231n_jax.optim import transforms

EXPLODE_FACTOR = 3.0  # "cost > 3 * original cost"
LOG_EPS = 1e-12


@dataclasses.dataclass(frozen=True)
class Arrays:
  """Flattened train / val arrays on the device: x (N, D) float32, y (N,) int32."""

  x_train: jax.Array
  y_train: jax.Array
  x_val: jax.Array
  y_val: jax.Array
  num_classes: int

  @property
  def input_dim(self) -> int:
    return int(self.x_train.shape[1])


def digits_arrays(num_train: int | None = None) -> Arrays:
  """The digits split (scaled, mean-subtracted, flattened), optionally the first ``num_train`` examples."""
  from cs231n_jax.data.digits import load_digits

  ds = load_digits("8x8x1")
  n = num_train or len(ds.train)
  flat = lambda s: jnp.asarray(s.images.reshape(len(s), -1))
  return Arrays(flat(ds.train)[:n], jnp.asarray(ds.train.labels[:n]), flat(ds.val), jnp.asarray(ds.val.labels),
                ds.num_classes)


def init_mlp(key: jax.Array, input_dim: int, hidden_dims: tuple[int, ...], num_classes: int,
             weight_scale: float | None = None) -> dict[str, jax.Array]:
  """Course-style parameters; weights N(0, weight_scale^2), or He (std sqrt(2 / fan_in)) when None."""
  dims = (input_dim, *hidden_dims, num_classes)
  params = {}
  keys = jax.random.split(key, len(dims) - 1)
  for i, (fan_in, fan_out) in enumerate(zip(dims[:-1], dims[1:]), start=1):
    std = math.sqrt(2.0 / fan_in) if weight_scale is None else weight_scale
    params[f"W{i}"] = std * jax.random.normal(keys[i - 1], (fan_in, fan_out))
    params[f"b{i}"] = jnp.zeros((fan_out,))
  return params


def num_layers(params: dict[str, jax.Array]) -> int:
  return sum(1 for k in params if k.startswith("W"))


def mlp_logits(params: dict[str, jax.Array], x: jax.Array, activation: Callable = jax.nn.relu) -> jax.Array:
  """Affine - activation - ... - affine."""
  n = num_layers(params)
  for i in range(1, n):
    x = activation(x @ params[f"W{i}"] + params[f"b{i}"])
  return x @ params[f"W{n}"] + params[f"b{n}"]


def hidden_activations(params: dict[str, jax.Array], x: jax.Array, activation: Callable = jax.nn.relu) -> list[jax.Array]:
  out = []
  for i in range(1, num_layers(params)):
    x = activation(x @ params[f"W{i}"] + params[f"b{i}"])
    out.append(x)
  return out


def l2_penalty(params: dict[str, jax.Array]) -> jax.Array:
  return sum(jnp.sum(v * v) for k, v in params.items() if k.startswith("W"))


def softmax_loss(params, x, y, reg, activation=jax.nn.relu) -> jax.Array:
  logits = mlp_logits(params, x, activation)
  data = jnp.mean(optax.softmax_cross_entropy_with_integer_labels(logits, y))
  return data + reg * l2_penalty(params)


def accuracy(params, x, y, activation=jax.nn.relu) -> jax.Array:
  return jnp.mean(jnp.argmax(mlp_logits(params, x, activation), -1) == y)


@dataclasses.dataclass(frozen=True)
class RunSpec:
  """The static shape of a training run (everything that is not vmapped over)."""

  hidden_dims: tuple[int, ...] = (100,)
  rule: str = "momentum"
  rule_kwargs: tuple[tuple[str, Any], ...] = ()
  num_epochs: int = 5
  batch_size: int = 100
  lr_decay: float = 1.0
  weight_scale: float | None = None
  early_stop: bool = True

  def steps_per_epoch(self, num_train: int) -> int:
    return max(1, math.ceil(num_train / self.batch_size))


class Program(NamedTuple):
  """The pieces of a training run: ``init(lr, reg, key) -> carry``, ``step(carry, i, lr, reg) ->
  (carry, (loss, alive, update_ratio))`` and ``finish(carry, per_step_outputs, epoch_val) -> results``."""

  init: Callable
  step: Callable
  finish: Callable
  num_steps: int
  steps_per_epoch: int


def make_program(spec: RunSpec, data: Arrays) -> Program:
  """The training run of :func:`make_train_run`, in pieces (so a Python loop can drive ``step`` too)."""
  if spec.rule not in transforms.RULES:
    raise ValueError(f"rule: expected one of {tuple(transforms.RULES)}, got {spec.rule!r}")
  n_train = int(data.x_train.shape[0])
  steps_per_epoch = spec.steps_per_epoch(n_train)
  num_steps = spec.num_epochs * steps_per_epoch
  rule = transforms.RULES[spec.rule]
  kwargs = dict(spec.rule_kwargs)

  def make_tx(lr):
    schedule = lambda count: lr * spec.lr_decay ** (count // steps_per_epoch)
    return rule(schedule, **kwargs)

  def init(lr, reg, key):
    del reg
    init_key, data_key = jax.random.split(key)
    params = init_mlp(init_key, data.input_dim, spec.hidden_dims, data.num_classes, spec.weight_scale)
    return (params, make_tx(lr).init(params), jnp.array(True), jnp.zeros(()), data_key)

  def step(carry, i, lr, reg):
    params, opt_state, alive, first_loss, data_key = carry
    tx = make_tx(lr)
    idx = jax.random.randint(jax.random.fold_in(data_key, i), (spec.batch_size,), 0, n_train)
    loss, grads = jax.value_and_grad(softmax_loss)(params, data.x_train[idx], data.y_train[idx], reg)
    updates, new_opt_state = tx.update(grads, opt_state, params)
    new_params = optax.apply_updates(params, updates)
    first_loss = jnp.where(i == 0, loss, first_loss)
    blew_up = ~jnp.isfinite(loss) | (loss > EXPLODE_FACTOR * first_loss)
    still = alive & ~blew_up if spec.early_stop else alive
    keep = lambda new, old: jax.tree.map(lambda a, b: jnp.where(still, a, b), new, old)
    ratio = jnp.stack([
        jnp.linalg.norm(updates[k]) / (jnp.linalg.norm(params[k]) + LOG_EPS)
        for k in sorted(params) if k.startswith("W")
    ])
    carry = (keep(new_params, params), keep(new_opt_state, opt_state), still, first_loss, data_key)
    return carry, (loss, still, ratio)

  def finish(carry, losses, alive_steps, ratios, epoch_val):
    params, _, alive, _, _ = carry
    return {
        "val_accuracy": accuracy(params, data.x_val, data.y_val),
        "train_accuracy": accuracy(params, data.x_train, data.y_train),
        "loss": losses.reshape(-1),
        "epoch_val_accuracy": epoch_val,
        "stopped": ~alive,
        "stop_step": jnp.sum(alive_steps.reshape(-1).astype(jnp.int32)),
        "update_ratio": ratios.reshape(num_steps, -1),
        "params": params,
    }

  return Program(init, step, finish, num_steps, steps_per_epoch)


def make_train_run(spec: RunSpec, data: Arrays) -> Callable[[jax.Array, jax.Array, jax.Array], dict[str, jax.Array]]:
  """``run(lr, reg, key) -> results``: one complete training run, pure and vmappable.

  Results: ``val_accuracy``, ``train_accuracy`` (final parameters), ``loss`` (per-step minibatch
  loss, (steps,)), ``epoch_val_accuracy`` (num_epochs,), ``stopped`` (True if the run blew up:
  NaN or loss > 3x its first value), ``stop_step`` (the number of steps it trained before
  stopping), ``update_ratio`` ((steps, layers): ||update|| / ||W|| of each weight matrix, W1 first,
  per step), and ``params``.
  """
  program = make_program(spec, data)

  def run(lr, reg, key):
    def epoch(carry, e):
      steps = e * program.steps_per_epoch + jnp.arange(program.steps_per_epoch)
      carry, (losses, alive, ratios) = jax.lax.scan(lambda c, i: program.step(c, i, lr, reg), carry, steps)
      return carry, (losses, alive, ratios, accuracy(carry[0], data.x_val, data.y_val))

    carry, (losses, alive, ratios, epoch_val) = jax.lax.scan(epoch, program.init(lr, reg, key), jnp.arange(spec.num_epochs))
    return program.finish(carry, losses, alive, ratios, epoch_val)

  return run


def make_python_loop_run(spec: RunSpec, data: Arrays) -> Callable[[jax.Array, jax.Array, jax.Array], dict[str, jax.Array]]:
  """The same run driven the usual way: a Python loop calling a jitted step (one dispatch per
  step). Gives the same numbers as :func:`make_train_run`; used as a baseline in the benchmark."""
  program = make_program(spec, data)
  step = jax.jit(program.step)
  init = jax.jit(program.init)
  val = jax.jit(lambda params: accuracy(params, data.x_val, data.y_val))
  finish = jax.jit(program.finish)

  def run(lr, reg, key):
    carry = init(lr, reg, key)
    outs, epoch_val = [], []
    for i in range(program.num_steps):
      carry, out = step(carry, jnp.asarray(i), lr, reg)
      outs.append(out)
      if (i + 1) % program.steps_per_epoch == 0:
        epoch_val.append(val(carry[0]))
    losses, alive, ratios = (jnp.stack(x) for x in zip(*outs))
    return finish(carry, losses, alive, ratios, jnp.stack(epoch_val))

  return run


def train_many(spec: RunSpec, data: Arrays, lrs, regs, keys) -> dict[str, np.ndarray]:
  """K runs as one compiled program (``jit(vmap(run))``); numpy results with a leading K axis."""
  run = jax.jit(jax.vmap(make_train_run(spec, data)))
  out = run(jnp.asarray(lrs, jnp.float32), jnp.asarray(regs, jnp.float32), keys)
  return jax.tree.map(np.asarray, out)
