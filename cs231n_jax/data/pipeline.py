"""Global batches from a random-access source: deterministic, multi-host, resumable.

- Every epoch is a permutation drawn from ``(seed, epoch)`` alone, so any process can compute any
  batch without talking to the others, and a resumed run sees exactly the batches an uninterrupted
  run would have seen.
- ``global_batch_size`` is the batch of the whole job; process ``p`` of ``P`` takes rows
  ``[p * B / P, (p + 1) * B / P)`` of every global batch.
- Every batch has the same shape, so a jitted step never recompiles: with ``last_batch="pad"`` the
  last, short batch of an epoch is filled up with real examples from the start of the epoch's
  permutation, whose ``mask`` is 0 (losses and metrics are weighted by ``mask``); with
  ``last_batch="drop"`` the remainder is skipped (a fresh permutation next epoch uses it).
- ``state()`` / ``restore()`` give the iterator position ``{"epoch", "position"}`` that goes into
  checkpoints.
- The batches are made by a grain pipeline (the JAX ecosystem's loader): a ``grain.MapDataset``
  whose element ``i`` is global batch ``i`` of the run (epoch ``i // steps_per_epoch``, position
  ``i % steps_per_epoch``), cut to this process's rows, read and transformed (decoding, host-side
  crops) per example, then iterated with ``workers`` worker processes (``IterDataset.mp_prefetch``)
  or in this process (``workers=0``), ``prefetch`` batches ahead. Element ``i`` is a function of
  ``i`` alone, so the batches are bitwise the same for any number of workers, and the iterator
  state is the index of the next batch: a resumed run rebuilds the pipeline from that index (with
  any number of workers) rather than restoring grain's per-worker state.
- Every batch is checked (shape, dtype, finite pixels, labels in ``[0, num_classes)``) before it
  reaches a device, and a bad example is named by its index in the source.
"""

from __future__ import annotations

import dataclasses
import functools
import os
import threading
import time
import weakref
from typing import Mapping, Protocol

import numpy as np

from cs231n_jax.errors import DataError

LAST_BATCH_POLICIES = ("pad", "drop")


class Source(Protocol):
  """A random-access split: ``len(source)`` and ``source.get_batch(indices, rng)``, which returns
  ``(images, labels)`` (an image-classification split: checked, and batched as ``{"image",
  "label"}``) or a dict of arrays (any other task's examples, e.g. :class:`ArraySource`); ``rng``
  (a numpy Generator seeded by the pipeline per batch, None for evaluation) is for host-side
  random transforms such as ImageNet's scale-and-crop."""

  def __len__(self) -> int: ...

  def get_batch(self, indices: np.ndarray, rng: np.random.Generator | None = None
                ) -> tuple[np.ndarray, np.ndarray] | dict[str, np.ndarray]: ...


@dataclasses.dataclass(frozen=True)
class ArraySource:
  """In-memory examples of any structure: a dict of arrays that share their first axis."""

  arrays: Mapping[str, np.ndarray]

  def __post_init__(self):
    lengths = {k: len(v) for k, v in self.arrays.items()}
    if not lengths or len(set(lengths.values())) != 1:
      raise DataError(f"ArraySource: expected arrays with one common first axis, got lengths {lengths}")

  def __len__(self) -> int:
    return len(next(iter(self.arrays.values())))

  def get_batch(self, indices: np.ndarray, rng: np.random.Generator | None = None) -> dict[str, np.ndarray]:
    return {k: v[indices] for k, v in self.arrays.items()}


