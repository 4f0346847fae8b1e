"""The CIFAR-10 reader and fetcher, on a small tarball in exactly the official layout."""

import hashlib
import pickle
import tarfile

import numpy as np
import pytest

from cs231n_jax.cli import main
from cs231n_jax.data import cifar10, load_dataset
from cs231n_jax.errors import DataError

PER_BATCH = 6


def write_batch(path, rng, n=PER_BATCH):
  data = rng.integers(0, 256, size=(n, 3072), dtype=np.uint8)
  labels = [int(x) for x in rng.integers(0, 10, size=n)]
  with open(path, "wb") as f:
    pickle.dump({b"batch_label": b"fake", b"labels": labels, b"data": data,
                 b"filenames": [b"x.png"] * n}, f, protocol=2)
  return data, labels


def make_cifar_folder(root):
  """``root/cifar-10-batches-py`` with 5 training batches, a test batch and the metadata."""
  folder = root / cifar10.FOLDER
  folder.mkdir(parents=True)
  rng = np.random.default_rng(0)
  parts = [write_batch(folder / name, rng) for name in cifar10.TRAIN_FILES]
  test = write_batch(folder / cifar10.TEST_FILE, rng)
  names = [b"airplane", b"automobile", b"bird", b"cat", b"deer", b"dog", b"frog", b"horse", b"ship", b"truck"]
  with open(folder / cifar10.META_FILE, "wb") as f:
    pickle.dump({b"label_names": names, b"num_cases_per_batch": PER_BATCH, b"num_vis": 3072}, f, protocol=2)
  return folder, parts, test


def make_tarball(tmp_path):
  src = tmp_path / "src"
  folder, parts, test = make_cifar_folder(src)
  tarball = tmp_path / "cifar-10-python.tar.gz"
  with tarfile.open(tarball, "w:gz") as tf:
    tf.add(folder, arcname=cifar10.FOLDER)
  return tarball, hashlib.md5(tarball.read_bytes()).hexdigest(), parts, test


def test_reads_the_pickle_layout(tmp_path):
  _, parts, test = make_cifar_folder(tmp_path)
  ds = cifar10.load_cifar10(tmp_path, num_validation=5, scale=False, subtract_mean=False)
  assert len(ds.train) == 5 * PER_BATCH - 5 and len(ds.val) == 5 and len(ds.test) == PER_BATCH
  assert ds.image_shape == (32, 32, 3) and ds.class_names[3] == "cat"
  # Row-major CHW bytes: red plane first. Pixel (row 1, col 2) of image 0, green channel:
  first = parts[0][0][0]
  assert ds.train.images[0, 1, 2, 1] == first[1024 + 1 * 32 + 2]
  np.testing.assert_array_equal(ds.train.labels[:PER_BATCH], parts[0][1])
  np.testing.assert_array_equal(ds.test.labels, test[1])
  # The last num_validation training images are the validation set, as in the course.
  np.testing.assert_array_equal(ds.val.labels, parts[4][1][-5:])


def test_preprocessing_and_load_dataset(tmp_path):
  make_cifar_folder(tmp_path)
  ds = load_dataset({"name": "cifar10", "dir": str(tmp_path), "num_validation": 5})
  np.testing.assert_allclose(ds.train.images.mean(axis=0), 0.0, atol=1e-6)
  assert np.abs(ds.test.images).max() <= 1.0


def test_fetch_verifies_checksum_and_unpacks(tmp_path):
  tarball, md5, parts, _ = make_tarball(tmp_path)
  out = tmp_path / "data"
  folder = cifar10.fetch(out, url=tarball.as_uri(), md5=md5)
  assert folder == out / cifar10.FOLDER
  ds = cifar10.load_cifar10(out, num_validation=5)
  assert len(ds.test) == PER_BATCH


def test_fetch_bad_checksum_names_the_file_and_unpacks_nothing(tmp_path):
  tarball, _, _, _ = make_tarball(tmp_path)
  out = tmp_path / "data"
  with pytest.raises(DataError, match=r"cifar-10-python.tar.gz: MD5 .* does not match"):
    cifar10.fetch(out, url=tarball.as_uri(), md5="0" * 32)
  assert not (out / cifar10.FOLDER).exists() and list(out.iterdir()) == []


def test_cli_fetch(tmp_path, capsys):
  tarball, md5, _, _ = make_tarball(tmp_path)
  assert main(["data", "fetch", "cifar10", "--dir", str(tmp_path / "d"), "--url", tarball.as_uri(), "--md5", md5]) == 0
  assert main(["data", "fetch", "cifar10", "--dir", str(tmp_path / "e"), "--url", tarball.as_uri(), "--md5", "f" * 32]) == 2
  err = capsys.readouterr().err.strip().splitlines()
  assert len(err) == 1 and "cifar-10-python.tar.gz" in err[0]


def test_missing_directory(tmp_path):
  with pytest.raises(DataError, match=str(tmp_path / "nowhere")):
    cifar10.load_cifar10(tmp_path / "nowhere")


def test_missing_batch_file_is_named(tmp_path):
  folder, _, _ = make_cifar_folder(tmp_path)
  (folder / "data_batch_3").unlink()
  with pytest.raises(DataError, match="data_batch_3"):
    cifar10.load_cifar10(tmp_path)


def test_garbage_file_is_named(tmp_path):
  folder, _, _ = make_cifar_folder(tmp_path)
  (folder / "data_batch_2").write_bytes(b"not a pickle at all")
  with pytest.raises(DataError, match="data_batch_2: not a CIFAR-10 pickle"):
    cifar10.load_cifar10(tmp_path)


def test_wrong_array_shape_is_named(tmp_path):
  folder, _, _ = make_cifar_folder(tmp_path)
  with open(folder / "test_batch", "wb") as f:
    pickle.dump({b"data": np.zeros((4, 100), np.uint8), b"labels": [0, 1, 2, 3]}, f)
  with pytest.raises(DataError, match=r"test_batch: b'data' must be uint8 of shape \(N, 3072\)"):
    cifar10.load_cifar10(tmp_path)


def test_bad_labels_are_named(tmp_path):
  folder, _, _ = make_cifar_folder(tmp_path)
  with open(folder / "data_batch_1", "wb") as f:
    pickle.dump({b"data": np.zeros((2, 3072), np.uint8), b"labels": [0, 12]}, f)
  with pytest.raises(DataError, match="data_batch_1: b'labels'"):
    cifar10.load_cifar10(tmp_path)
