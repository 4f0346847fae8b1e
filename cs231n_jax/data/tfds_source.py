"""TensorFlow Datasets through ``tfds.data_source``: random access to prepared ArrayRecord files,
with no TensorFlow at training time (prepare the data set once with ``tfds build NAME
--file_format=array_record`` where TensorFlow is installed).

Images of different sizes (ImageNet) are brought to one size on the host, as the ResNet paper
does (He et al. 2016, section 3.4; lecture 7): for evaluation the shorter side is resized to
``resize_size`` and the centre ``image_size`` x ``image_size`` crop is kept; for training, with
``train_scale_range=(256, 480)``, the shorter side is resized to a random L in that range and a
random ``image_size`` crop is taken — random draws come from the pipeline's per-batch generator,
so a resumed run sees the same crops. Flips and colour jitter run on the device
(``data.augment``).

Needs the ``tfds`` extra (``pip install cs231n-jax[tfds]``).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from cs231n_jax.data import cache
from cs231n_jax.data.dataset import ImageDataset
from cs231n_jax.errors import DataError

UINT8_MAX = 255.0
MEAN_CHUNK = 256  # examples decoded at a time while computing the mean image
# The ResNet / torchvision evaluation recipe: resize the shorter side to 256, centre-crop 224.
RESIZE_RATIO = 256 / 224


def resize_shorter_side(image: np.ndarray, size: int) -> np.ndarray:
  """Bilinear resize (uint8 in, uint8 out) so that the shorter side is ``size`` pixels."""
  from PIL import Image

  h, w = image.shape[:2]
  scale = size / min(h, w)
  new = (max(size, round(w * scale)), max(size, round(h * scale)))  # PIL takes (width, height)
  squeeze = image.ndim == 3 and image.shape[2] == 1
  pil = Image.fromarray(image[..., 0] if squeeze else image)
  out = np.asarray(pil.resize(new, Image.BILINEAR))
  return out[..., None] if squeeze else out


def crop(image: np.ndarray, size: int, top: int, left: int) -> np.ndarray:
  return image[top:top + size, left:left + size]


def center_crop(image: np.ndarray, size: int) -> np.ndarray:
  h, w = image.shape[:2]
  return crop(image, size, (h - size) // 2, (w - size) // 2)


@dataclasses.dataclass
class TfdsSplit:
  """One split of a TFDS data set as a pipeline source: images as float32 NHWC, scaled to [0, 1]
  when ``scale``, minus ``mean_image`` when given; brought to ``image_size`` when set."""

  source: Any  # a tfds data source: len() and [i] -> {feature: value}
  image_key: str = "image"
  label_key: str = "label"
  scale: bool = True
  mean_image: np.ndarray | None = None
  image_size: int | None = None
  train_scale_range: tuple[int, int] | None = None  # random shorter side for training crops

  def __len__(self) -> int:
    return len(self.source)

  def fixed_size(self, image: np.ndarray, rng: np.random.Generator | None) -> np.ndarray:
    if self.image_size is None:
      return image
    if rng is not None and self.train_scale_range:
      lo, hi = self.train_scale_range
      image = resize_shorter_side(image, int(rng.integers(lo, hi + 1)))
      h, w = image.shape[:2]
      return crop(image, self.image_size, int(rng.integers(0, h - self.image_size + 1)),
                  int(rng.integers(0, w - self.image_size + 1)))
    return center_crop(resize_shorter_side(image, round(self.image_size * RESIZE_RATIO)), self.image_size)

  def raw_images(self, indices, rng: np.random.Generator | None = None) -> tuple[np.ndarray, np.ndarray]:
    records = [self.source[int(i)] for i in indices]
    try:
      images = [self.fixed_size(np.asarray(r[self.image_key]), rng) for r in records]
      labels = np.asarray([r[self.label_key] for r in records], dtype=np.int64)
    except KeyError as e:
      raise DataError(f"data.image_key/label_key: the records have no feature {e}; they have {sorted(records[0])}") from None
    shapes = {im.shape for im in images}
    if len(shapes) > 1:
      raise DataError(f"data.image_size: the images have different shapes {sorted(shapes)[:3]}; set data.image_size")
    images = np.stack(images).astype(np.float32)
    if self.scale:
      images /= UINT8_MAX
    return images, labels

  def get_batch(self, indices: np.ndarray, rng: np.random.Generator | None = None) -> tuple[np.ndarray, np.ndarray]:
    images, labels = self.raw_images(indices, rng)
    if self.mean_image is not None:
      images -= self.mean_image
    return images, labels

  @property
  def example_shape(self) -> tuple[int, ...]:
    return tuple(self.raw_images([0])[0].shape[1:])

  def compute_mean_image(self, count: int) -> np.ndarray:
    """The mean of the first ``count`` examples as evaluated (no random crops), decoded
    ``MEAN_CHUNK`` at a time and summed in float64."""
    total = None
    for lo in range(0, count, MEAN_CHUNK):
      images, _ = self.raw_images(range(lo, min(count, lo + MEAN_CHUNK)))
      part = images.sum(axis=0, dtype=np.float64)
      total = part if total is None else total + part
    return (total / count).astype(np.float32)

  def record_fingerprint(self, indices) -> str:
    """A hash of the raw images at ``indices``: tells one data set's files from another's."""
    return cache.fingerprint(*(np.asarray(self.source[int(i)][self.image_key]) for i in indices))


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
    image_size: int | None = None,
    train_scale_range: tuple[int, int] | None = None,
    cache_dir: str | None = None,
) -> ImageDataset:
  """A TFDS image-classification data set as an :class:`ImageDataset` of lazy splits.

  The mean image subtracted (the course's preprocessing) is computed on the first
  ``mean_examples`` training examples (evaluation-style crops) once, and cached in ``cache_dir``
  (default :func:`cs231n_jax.data.cache.default_cache_dir`; a ``gs://`` folder serves every host
  of a pod), keyed by the data set, version, split, preprocessing and a hash of the first and last
  records used.
  """
  try:
    import tensorflow_datasets as tfds
  except ImportError:
    raise DataError("data.name=tfds: tensorflow-datasets is not installed (pip install cs231n-jax[tfds])") from None
  if train_scale_range and (image_size is None or min(train_scale_range) < image_size):
    raise DataError(f"data.train_scale_range: needs data.image_size <= the range's lower end, got "
                    f"{train_scale_range} with image_size {image_size}")

  def source(split):
    try:
      return tfds.data_source(name, split=split, data_dir=data_dir)
    except Exception as e:  # tfds raises several types for a missing/unprepared data set
      raise DataError(f"data.tfds_name: cannot open {name!r} split {split!r} ({type(e).__name__}: {e})") from None

  sized = {"image_size": image_size}
  train = TfdsSplit(source(train_split), image_key, label_key, scale, train_scale_range=train_scale_range, **sized)
  info = train.source.dataset_info
  label_feature = info.features[label_key] if label_key in info.features else None
  num_classes = getattr(label_feature, "num_classes", None)
  if not num_classes:
    raise DataError(f"data.label_key: feature {label_key!r} of {name!r} is not a ClassLabel")
  mean = None
  if subtract_mean:
    count = min(len(train), mean_examples)
    key = {"source": "tfds", "name": name, "version": str(getattr(info, "version", "")), "split": train_split,
           "train_examples": len(train), "mean_examples": count, "image_key": image_key,
           "image_size": image_size, "scale": scale, "records": train.record_fingerprint({0, count - 1})}
    mean, _, _ = cache.cached_array("mean_image", key, lambda: train.compute_mean_image(count),
                                    [cache_dir or cache.default_cache_dir()])
    train.mean_image = mean
  splits = [TfdsSplit(source(s), image_key, label_key, scale, mean, **sized) for s in (val_split, test_split)]
  return ImageDataset(
      name=f"tfds/{name}",
      train=train,
      val=splits[0],
      test=splits[1],
      num_classes=int(num_classes),
      class_names=tuple(getattr(label_feature, "names", ()) or (str(i) for i in range(num_classes))),
      mean_image=mean,
  )
