"""Crops of scikit-image's RGB photos (``skimage.data``, shipped with the package: no download) as
self-supervised data: colourisation's inputs, and a labelled data set for the contrastive methods
(:func:`photo_dataset`: the label of a crop is the photo it came from; training and test crops from
disjoint bands of each photo)."""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np

from cs231n_jax.data.dataset import ImageDataset, Split
from cs231n_jax.errors import ConfigError

# scikit-image's RGB photos: colourisation's training and held-out photos by default.
TRAIN_PHOTOS = ("astronaut", "chelsea", "coffee", "rocket")
TEST_PHOTOS = ("hubble_deep_field", "immunohistochemistry")
DATA_NAME = "skimage_photos"


def photo_crops(names: Sequence[str], count: int, size: int, scale: float, seed: int,
                rows: Sequence[float] = (0.0, 1.0)) -> np.ndarray:
  """``count`` random ``size`` x ``size`` crops, spread evenly over scikit-image photos ``names``, each
  photo shrunk by ``scale`` first, the crops lying inside the band ``rows`` = (top, bottom) of each photo's
  height (fractions; (0, 1) = anywhere; a (0, 0.5) / (0.5, 1) pair gives disjoint training and held-out
  regions of the same photos). float32 RGB in [0, 1]."""
  from skimage import data
  from skimage.transform import rescale

  if not names:
    raise ConfigError("colorization.train_photos / test_photos: expected at least one skimage photo name")
  top, bottom = (float(r) for r in rows)
  if not 0.0 <= top < bottom <= 1.0:
    raise ConfigError(f"colorization.train_rows / test_rows: expected (top, bottom) with 0 <= top < bottom <= 1, got {tuple(rows)!r}")
  rng = np.random.default_rng(seed)
  out = []
  for i, name in enumerate(names):
    loader = getattr(data, name, None)
    if not callable(loader):
      raise ConfigError(f"colorization photos: skimage has no photo {name!r}")
    image = np.asarray(loader())
    if image.ndim != 3 or image.shape[-1] not in (3, 4):
      raise ConfigError(f"colorization photos: skimage photo {name!r} is not RGB (shape {image.shape})")
    image = rescale(image[..., :3].astype(np.float32) / 255.0, scale, channel_axis=-1, anti_aliasing=True)
    h, w, _ = image.shape
    y0, y1 = int(round(top * h)), int(round(bottom * h))
    if y1 - y0 < size or w < size:
      raise ConfigError(f"colorization.scale / rows: {name} shrunk to {h}x{w}, rows {y0}..{y1}, is smaller than a "
                        f"{size}x{size} crop")
    n = count // len(names) + (i < count % len(names))
    ys, xs = rng.integers(y0, y1 - size + 1, n), rng.integers(0, w - size + 1, n)
    out += [image[y:y + size, x:x + size] for y, x in zip(ys, xs)]
  return np.clip(np.stack(out), 0, 1).astype(np.float32)



def crops_per_photo(count: int, photos: int) -> np.ndarray:
  """How :func:`photo_crops` spreads ``count`` crops over ``photos`` photos (in order)."""
  return np.array([count // photos + (i < count % photos) for i in range(photos)])


def photo_dataset(data: Mapping[str, Any], seed: int = 0) -> ImageDataset:
  """``data.name == "skimage_photos"``: ``data.train_crops`` crops of the top ``data.split`` of each of
  ``data.photos`` (at ``data.scale``, ``data.crop`` pixels square) for training, ``data.test_crops`` of
  the rest for the test split (val = test); the label is the photo's index."""
  photos = tuple(data.get("photos", TRAIN_PHOTOS))
  crop, scale, split = int(data.get("crop", 32)), float(data.get("scale", 0.25)), float(data.get("split", 0.5))
  n_train, n_test = int(data.get("train_crops", 1000)), int(data.get("test_crops", 200))
  if not 0 < split < 1:
    raise ConfigError(f"data.split: expected a fraction of each photo's height in (0, 1), got {split!r}")
  train = Split(photo_crops(photos, n_train, crop, scale, seed, (0.0, split)),
                np.repeat(np.arange(len(photos)), crops_per_photo(n_train, len(photos))).astype(np.int32))
  test = Split(photo_crops(photos, n_test, crop, scale, seed + 1, (split, 1.0)),
               np.repeat(np.arange(len(photos)), crops_per_photo(n_test, len(photos))).astype(np.int32))
  return ImageDataset(name=DATA_NAME, train=train, val=test, test=test, num_classes=len(photos), class_names=photos,
                      mean_image=None)
