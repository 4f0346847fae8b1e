"""The mean image of a data set is computed once and cached: a second load reads it (it never
recomputes), a change of the data or of the preprocessing makes a new entry, and a folder that
cannot be written falls through to the next one."""

import os
import pickle

import numpy as np
import pytest
import tensorflow_datasets as tfds

from cs231n_jax.data import cache, cifar10
from cs231n_jax.data.tfds_source import TfdsSplit, load_tfds


def write_cifar(folder, seed=0, per_batch=4):
  folder.mkdir(parents=True, exist_ok=True)
  rng = np.random.default_rng(seed)
  for name in (*cifar10.TRAIN_FILES, cifar10.TEST_FILE):
    with open(folder / name, "wb") as f:
      pickle.dump({b"data": rng.integers(0, 256, (per_batch, 3072), dtype=np.uint8),
                   b"labels": [int(x) for x in rng.integers(0, 10, per_batch)]}, f)
  with open(folder / cifar10.META_FILE, "wb") as f:
    pickle.dump({b"label_names": [b"c%d" % i for i in range(10)]}, f)


def cached_files(folder):
  return sorted(p.name for p in folder.iterdir() if p.name.startswith("mean_image-") and p.suffix == ".npy")


def test_cifar_mean_is_cached_next_to_the_data_and_read_back(tmp_path):
  folder = tmp_path / cifar10.FOLDER
  write_cifar(folder)
  first = cifar10.load_cifar10(tmp_path, num_validation=4, cache_dir=tmp_path / "unused")
  (name,) = cached_files(folder)
  assert not (tmp_path / "unused").exists()
  np.testing.assert_array_equal(np.load(folder / name), first.mean_image)
  # The second load reads the file: replace its contents and the data set follows.
  np.save(folder / name, np.full_like(first.mean_image, 0.25))
  second = cifar10.load_cifar10(tmp_path, num_validation=4)
  np.testing.assert_array_equal(second.mean_image, 0.25)
  # Other preprocessing or other data: a new entry, computed from the data.
  cifar10.load_cifar10(tmp_path, num_validation=8)
  assert len(cached_files(folder)) == 2
  write_cifar(folder, seed=1)
  os.utime(folder / cifar10.TRAIN_FILES[0], ns=(1, 1))
  third = cifar10.load_cifar10(tmp_path, num_validation=4)
  assert len(cached_files(folder)) == 3
  assert not np.allclose(third.mean_image, 0.25)


def test_tfds_mean_is_computed_once_per_key(tmp_path, monkeypatch):
  with tfds.testing.mock_data(num_examples=12):
    first = load_tfds("cifar10", train_split="train", val_split="test", cache_dir=str(tmp_path))
    (name,) = cached_files(tmp_path)
    assert (tmp_path / name).with_suffix(".json").exists()  # the key, for people
    raw, _ = first.train.raw_images(range(12))
    np.testing.assert_allclose(first.mean_image, raw.mean(axis=0), atol=1e-6)

    def no_recompute(self, count):
      raise AssertionError("the mean image was recomputed")

    monkeypatch.setattr(TfdsSplit, "compute_mean_image", no_recompute)
    second = load_tfds("cifar10", train_split="train", val_split="test", cache_dir=str(tmp_path))
    np.testing.assert_array_equal(second.mean_image, first.mean_image)
    np.testing.assert_array_equal(second.val.mean_image, first.mean_image)  # subtracted everywhere
    with pytest.raises(AssertionError, match="recomputed"):  # another key: fewer examples
      load_tfds("cifar10", train_split="train", val_split="test", cache_dir=str(tmp_path), mean_examples=5)


def test_unwritable_folder_falls_through_and_a_broken_file_is_recomputed(tmp_path):
  read_only = tmp_path / "ro"
  read_only.mkdir()
  read_only.chmod(0o500)
  calls = []

  def compute():
    calls.append(1)
    return np.arange(3.0)

  try:
    array, path, computed = cache.cached_array("mean_image", {"k": 1}, compute, [read_only, tmp_path / "rw"])
  finally:
    read_only.chmod(0o700)
  if os.geteuid() != 0:  # root writes anywhere
    assert path.parent == tmp_path / "rw"
  assert computed and calls == [1]
  again, _, computed = cache.cached_array("mean_image", {"k": 1}, compute, [tmp_path / "rw", read_only])
  assert not computed and calls == [1]
  np.testing.assert_array_equal(again, array)
  path.write_bytes(b"half a file")
  _, _, computed = cache.cached_array("mean_image", {"k": 1}, compute, [path.parent])
  assert computed and calls == [1, 1]