def check_examples(
    images: np.ndarray, labels: np.ndarray, indices: np.ndarray, num_classes: int,
    image_shape: tuple[int, ...] | None, where: str,
) -> None:
  """Raise ``DataError`` naming the first bad example (by source index) and what was expected."""
  if not np.issubdtype(images.dtype, np.floating):
    raise DataError(f"{where}.images: expected a floating dtype, got {images.dtype}")
  if image_shape is not None and images.shape[1:] != tuple(image_shape):
    raise DataError(f"{where}.images: expected examples of shape {tuple(image_shape)}, got {images.shape[1:]}")
  if labels.shape != (images.shape[0],):
    raise DataError(f"{where}.labels: expected shape ({images.shape[0]},), got {labels.shape}")
  if not np.issubdtype(labels.dtype, np.integer):
    raise DataError(f"{where}.labels: expected integer labels, got {labels.dtype}")
  finite = np.isfinite(images.reshape(images.shape[0], -1)).all(axis=1)
  if not finite.all():
    bad = int(indices[np.argmin(finite)])
    raise DataError(f"{where}.images: example {bad} has NaN or infinite pixels")
  out_of_range = (labels < 0) | (labels >= num_classes)
  if out_of_range.any():
    i = int(np.argmax(out_of_range))
    raise DataError(f"{where}.labels: example {int(indices[i])} has label {int(labels[i])}, expected 0 <= label < {num_classes}")


# The grain pipeline of a run is unbounded (the engine decides when to stop): element indices run
# up to this (an int64 range that grain slices lazily; 2**62 batches are never reached).
UNBOUNDED = 2**62


@dataclasses.dataclass(frozen=True)
class BatchPlan:
  """Which rows of which source examples make up global batch ``i`` of a run, and how to read
  them: everything a grain worker process needs (it is pickled into each worker), nothing that
  changes as the run goes on. ``plan(i)`` is this process's batch ``i``, a function of ``i``
  alone (and of the fields)."""

  source: Source
  global_batch_size: int
  num_classes: int
  seed: int
  shuffle: bool
  last_batch: str
  process_index: int
  process_count: int
  image_shape: tuple[int, ...] | None
  name: str

  @property
  def local_batch_size(self) -> int:
    return self.global_batch_size // self.process_count

  @property
  def steps_per_epoch(self) -> int:
    n, b = len(self.source), self.global_batch_size
    return n // b if self.last_batch == "drop" else -(-n // b)

  def order(self, epoch: int) -> np.ndarray:
    """The permutation of epoch ``epoch``: a function of ``(seed, epoch)`` only (cached, one
    epoch at a time; the cache is one tuple, so a prefetch thread never sees half of it)."""
    cached = self.__dict__.get("_order")
    if cached is None or cached[0] != epoch:
      n = len(self.source)
      order = np.random.default_rng([self.seed, epoch]).permutation(n) if self.shuffle else np.arange(n)
      cached = (epoch, order)
      object.__setattr__(self, "_order", cached)
    return cached[1]

  def __getstate__(self):  # the cached permutation is not sent to worker processes
    return {k: v for k, v in self.__dict__.items() if k != "_order"}

  def __setstate__(self, state):
    self.__dict__.update(state)

  def global_indices(self, epoch: int, position: int) -> tuple[np.ndarray, np.ndarray]:
    """Source indices and mask of global batch ``position`` of ``epoch``."""
    order, b = self.order(epoch), self.global_batch_size
    idx = order[position * b : (position + 1) * b]
    mask = np.ones(b, np.float32)
    if len(idx) < b:  # the short last batch of a "pad" epoch: top up, mask out
      mask[len(idx):] = 0.0
      idx = np.concatenate([idx, np.resize(order, b - len(idx))])
    return idx, mask

  def __call__(self, index: int) -> dict[str, np.ndarray]:
    epoch, position = divmod(int(index), self.steps_per_epoch)
    idx, mask = self.global_indices(epoch, position)
    lo = self.process_index * self.local_batch_size
    idx, mask = idx[lo : lo + self.local_batch_size], mask[lo : lo + self.local_batch_size]
    # Host-side randomness of this batch: a function of (seed, epoch, position, process) only.
    rng = np.random.default_rng([self.seed, epoch, position, self.process_index]) if self.shuffle else None
    examples = self.source.get_batch(idx, rng)
    if isinstance(examples, Mapping):
      batch = dict(examples)
    else:
      images, labels = examples
      check_examples(images, labels, idx, self.num_classes, self.image_shape, self.name)
      batch = {"image": images, "label": labels.astype(np.int32)}
    return {**batch, "mask": mask}


