"""The task protocol: a training objective as a few pure functions the engine runs.

The engine (:mod:`cs231n_jax.train.steps`, :mod:`cs231n_jax.train.loop`) knows nothing about
models or lecture areas. A :class:`Task` tells it how to build a state, how one training step and
one evaluation step change or measure it, and which part of the state to keep as "best". A state
is any pytree — a classifier's TrainState, two networks and two optimizers (a GAN), a recurrent
carry kept across chunks (a char language model), a momentum encoder and a queue, a replay buffer.
A batch is a dict of arrays of any structure whose first axis is the batch axis (the ``sharded``
and ``pmap`` steps split it over devices).

A :class:`Data` gives the engine the batches: a checkpointable training iterator and, per split,
a function returning one pass of evaluation batches.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable, Iterable, Mapping, Protocol

import jax
import numpy as np

Batch = Mapping[str, Any]
Metrics = dict[str, Any]
State = Any
MODES = ("min", "max")


class TrainIterator(Protocol):
  """Host batches for training: deterministic and resumable (``state`` goes into checkpoints)."""

  steps_per_epoch: int

  def __next__(self) -> dict[str, np.ndarray]: ...

  def state(self) -> dict[str, Any]: ...

  def restore(self, state: dict[str, Any]) -> None: ...


def identity_best(state: State) -> State:
  return state


def replace_with_best(state: State, best: State) -> State:
  del state
  return best


def mean_by_count(sums: Mapping[str, Any]) -> dict[str, Any]:
  """The default way to turn an evaluation's summed metrics into values: every ``<name>_sum`` is
  divided by ``count`` and reported as ``<name>``; other entries (e.g. a confusion matrix) are
  passed through as they are."""
  count = max(float(sums.get("count", 1.0)), 1.0)
  out = {}
  for k, v in sums.items():
    if k == "count":
      continue
    if k.endswith("_sum"):
      out[k[: -len("_sum")]] = float(v) / count
    else:
      out[k] = v
  return out


@dataclasses.dataclass(frozen=True)
class Task:
  """A training objective for the engine.

  - ``init(key, example_batch) -> state``: the initial state (host or device arrays).
  - ``train_step(state, batch, key, axis_name) -> (state, metrics)``: one update. ``key`` is this
    step's PRNG key (a function of the run's seed, the step and, under ``pmap``, the device);
    ``axis_name`` is the ``pmap`` axis to ``psum`` gradients and metrics over, or None (``jit``
    and ``sharded`` steps see the whole global batch). Metrics are scalars (or dicts of scalars)
    for the global batch and must include ``"loss"``: the engine stops a run whose loss is not
    finite.
  - ``eval_step(state, batch) -> sums``: metrics summed over the valid examples of a batch (the
    engine adds them over batches and devices); ``summarize(total) -> values`` turns the totals
    into reported values (default :func:`mean_by_count`).
  - ``metric`` / ``mode``: the evaluation value that picks the best state (``"accuracy"``/``"max"``,
    ``"bits_per_char"``/``"min"``, ``"return"``/``"max"``) — a config may override both.
  - ``best(state)`` is the part of the state kept when the metric improves (e.g. the parameters),
    and ``with_best(state, best)`` puts it back for the final evaluation.
  - ``start(state) -> state``: optional, applied once to the initial state of a run that does not
    resume from its own checkpoint (e.g. parameters transferred from another run).
  - ``finish(state, evals, workdir) -> extra results``: optional work on the best state after the
    final evaluation (``evals``: split -> summarized values), e.g. samples, figures, baselines,
    a confusion matrix.
  """

  init: Callable[[jax.Array, Batch], State]
  train_step: Callable[..., tuple[State, Metrics]]
  eval_step: Callable[[State, Batch], Metrics] | None = None
  summarize: Callable[[Mapping[str, Any]], dict[str, Any]] = mean_by_count
  metric: str = "loss"
  mode: str = "min"
  best: Callable[[State], Any] = identity_best
  with_best: Callable[[State, Any], State] = replace_with_best
  start: Callable[[State], State] | None = None
  finish: Callable[[State, dict[str, Any], Any], dict[str, Any]] | None = None
  name: str = "task"

  def __post_init__(self):
    if self.mode not in MODES:
      raise ValueError(f"Task.mode: expected one of {MODES}, got {self.mode!r}")

  def improved(self, value: float, best: float | None) -> bool:
    if best is None:
      return True
    return value > best if self.mode == "max" else value < best


@dataclasses.dataclass
class Data:
  """What the engine reads: ``train`` (a :class:`TrainIterator`), ``eval`` (split name -> a
  function returning one pass over that split as batches; ``"val"`` picks the best state),
  ``example`` (one host batch for ``Task.init``), and ``batch_size`` (the global batch, for
  throughput)."""

  train: TrainIterator
  eval: Mapping[str, Callable[[], Iterable[Batch]]]
  example: Batch
  batch_size: int
