"""Train and eval steps for any classifier, built three ways: ``jit``, ``sharded``, ``pmap``.

One pure step function, ``train_step(state, batch, axis_name)``, holds the maths. The builders only
decide where arrays live and how the step is compiled:

- ``jit``: one device; the whole global batch on it.
- ``sharded``: ``jax.jit`` with ``NamedSharding`` over a ``('data',)`` mesh of every device of every
  process; the batch is sharded, the TrainState replicated; XLA inserts the gradient all-reduce.
- ``pmap``: the classic replicated step over this process's devices, with explicit ``lax.psum``
  across all devices (and batch-norm statistics synchronised through the model's
  ``bn_axis_name``).

All three compute the same global quantities: the loss is the mean over the *valid* examples of
the global batch (``mask`` = 1), so padded rows of a last batch count for nothing, and the three
give the same parameters up to float summation order.
"""

from __future__ import annotations

import ast
import dataclasses
import functools
from typing import Any, Callable

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax

from cs231n_jax.data import augment
from cs231n_jax.errors import ConfigError
from cs231n_jax.train import parallel
from cs231n_jax.train.state import TrainState

STEP_KINDS = ("jit", "sharded", "pmap")
PMAP_AXIS = "batch"
AUX_COLLECTION = "aux_logits"

Batch = dict[str, jax.Array]
Metrics = dict[str, jax.Array]
AugmentOps = tuple[tuple[str, tuple[tuple[str, Any], ...]], ...]


def psum_if(x, axis_name):
  return x if axis_name is None else jax.lax.psum(x, axis_name)


def apply_model(state: TrainState, params, images, train: bool, rng):
  """Run the model; returns (float32 logits, updated non-trainable collections, auxiliary logits).

  In training, a model may ``sow`` extra classifier heads' logits into the ``"aux_logits"``
  collection (GoogLeNet's auxiliary classifiers); they are returned separately, never stored.
  """
  variables = {"params": params, **state.model_state}
  if not train:
    return state.apply_fn(variables, images, train=False, rngs={"dropout": rng}).astype(jnp.float32), state.model_state, {}
  out, updates = state.apply_fn(variables, images, train=True, rngs={"dropout": rng},
                                mutable=[*state.model_state, AUX_COLLECTION])
  updates = dict(updates)
  aux = updates.pop(AUX_COLLECTION, {})
  return out.astype(jnp.float32), {k: updates[k] for k in state.model_state}, aux


def update_ratios(old_params: Any, new_params: Any) -> dict[str, jax.Array]:
  """Lecture 6's babysitting number per top-level layer: ||update|| / ||weights|| (~1e-3 is healthy;
  much larger, the learning rate is too high; much smaller, too low)."""
  def ratio(old, new):
    return optax.tree.norm(jax.tree.map(jnp.subtract, new, old)) / jnp.maximum(optax.tree.norm(old), jnp.finfo(jnp.float32).tiny)

  return {str(layer): ratio(old, new_params[layer]) for layer, old in old_params.items()}


def train_step(state: TrainState, batch: Batch, axis_name: str | None = None,
               augment_ops: AugmentOps = (), aux_loss_weight: float = 0.0,
               log_update_ratio: bool = False) -> tuple[TrainState, Metrics]:
  """One SGD step on the mean softmax cross-entropy over the valid examples of the global batch.

  ``augment_ops`` (``(name, kwargs)`` pairs of :mod:`cs231n_jax.data.augment`) transform the
  images on the device first; every step and every example draws its own randomness. Auxiliary
  classifier logits (the ``"aux_logits"`` collection) add ``aux_loss_weight`` x their
  cross-entropy to the loss; the reported loss is the main classifier's. ``log_update_ratio`` adds
  :func:`update_ratios` to the metrics.
  """
  rng = jax.random.fold_in(state.rng, state.step)
  if axis_name is not None:  # different dropout masks and augmentations on every device
    rng = jax.random.fold_in(rng, jax.lax.axis_index(axis_name))
  dropout_rng, augment_rng = jax.random.split(rng)
  images = augment.augment(augment_rng, batch["image"], augment_ops) if augment_ops else batch["image"]
  mask = batch["mask"]
  count = psum_if(jnp.sum(mask), axis_name)
  denom = jnp.maximum(count, 1.0)

  def mean_cross_entropy(logits):
    # This device's share of the global mean: summing the shares (psum) gives the global mean.
    losses = optax.softmax_cross_entropy_with_integer_labels(logits.astype(jnp.float32), batch["label"])
    return jnp.sum(losses * mask) / denom

  def loss_fn(params):
    logits, model_state, aux = apply_model(state, params, images, True, dropout_rng)
    main = mean_cross_entropy(logits)
    total = main + aux_loss_weight * sum(mean_cross_entropy(a) for a in jax.tree.leaves(aux))
    return total, (main, logits, model_state)

  (_, (loss, logits, model_state)), grads = jax.value_and_grad(loss_fn, has_aux=True)(state.params)
  grads = psum_if(grads, axis_name)
  loss = psum_if(loss, axis_name)
  correct = psum_if(jnp.sum((jnp.argmax(logits, -1) == batch["label"]) * mask), axis_name)
  new_state = state.apply_gradients(grads, model_state)
  metrics = {"loss": loss, "accuracy": correct / denom, "grad_norm": optax.tree.norm(grads)}
  if log_update_ratio:
    metrics["update_ratio"] = update_ratios(state.params, new_state.params)
  return new_state, metrics


