"""Any task's train and eval steps, compiled three ways (``jit``, ``sharded``, ``pmap``), or run on the host.

The engine's state wraps the task's: ``{"step", "rng", "task"}``. The compiled train step derives
this step's key from the run's key and the step (and, under ``pmap``, the device), calls the
task's ``train_step`` and counts the step. The builders only decide where arrays live and how the
step is compiled:

- ``jit``: one device; the whole global batch on it.
- ``sharded``: ``jax.jit`` with ``NamedSharding`` over a ``('data',)`` mesh of every device of every
  process; the batch is sharded along its first axis, the state replicated; XLA inserts the
  collectives the task's global means need.
- ``pmap``: the classic replicated step over this process's devices; the task's step receives the
  axis name and ``psum``s its gradients and metrics; evaluation sums are ``psum``ed here.
- ``host``: not compiled: the engine calls the task's step from Python. For a task whose step talks to
  something outside JAX (a Gymnasium environment stepped on the host); such a task jits its own pure
  parts (the policy, the update). Checkpoints, resume, evaluation and logging are the same.

A task that computes global means over the valid examples of the global batch gets the same
parameters from all three, up to float summation order.

Every builder traces the task's steps within ``cs231n_jax.cpu.compiling_for`` the platform of the
devices it compiles for: the layers' CPU rewrites and kernels (``cs231n_jax.cpu``) apply to a step
compiled for CPUs, and never to one compiled for a TPU or GPU.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Any, Callable

import jax
import jax.numpy as jnp
import numpy as np

from cs231n_jax.cpu import platform_of, traced_for
from cs231n_jax.errors import ConfigError
from cs231n_jax.train import parallel
from cs231n_jax.train.task import Batch, Metrics, Task

STEP_KINDS = ("jit", "sharded", "pmap", "host")
PMAP_AXIS = "batch"


def psum_if(x, axis_name):
  return x if axis_name is None else jax.lax.psum(x, axis_name)


def engine_state(task_state: Any, seed: int, step: int = 0) -> dict[str, Any]:
  """The engine's (host) state around ``task_state``: the step counter and the run's training key.

  The key is the second half of ``PRNGKey(seed)`` split in two (the first initialises the task),
  as a raw ``uint32`` array so checkpoints hold plain arrays."""
  return {"step": np.asarray(step, np.int32),
          "rng": np.asarray(jax.random.split(jax.random.PRNGKey(seed))[1]),
          "task": task_state}


def init_key(seed: int) -> jax.Array:
  """The key ``Task.init`` receives: the first half of ``PRNGKey(seed)`` split in two."""
  return jax.random.split(jax.random.PRNGKey(seed))[0]


def step_key(state: dict[str, Any], axis_name: str | None) -> jax.Array:
  """This step's key: the run's key folded with the step (and the device under ``pmap``, so
  dropout masks and augmentations differ between devices)."""
  key = jax.random.fold_in(state["rng"], state["step"])
  return key if axis_name is None else jax.random.fold_in(key, jax.lax.axis_index(axis_name))


def engine_train_step(task: Task, state: dict[str, Any], batch: Batch,
                      axis_name: str | None = None) -> tuple[dict[str, Any], Metrics]:
  task_state, metrics = task.train_step(state["task"], batch, step_key(state, axis_name), axis_name)
  return {"step": state["step"] + 1, "rng": state["rng"], "task": task_state}, metrics


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


@dataclasses.dataclass(frozen=True)
class Steps:
  """Compiled steps plus the functions that move states and batches to where they run.

  ``train(state, batch) -> (state, metrics)`` and ``evaluate(state, batch) -> sums`` take device
  values made by ``put_state`` / ``put_batch``; ``get_state`` returns a host (numpy) state and
  ``get_metrics`` host values — the same for every kind, so checkpoints do not depend on the
  layout a run used.
  """

  kind: str
  train: Callable[[Any, Batch], tuple[Any, Metrics]]
  evaluate: Callable[[Any, Batch], Metrics] | None
  put_state: Callable[[Any], Any]
  get_state: Callable[[Any], Any]
  put_batch: Callable[[Batch], Batch]
  get_metrics: Callable[[Metrics], Any]


def build_steps(task: Task, kind: str, donate: bool = True,
                trace_guard: Callable[[Callable], Callable] | None = None) -> Steps:
  """Compile ``task``'s train / eval steps for ``kind`` (one of :data:`STEP_KINDS`).

  The train step takes and returns the engine state (:func:`engine_state`); the eval step takes
  the same state and evaluates ``state["task"]``. ``trace_guard`` wraps each Python step function
  before it is compiled; the default, ``max_traces(1)``, raises on a second trace (a recompile);
  tests pass ``chex.assert_max_traces(n=1)``. ``donate`` lets XLA reuse the old state's buffers.
  """
  if kind not in STEP_KINDS:
    raise ConfigError(f"train.step: expected one of {STEP_KINDS}, got {kind!r}")
  donate_argnums = (0,) if donate else ()
  devices = jax.devices() if kind == "sharded" else jax.local_devices()
  platform = platform_of(devices[:1] if kind == "jit" else devices)

  def guard(fn):
    return (trace_guard or max_traces(1))(traced_for(platform, fn))

  def train_step(state, batch):
    return engine_train_step(task, state, batch, None)

  def eval_step(state, batch):
    return task.eval_step(state["task"], batch)

  has_eval = task.eval_step is not None

  if kind == "host":
    if jax.process_count() > 1:
      raise ConfigError("train.step: 'host' runs in one process; use 'sharded' or 'pmap' with several processes")
    return Steps(kind, train=traced_for(platform, train_step), evaluate=traced_for(platform, eval_step) if has_eval else None,
                 put_state=lambda s: s, get_state=parallel.to_host, put_batch=dict, get_metrics=parallel.to_host)

  if kind == "jit":
    if jax.process_count() > 1:
      raise ConfigError("train.step: 'jit' runs on one device; use 'sharded' or 'pmap' with several processes")
    device = jax.local_devices()[0]
    return Steps(
        kind,
        train=jax.jit(guard(train_step), donate_argnums=donate_argnums),
        evaluate=jax.jit(guard(eval_step)) if has_eval else None,
        put_state=lambda s: jax.device_put(s, device),
        get_state=parallel.to_host,
        put_batch=lambda b: jax.device_put(dict(b), device),
        get_metrics=parallel.to_host,
    )

  if kind == "sharded":
    mesh = parallel.data_mesh()
    rep, data = parallel.replicated(mesh), parallel.batch_sharded(mesh)
    return Steps(
        kind,
        train=jax.jit(guard(train_step), in_shardings=(rep, data), out_shardings=(rep, rep),
                      donate_argnums=donate_argnums),
        evaluate=jax.jit(guard(eval_step), in_shardings=(rep, data), out_shardings=rep) if has_eval else None,
        put_state=lambda s: parallel.put_replicated(s, mesh),
        get_state=parallel.to_host,
        put_batch=lambda b: jax.tree.map(lambda v: jax.make_array_from_process_local_data(data, v), dict(b)),
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
    b = jax.tree.leaves(batch)[0].shape[0]
    if b % n:
      raise ConfigError(f"train.batch_size: the per-process batch {b} is not divisible by the {n} local devices")
    return jax.tree.map(lambda v: np.reshape(v, (n, b // n) + np.shape(v)[1:]), dict(batch))

  def pmap_train_step(state, batch):
    return engine_train_step(task, state, batch, PMAP_AXIS)

  def pmap_eval_step(state, batch):
    return jax.tree.map(lambda x: jax.lax.psum(x, PMAP_AXIS), task.eval_step(state["task"], batch))

  return Steps(
      kind,
      train=jax.pmap(guard(pmap_train_step), axis_name=PMAP_AXIS, donate_argnums=donate_argnums),
      evaluate=jax.pmap(guard(pmap_eval_step), axis_name=PMAP_AXIS) if has_eval else None,
      put_state=put_state,
      get_state=first_replica,
      put_batch=put_batch,
      get_metrics=first_replica,
  )


def mean_over_valid(values: jax.Array, mask: jax.Array, axis_name: str | None) -> jax.Array:
  """This device's share of the mean of ``values`` over the valid (``mask`` = 1) examples of the
  global batch: summing the shares over devices (``psum``) gives the global mean."""
  count = psum_if(jnp.sum(mask), axis_name)
  return jnp.sum(values * mask) / jnp.maximum(count, 1.0)
