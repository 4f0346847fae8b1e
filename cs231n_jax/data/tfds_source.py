"""TensorFlow Datasets through ``tfds.data_source``: random access to prepared ArrayRecord files,
with no TensorFlow at training time (prepare the data set once with ``tfds build NAME
--file_format=array_record`` where TensorFlow is installed).

Needs the ``tfds`` extra (``pip install cs231n-jax[tfds]``).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from cs231n_jax.data.dataset import ImageDataset
from cs231n_jax.errors import DataError

UINT8_MAX = 255.0


@dataclasses.dataclass
class TfdsSplit:
  """One split of a TFDS data set as a pipeline source: images as float32 NHWC, scaled to [0, 1]
  when ``scale``, minus ``mean_image`` when given."""

  source: Any  # a tfds data source: len() and [i] -> {feature: value}
  image_key: str = "image"
  label_key: str = "label"
  scale: bool = True
  mean_image: np.ndarray | None = None

  def __len__(self) -> int:
    return len(self.source)

  def raw_images(self, indices) -> tuple[np.ndarray, np.ndarray]:
    records = [self.source[int(i)] for i in indices]
    try:
      images = np.stack([np.asarray(r[self.image_key]) for r in records]).astype(np.float32)
      labels = np.asarray([r[self.label_key] for r in records], dtype=np.int64)
    except KeyError as e:
      raise DataError(f"data.image_key/label_key: the records have no feature {e}; they have {sorted(records[0])}") from None
    if self.scale:
      images /= UINT8_MAX
    return images, labels

  def get_batch(self, indices: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    images, labels = self.raw_images(indices)
    if self.mean_image is not None:
      images -= self.mean_image
    return images, labels

  @property
  def example_shape(self) -> tuple[int, ...]:
    return tuple(self.raw_images([0])[0].shape[1:])


def load_tfds(
    name: str,
    train_split: str = "train[:90%]",
    val_split: str = "train[90%:]",
    test_split: str = "test",
    data_dir: str | None = None,
    image_key: str = "image",
    label_key: str = "label",
    scale: bool = True,
    subtract_mean: bool = True,
    mean_examples: int = 10_000,
) -> ImageDataset:
  """A TFDS image-classification data set as an :class:`ImageDataset` of lazy splits.

  The mean image subtracted (the course's preprocessing) is computed on the first
  ``mean_examples`` training examples.
  """
  try:
    import tensorflow_datasets as tfds
  except ImportError:
    raise DataError("data.name=tfds: tensorflow-datasets is not installed (pip install cs231n-jax[tfds])") from None

  def source(split):
    try:
      return tfds.data_source(name, split=split, data_dir=data_dir)
    except Exception as e:  # tfds raises several types for a missing/unprepared data set
      raise DataError(f"data.tfds_name: cannot open {name!r} split {split!r} ({type(e).__name__}: {e})") from None

  train = TfdsSplit(source(train_split), image_key, label_key, scale)
  info = train.source.dataset_info
  label_feature = info.features[label_key] if label_key in info.features else None
  num_classes = getattr(label_feature, "num_classes", None)
  if not num_classes:
    raise DataError(f"data.label_key: feature {label_key!r} of {name!r} is not a ClassLabel")
  mean = None
  if subtract_mean:
    images, _ = train.raw_images(range(min(len(train), mean_examples)))
    mean = images.mean(axis=0)
    train.mean_image = mean
  splits = [TfdsSplit(source(s), image_key, label_key, scale, mean) for s in (val_split, test_split)]
  return ImageDataset(
      name=f"tfds/{name}",
      train=train,
      val=splits[0],
      test=splits[1],
      num_classes=int(num_classes),
      class_names=tuple(getattr(label_feature, "names", ()) or (str(i) for i in range(num_classes))),
      mean_image=mean,
  )
