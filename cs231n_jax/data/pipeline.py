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
- Every batch is checked (shape, dtype, finite pixels, labels in ``[0, num_classes)``) before it
  reaches a device, and a bad example is named by its index in the source.
"""

from __future__ import annotations

import dataclasses
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


@dataclasses.dataclass
class BatchIterator:
  """Deterministic, shardable, checkpointable batches over a :class:`Source`.

  Yields dicts of numpy arrays holding this process's ``global_batch_size // process_count`` rows:
  ``{"image", "label", "mask"}`` for an image-classification source, the source's own keys and
  ``"mask"`` for a dict source.
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
    self._order_epoch = None
    self._order = None

  @property
  def local_batch_size(self) -> int:
    return self.global_batch_size // self.process_count

  @property
  def steps_per_epoch(self) -> int:
    n, b = len(self.source), self.global_batch_size
    return n // b if self.last_batch == "drop" else -(-n // b)

  def order(self, epoch: int) -> np.ndarray:
    """The permutation of epoch ``epoch``: a function of ``(seed, epoch)`` only."""
    if self._order_epoch != epoch:
      n = len(self.source)
      if self.shuffle:
        self._order = np.random.default_rng([self.seed, epoch]).permutation(n)
      else:
        self._order = np.arange(n)
      self._order_epoch = epoch
    return self._order

  def global_indices(self, epoch: int, position: int) -> tuple[np.ndarray, np.ndarray]:
    """Source indices and mask of global batch ``position`` of ``epoch``."""
    order, b = self.order(epoch), self.global_batch_size
    idx = order[position * b : (position + 1) * b]
    mask = np.ones(b, np.float32)
    if len(idx) < b:  # the short last batch of a "pad" epoch: top up, mask out
      mask[len(idx):] = 0.0
      idx = np.concatenate([idx, np.resize(order, b - len(idx))])
    return idx, mask

  def __iter__(self):
    return self

  def __next__(self) -> dict[str, np.ndarray]:
    idx, mask = self.global_indices(self.epoch, self.position)
    lo = self.process_index * self.local_batch_size
    idx, mask = idx[lo : lo + self.local_batch_size], mask[lo : lo + self.local_batch_size]
    # Host-side randomness of this batch: a function of (seed, epoch, position, process) only.
    rng = np.random.default_rng([self.seed, self.epoch, self.position, self.process_index]) if self.shuffle else None
    examples = self.source.get_batch(idx, rng)
    if isinstance(examples, Mapping):
      batch = dict(examples)
    else:
      images, labels = examples
      check_examples(images, labels, idx, self.num_classes, self.image_shape, self.name)
      batch = {"image": images, "label": labels.astype(np.int32)}
    self.position += 1
    if self.position == self.steps_per_epoch:
      self.epoch, self.position = self.epoch + 1, 0
    return {**batch, "mask": mask}

  def state(self) -> dict[str, int]:
    return {"epoch": self.epoch, "position": self.position, "seed": self.seed}

  def restore(self, state: dict[str, int]) -> None:
    if state.get("seed", self.seed) != self.seed:
      raise DataError(f"data iterator: checkpoint was written with seed {state['seed']}, this run uses {self.seed}")
    if not 0 <= state["position"] < self.steps_per_epoch:
      raise DataError(f"data iterator: position {state['position']} is outside an epoch of {self.steps_per_epoch} batches")
    self.epoch, self.position = int(state["epoch"]), int(state["position"])


def eval_batches(source: Source, global_batch_size: int, num_classes: int = 0, process_index: int = 0,
                 process_count: int = 1, name: str = "eval"):
  """One pass over ``source`` in order, in padded batches of a fixed shape (no recompiles)."""
  it = BatchIterator(source, global_batch_size, num_classes, shuffle=False, last_batch="pad",
                     process_index=process_index, process_count=process_count, name=name)
  for _ in range(it.steps_per_epoch):
    yield next(it)
