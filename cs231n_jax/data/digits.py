"""scikit-learn's bundled ``load_digits``: 1,797 real 8x8 handwritten digits, 10 classes, offline.

The split is deterministic and stratified: 20% test (360), then 180 validation images, leaving 1,257
for training (scikit-learn's logistic regression on scaled pixels reaches 96.67% test accuracy on
it). Two views:

- ``"8x8x1"``: the images as they are;
- ``"32x32x3"``: "CIFAR-shaped" — bilinearly upsampled to 32x32 and the grey channel repeated
  three times, so every CIFAR-10 config runs unchanged on embedded data.
"""

from __future__ import annotations

import numpy as np

from cs231n_jax.data.dataset import ImageDataset, Split, preprocess
from cs231n_jax.errors import DataError

VIEWS = ("8x8x1", "32x32x3")
NUM_TEST = 0.2
NUM_VAL = 180
SPLIT_SEED = 0
MAX_INTENSITY = 16.0  # the digits' pixels are integers 0..16


def raw_digits() -> tuple[np.ndarray, np.ndarray]:
  """All 1,797 digits as (N, 8, 8) float32 in 0..16 and int32 labels."""
  from sklearn.datasets import load_digits as sk_load_digits

  d = sk_load_digits()
  return d.images.astype(np.float32), d.target.astype(np.int32)


def split_indices() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
  """Indices of the stratified train / val / test split (fixed seed)."""
  from sklearn.model_selection import train_test_split

  _, labels = raw_digits()
  idx = np.arange(len(labels))
  trainval, test = train_test_split(idx, test_size=NUM_TEST, stratify=labels, random_state=SPLIT_SEED)
  train, val = train_test_split(
      trainval, test_size=NUM_VAL, stratify=labels[trainval], random_state=SPLIT_SEED
  )
  return train, val, test


def to_view(images: np.ndarray, view: str) -> np.ndarray:
  """(N, 8, 8) images to the NHWC ``view``."""
  if view == "8x8x1":
    return images[..., None]
  if view == "32x32x3":
    from skimage.transform import resize

    up = resize(images, (images.shape[0], 32, 32), order=1, mode="edge", anti_aliasing=False)
    return np.repeat(up[..., None], 3, axis=-1).astype(np.float32)
  raise DataError(f"data.view: expected one of {VIEWS}, got {view!r}")


def load_digits(view: str = "8x8x1", scale: bool = True, subtract_mean: bool = True) -> ImageDataset:
  """The digits data set in ``view``; ``scale`` maps 0..16 to [0, 1] before mean subtraction."""
  if view not in VIEWS:
    raise DataError(f"data.view: expected one of {VIEWS}, got {view!r}")
  images, labels = raw_digits()
  if scale:
    images = images / MAX_INTENSITY
  images = to_view(images, view)
  tr, va, te = split_indices()
  x_train, (x_val, x_test), mean = preprocess(images[tr], [images[va], images[te]], subtract_mean)
  return ImageDataset(
      name=f"digits/{view}",
      train=Split(x_train, labels[tr]),
      val=Split(x_val, labels[va]),
      test=Split(x_test, labels[te]),
      num_classes=10,
      class_names=tuple(str(i) for i in range(10)),
      mean_image=mean,
  )