def allow_grain_workers() -> None:
  """grain 0.2.18 reads an absl flag when it starts worker processes, which fails in a program
  that never parsed absl flags (google/grain#1355, fixed after 0.2.18): mark them parsed, keeping
  every flag at its default."""
  from absl import flags

  if not flags.FLAGS.is_parsed():
    flags.FLAGS.mark_as_parsed()


PARENT_POLL_S = 1.0  # how often a worker process checks that the training process still runs


def exit_with_parent(parent: int, worker_index: int, worker_count: int) -> None:
  """Run in each grain worker at start (``parent``: the training process's id, bound where the
  workers are made): end the worker when that process is gone. grain's workers otherwise outlive
  a training process killed with SIGKILL (preemption, the OOM killer, ``kill -9``), blocked on a
  full queue, and a restarted run would start a second set beside them."""
  del worker_index, worker_count

  def watch():
    while os.getppid() == parent:
      time.sleep(PARENT_POLL_S)
    os._exit(1)  # re-parented (also when the parent died while this worker was starting)

  threading.Thread(target=watch, name="exit_with_parent", daemon=True).start()


def grain_iterator(plan: BatchPlan, start: int, stop: int, workers: int, prefetch: int):
  """A grain iterator over batches ``start, start + 1, ..., stop - 1`` of ``plan``.

  ``workers=0``: in this process, ``prefetch`` batches read ahead by a background thread (none
  when 0). ``workers > 0``: that many worker processes (spawned; each gets a pickled copy of
  ``plan``), each ``max(prefetch, 1)`` batches ahead; grain interleaves them back into index order.
  The workers end with this process, however it ends (:func:`exit_with_parent`).
  """
  import grain

  ds = grain.MapDataset.range(start, stop).map(plan)
  if workers == 0:
    read = grain.ReadOptions(num_threads=1 if prefetch else 0, prefetch_buffer_size=prefetch)
    return iter(ds.to_iter_dataset(read))
  allow_grain_workers()
  ds = ds.to_iter_dataset(grain.ReadOptions(num_threads=0, prefetch_buffer_size=0))
  options = grain.MultiprocessingOptions(num_workers=workers, per_worker_buffer_size=max(prefetch, 1))
  return iter(ds.mp_prefetch(options, worker_init_fn=functools.partial(exit_with_parent, os.getpid())))


def close_iterator(iterator) -> None:
  close = getattr(iterator, "close", None)
  if close is not None:
    close()


