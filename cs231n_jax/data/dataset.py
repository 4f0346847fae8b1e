"""The in-memory image-classification data set every source returns.

Images are NHWC float32 (Flax models are NHWC); ``course_dict`` gives the course's
``{'X_train': ..., 'y_train': ...}`` dictionary in NCHW for the course layers and the Solver.
"""

from __future__ import annotations

import dataclasses

import numpy as np


@dataclasses.dataclass(frozen=True)
class Split:
  images: np.ndarray  # (N, H, W, C) float32
  labels: np.ndarray  # (N,) int32

  def __len__(self) -> int:
    return len(self.labels)

  @property
  def example_shape(self) -> tuple[int, ...]:
    return tuple(self.images.shape[1:])

  def get_batch(self, indices: np.ndarray, rng: np.random.Generator | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The examples at ``indices`` (the pipeline's random-access source interface; in-memory
    images need no host-side randomness, so ``rng`` is unused)."""
    return self.images[indices], self.labels[indices]


@dataclasses.dataclass(frozen=True)
class ImageDataset:
  name: str
  train: Split  # or any pipeline Source with ``example_shape`` (e.g. a TFDS split)
  val: Split
  test: Split
  num_classes: int
  class_names: tuple[str, ...]
  mean_image: np.ndarray | None  # subtracted from every split when not None

  @property
  def image_shape(self) -> tuple[int, ...]:
    return self.train.example_shape

  def split(self, name: str) -> Split:
    if name not in ("train", "val", "test"):
      raise ValueError(f"split: expected 'train', 'val' or 'test', got {name!r}")
    return getattr(self, name)

  def course_dict(self) -> dict[str, np.ndarray]:
    """The course's data dictionary: ``X_*`` in NCHW, ``y_*`` int labels."""
    out = {}
    for name in ("train", "val", "test"):
      s = self.split(name)
      out[f"X_{name}"] = np.ascontiguousarray(s.images.transpose(0, 3, 1, 2))
      out[f"y_{name}"] = s.labels
    return out


def preprocess(train: np.ndarray, others: list[np.ndarray], subtract_mean: bool,
               mean: np.ndarray | None = None):
  """The course's preprocessing: subtract the *training* mean image from every split (``mean``
  when given: the same mean read from a cache, :mod:`cs231n_jax.data.cache`)."""
  if not subtract_mean:
    return train, others, None
  mean = (train.mean(axis=0) if mean is None else mean).astype(np.float32)
  return train - mean, [o - mean for o in others], mean
