"""The TFDS adapter over ``tfds.data_source`` (no TensorFlow), with ``tfds.testing.mock_data``."""

import numpy as np
import pytest
import tensorflow_datasets as tfds

from cs231n_jax.data import load_dataset
from cs231n_jax.data.pipeline import BatchIterator
from cs231n_jax.errors import DataError


def test_mock_cifar10_through_the_pipeline():
  with tfds.testing.mock_data(num_examples=12):
    ds = load_dataset({"name": "tfds", "tfds_name": "cifar10", "train_split": "train", "val_split": "test",
                       "test_split": "test"})
    assert ds.num_classes == 10 and ds.image_shape == (32, 32, 3)
    assert len(ds.class_names) == 10  # the mock metadata names classes "0".."9"
    it = BatchIterator(ds.train, 4, ds.num_classes, image_shape=ds.image_shape)
    batch = next(it)
    assert batch["image"].shape == (4, 32, 32, 3) and batch["image"].dtype == np.float32
    # Scaled to [0, 1] then the training mean image subtracted.
    raw, _ = ds.train.raw_images(range(len(ds.train)))
    np.testing.assert_allclose(raw.mean(axis=0), ds.mean_image, atol=1e-6)
    assert raw.min() >= 0.0 and raw.max() <= 1.0
    assert set(batch["label"]) <= set(range(10))


def test_missing_name_and_feature_errors():
  with pytest.raises(DataError, match="data.tfds_name"):
    load_dataset({"name": "tfds"})
  with tfds.testing.mock_data(num_examples=4):
    with pytest.raises(DataError, match="data.label_key"):
      from cs231n_jax.data.tfds_source import load_tfds

      load_tfds("mnist", train_split="train", val_split="test", label_key="nope")


def test_variable_size_images_are_resized_and_cropped_deterministically():
  from cs231n_jax.data.tfds_source import TfdsSplit, resize_shorter_side

  rng = np.random.default_rng(0)
  images = [rng.integers(0, 256, size=s, dtype=np.uint8) for s in ((300, 400, 3), (260, 260, 3), (500, 280, 3))]
  source = [{"image": im, "label": i} for i, im in enumerate(images)]
  split = TfdsSplit(source, image_size=224, train_scale_range=(256, 320))
  evaluated, labels = split.get_batch(np.arange(3))
  assert evaluated.shape == (3, 224, 224, 3) and list(labels) == [0, 1, 2]
  # Evaluation: shorter side to 256 (224 * 256/224), then the centre crop.
  resized = resize_shorter_side(images[0], 256)
  assert resized.shape[:2] == (256, 341)
  np.testing.assert_allclose(evaluated[0], resized[16:240, 58:282] / 255.0)
  a, _ = split.get_batch(np.arange(3), np.random.default_rng([1, 2]))
  b, _ = split.get_batch(np.arange(3), np.random.default_rng([1, 2]))
  c, _ = split.get_batch(np.arange(3), np.random.default_rng([1, 3]))
  assert a.shape == (3, 224, 224, 3)
  np.testing.assert_array_equal(a, b)
  assert not np.array_equal(a, c)
  with pytest.raises(DataError, match="data.image_size: the images have different shapes"):
    TfdsSplit(source).get_batch(np.arange(3))