@dataclasses.dataclass
class BatchIterator:
  """Deterministic, shardable, checkpointable batches over a :class:`Source`, made by grain.

  Yields dicts of numpy arrays holding this process's ``global_batch_size // process_count`` rows:
  ``{"image", "label", "mask"}`` for an image-classification source, the source's own keys and
  ``"mask"`` for a dict source. ``workers`` worker processes (0: this process) read the batches,
  ``prefetch`` batches ahead; the batches do not depend on either. ``num_batches`` ends the
  iteration after that many batches from the start of the run (None: never).
  """

  source: Source
  global_batch_size: int
  num_classes: int = 0  # checked against the labels of (images, labels) sources
  seed: int = 0
  shuffle: bool = True
  last_batch: str = "pad"
  process_index: int = 0
  process_count: int = 1
  image_shape: tuple[int, ...] | None = None
  name: str = "train"
  epoch: int = 0
  position: int = 0  # index of the next batch within the epoch
  workers: int = 0
  prefetch: int = 0
  num_batches: int | None = None

  def __post_init__(self):
    n = len(self.source)
    if n == 0:
      raise DataError(f"{self.name}: the split is empty")
    if self.global_batch_size <= 0:
      raise DataError(f"train.batch_size: expected a positive batch size, got {self.global_batch_size}")
    if self.last_batch not in LAST_BATCH_POLICIES:
      raise DataError(f"last_batch: expected one of {LAST_BATCH_POLICIES}, got {self.last_batch!r}")
    if self.global_batch_size % self.process_count:
      raise DataError(
          f"train.batch_size: {self.global_batch_size} is not divisible by the {self.process_count} processes"
      )
    if self.last_batch == "drop" and n < self.global_batch_size:
      raise DataError(f"train.batch_size: {self.global_batch_size} exceeds the {n} examples of {self.name} with last_batch='drop'")
    for field in ("workers", "prefetch"):
      value = getattr(self, field)
      if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 0:
        raise DataError(f"data.{field}: expected a non-negative integer, got {value!r}")
    self.plan = BatchPlan(self.source, self.global_batch_size, self.num_classes, self.seed, self.shuffle,
                          self.last_batch, self.process_index, self.process_count,
                          None if self.image_shape is None else tuple(self.image_shape), self.name)
    self._iterator = None
    self._next_index = None  # the batch index the live grain iterator yields next
    self._finalizer = None

  @property
  def local_batch_size(self) -> int:
    return self.plan.local_batch_size

  @property
  def steps_per_epoch(self) -> int:
    return self.plan.steps_per_epoch

  def order(self, epoch: int) -> np.ndarray:
    """The permutation of epoch ``epoch``: a function of ``(seed, epoch)`` only."""
    return self.plan.order(epoch)

  def global_indices(self, epoch: int, position: int) -> tuple[np.ndarray, np.ndarray]:
    """Source indices and mask of global batch ``position`` of ``epoch``."""
    return self.plan.global_indices(epoch, position)

  @property
  def index(self) -> int:
    """The index in the run of the next batch."""
    return self.epoch * self.steps_per_epoch + self.position

  def __iter__(self):
    return self

  def _start(self, index: int) -> None:
    self.close()
    stop = UNBOUNDED if self.num_batches is None else self.num_batches
    self._iterator = grain_iterator(self.plan, index, max(stop, index), self.workers, self.prefetch)
    self._next_index = index
    if self.workers:  # stop the worker processes when this iterator goes, or at exit
      self._finalizer = weakref.finalize(self, close_iterator, self._iterator)

  def __next__(self) -> dict[str, np.ndarray]:
    index = self.index
    if self.num_batches is not None and index >= self.num_batches:
      raise StopIteration
    if self._iterator is None or self._next_index != index:  # first batch, or moved by restore()
      self._start(index)
    batch = next(self._iterator)
    self._next_index = index + 1
    self.position += 1
    if self.position == self.steps_per_epoch:
      self.epoch, self.position = self.epoch + 1, 0
    return batch

  def close(self) -> None:
    """Stop the grain iterator (and its worker processes); the next batch starts a new one."""
    if self._finalizer is not None:
      self._finalizer()  # calls close_iterator once
      self._finalizer = None
    elif self._iterator is not None:
      close_iterator(self._iterator)
    self._iterator, self._next_index = None, None

  def state(self) -> dict[str, int]:
    return {"epoch": self.epoch, "position": self.position, "seed": self.seed}

  def restore(self, state: dict[str, int]) -> None:
    if state.get("seed", self.seed) != self.seed:
      raise DataError(f"data iterator: checkpoint was written with seed {state['seed']}, this run uses {self.seed}")
    if not 0 <= state["position"] < self.steps_per_epoch:
      raise DataError(f"data iterator: position {state['position']} is outside an epoch of {self.steps_per_epoch} batches")
    self.epoch, self.position = int(state["epoch"]), int(state["position"])


def eval_batches(source: Source, global_batch_size: int, num_classes: int = 0, process_index: int = 0,
                 process_count: int = 1, name: str = "eval", workers: int = 0, prefetch: int = 0):
  """One pass over ``source`` in order, in padded batches of a fixed shape (no recompiles)."""
  it = BatchIterator(source, global_batch_size, num_classes, shuffle=False, last_batch="pad",
                     process_index=process_index, process_count=process_count, name=name,
                     workers=workers, prefetch=prefetch)
  it.num_batches = it.steps_per_epoch
  try:
    yield from it
  finally:
    it.close()