def eval_step(state: TrainState, batch: Batch, axis_name: str | None = None) -> Metrics:
  """Sums over the valid examples of a batch: loss, correct predictions, count, confusion matrix
  (rows = true class, columns = predicted class)."""
  logits, _, _ = apply_model(state, state.params, batch["image"], False, state.rng)
  mask = batch["mask"]
  losses = optax.softmax_cross_entropy_with_integer_labels(logits, batch["label"])
  pred = jnp.argmax(logits, -1)
  num_classes = logits.shape[-1]
  confusion = jnp.zeros((num_classes, num_classes), jnp.float32).at[batch["label"], pred].add(mask)
  sums = {
      "loss_sum": jnp.sum(losses * mask),
      "correct": jnp.sum((pred == batch["label"]) * mask),
      "count": jnp.sum(mask),
      "confusion": confusion,
  }
  return jax.tree.map(lambda x: psum_if(x, axis_name), sums)


class RecompileError(RuntimeError):
  """A compiled step was traced again: its input shapes, dtypes or static values changed."""


def max_traces(n: int) -> Callable[[Callable], Callable]:
  """A decorator that raises :class:`RecompileError` when the function is traced more than ``n``
  times. Under ``jit`` / ``pmap`` the Python body runs only while tracing, so counting calls counts
  traces. Unlike ``chex.assert_max_traces`` the count belongs to this one wrapped function, so
  building steps again (a new run in the same process) starts from zero."""

  def decorate(fn):
    count = 0

    @functools.wraps(fn)
    def wrapped(*args, **kwargs):
      nonlocal count
      count += 1
      if count > n:
        raise RecompileError(f"{fn.__name__} was traced {count} times (at most {n} expected): a batch or state changed shape or dtype")
      return fn(*args, **kwargs)

    return wrapped

  return decorate


def prepare_model(model: nn.Module, kind: str) -> nn.Module:
  """The model as the ``kind`` step needs it: under pmap, batch norm reduces over the pmap axis."""
  if kind == "pmap" and "bn_axis_name" in getattr(model, "__dataclass_fields__", {}):
    return model.clone(bn_axis_name=PMAP_AXIS)
  return model


@dataclasses.dataclass(frozen=True)
class Steps:
  """Compiled steps plus the functions that move states and batches to where they run.

  ``train(state, batch) -> (state, metrics)`` and ``evaluate(state, batch) -> sums`` take device
  values made by ``put_state`` / ``put_batch``; ``get_state`` returns a host (numpy) TrainState
  and ``get_metrics`` host scalars — the same for every kind, so checkpoints do not depend on
  the layout a run used.
  """

  kind: str
  train: Callable[[Any, Batch], tuple[Any, Metrics]]
  evaluate: Callable[[Any, Batch], Metrics]
  put_state: Callable[[TrainState], Any]
  get_state: Callable[[Any], TrainState]
  put_batch: Callable[[dict[str, np.ndarray]], Batch]
  get_metrics: Callable[[Metrics], dict[str, np.ndarray]]


def parse_augment(spec: str) -> AugmentOps:
  """``"crop(padding=4) | flip"`` → ``(("crop", (("padding", 4),)), ("flip", ()))``.

  Names are those of :data:`cs231n_jax.data.augment.AUGMENTATIONS`; arguments are literals.
  """
  ops = []
  for part in (p.strip() for p in spec.split("|")):
    if not part:
      continue
    try:
      node = ast.parse(part, mode="eval").body
      if isinstance(node, ast.Name):
        name, kwargs = node.id, ()
      elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and not node.args:
        name = node.func.id
        kwargs = tuple((kw.arg, ast.literal_eval(kw.value)) for kw in node.keywords)
      else:
        raise ValueError
    except (SyntaxError, ValueError):
      raise ConfigError(f"data.augment: cannot read {part!r}; expected name or name(key=value, ...)") from None
    if name not in augment.AUGMENTATIONS:
      raise ConfigError(f"data.augment: unknown augmentation {name!r}; expected one of {tuple(augment.AUGMENTATIONS)}")
    ops.append((name, kwargs))
  return tuple(ops)


def build_steps(kind: str, donate: bool = True,
                trace_guard: Callable[[Callable], Callable] | None = None,
                augment_ops: AugmentOps = (), aux_loss_weight: float = 0.0, log_update_ratio: bool = False) -> Steps:
  """Compile the train / eval steps for ``kind`` (one of :data:`STEP_KINDS`).

  ``trace_guard`` wraps each Python step function before it is compiled; the default,
  ``max_traces(1)``, raises on a second trace (a recompile); tests pass
  ``chex.assert_max_traces(n=1)``.
  ``donate`` lets XLA reuse the old state's buffers for the new one. ``augment_ops`` (from
  :func:`parse_augment`) are applied to training images inside the compiled step;
  ``aux_loss_weight`` weighs auxiliary classifiers' losses and ``log_update_ratio`` adds the
  per-layer update / weight ratios to the metrics (see :func:`train_step`).
  """
  ops = tuple((name, dict(kwargs)) for name, kwargs in augment_ops)
  if kind not in STEP_KINDS:
    raise ConfigError(f"train.step: expected one of {STEP_KINDS}, got {kind!r}")
  guard = trace_guard or max_traces(1)
  donate_argnums = (0,) if donate else ()

  def jit_train_step(state, batch):
    return train_step(state, batch, None, ops, aux_loss_weight, log_update_ratio)

  if kind == "jit":
    if jax.process_count() > 1:
      raise ConfigError("train.step: 'jit' runs on one device; use 'sharded' or 'pmap' with several processes")
    device = jax.local_devices()[0]
    return Steps(
        kind,
        train=jax.jit(guard(jit_train_step), donate_argnums=donate_argnums),
        evaluate=jax.jit(guard(eval_step)),
        put_state=lambda s: jax.device_put(s, device),
        get_state=parallel.to_host,
        put_batch=lambda b: jax.device_put(b, device),
        get_metrics=parallel.to_host,
    )

  if kind == "sharded":
    mesh = parallel.data_mesh()
    rep, data = parallel.replicated(mesh), parallel.batch_sharded(mesh)
    return Steps(
        kind,
        train=jax.jit(guard(jit_train_step), in_shardings=(rep, data), out_shardings=(rep, rep),
                      donate_argnums=donate_argnums),
        evaluate=jax.jit(guard(eval_step), in_shardings=(rep, data), out_shardings=rep),
        put_state=lambda s: parallel.put_replicated(s, mesh),
        get_state=parallel.to_host,
        put_batch=lambda b: parallel.put_batch(b, mesh),
        get_metrics=parallel.to_host,
    )

  n = jax.local_device_count()
  # Placing the state with an identity pmap gives it exactly the sharding pmap's own outputs have
  # (its type differs between JAX versions), so the step's first and later calls share one trace.
  replicate = jax.pmap(lambda tree: tree, axis_name=PMAP_AXIS)

  def put_state(state):
    return replicate(jax.tree.map(lambda x: np.broadcast_to(np.asarray(x), (n,) + np.shape(x)), state))

  def first_replica(tree):
    return parallel.to_host(jax.tree.map(lambda x: x.addressable_shards[0].data[0] if isinstance(x, jax.Array) else x[0], tree))

  def put_batch(batch):
    b = next(iter(batch.values())).shape[0]
    if b % n:
      raise ConfigError(f"train.batch_size: the per-process batch {b} is not divisible by the {n} local devices")
    return {k: v.reshape((n, b // n) + v.shape[1:]) for k, v in batch.items()}

  def pmap_train_step(state, batch):
    return train_step(state, batch, PMAP_AXIS, ops, aux_loss_weight, log_update_ratio)

  def pmap_eval_step(state, batch):
    return eval_step(state, batch, PMAP_AXIS)

  return Steps(
      kind,
      train=jax.pmap(guard(pmap_train_step), axis_name=PMAP_AXIS, donate_argnums=donate_argnums),
      evaluate=jax.pmap(guard(pmap_eval_step), axis_name=PMAP_AXIS),
      put_state=put_state,
      get_state=first_replica,
      put_batch=put_batch,
      get_metrics=first_replica,
  )
