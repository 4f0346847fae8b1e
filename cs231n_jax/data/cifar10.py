"""CIFAR-10 in the original ``cifar-10-batches-py`` layout (what the course's ``get_datasets.sh``
produces): five pickled training batches, one test batch and ``batches.meta``; each batch is a dict
with ``b'data'`` (N, 3072) uint8 in CHW row-major order and ``b'labels'``.

``fetch(dir)`` downloads the official tarball and checks its MD5 before unpacking.

The batch files are pickles, and a pickle can run code: they are read with
:mod:`cs231n_jax.safe_pickle`, which resolves only numpy's array reconstruction (plain dicts, lists,
bytes, str and int need nothing) and refuses any other global with a one-line error naming it.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tarfile
import tempfile
import urllib.request
from pathlib import Path

import numpy as np

from cs231n_jax import safe_pickle
from cs231n_jax.data import cache
from cs231n_jax.data.dataset import ImageDataset, Split, preprocess
from cs231n_jax.errors import DataError

URL = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
MD5 = "c58f30108f718f92721af3b95e74349a"
FOLDER = "cifar-10-batches-py"
TRAIN_FILES = tuple(f"data_batch_{i}" for i in range(1, 6))
TEST_FILE = "test_batch"
META_FILE = "batches.meta"
IMAGE_BYTES = 3 * 32 * 32


def find_folder(directory: str | os.PathLike) -> Path:
  """``directory`` itself or its ``cifar-10-batches-py`` child, whichever holds the batches."""
  d = Path(directory)
  if not d.is_dir():
    raise DataError(f"{d}: CIFAR-10 directory does not exist (run `cs231n-jax data fetch cifar10 --dir {d}`)")
  for cand in (d, d / FOLDER):
    if (cand / TEST_FILE).exists():
      return cand
  raise DataError(f"{d / FOLDER / TEST_FILE}: missing; expected the cifar-10-batches-py layout")


def read_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
  """One pickled batch → (N, 32, 32, 3) uint8 images and int32 labels."""
  if not path.exists():
    raise DataError(f"{path}: missing CIFAR-10 batch file")
  d = _unpickle(path)
  if not isinstance(d, dict) or b"data" not in d or b"labels" not in d:
    raise DataError(f"{path}: expected a dict with b'data' and b'labels'")
  data = np.asarray(d[b"data"])
  if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != IMAGE_BYTES:
    raise DataError(f"{path}: b'data' must be uint8 of shape (N, {IMAGE_BYTES}), got {data.dtype} {data.shape}")
  if data.shape[0] == 0:
    raise DataError(f"{path}: b'data' holds no images (shape {data.shape}); expected at least one")
  raw = d[b"labels"]
  if isinstance(raw, np.ndarray):
    ok = raw.dtype.kind in "iu"
  else:
    ok = isinstance(raw, (list, tuple)) and all(isinstance(x, (int, np.integer)) and not isinstance(x, bool) for x in raw)
  if not ok:
    if isinstance(raw, np.ndarray):
      kind = raw.dtype
    elif isinstance(raw, (list, tuple)):
      kind = next((type(x).__name__ for x in raw if not isinstance(x, (int, np.integer)) or isinstance(x, bool)), "?")
    else:
      kind = type(raw).__name__
    raise DataError(f"{path}: b'labels' must be integers in [0, 10), got {kind} values")
  labels = np.asarray(raw, dtype=np.int64)
  if labels.shape != (data.shape[0],) or labels.min() < 0 or labels.max() > 9:
    raise DataError(f"{path}: b'labels' must be {data.shape[0]} integers in [0, 10)")
  images = data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
  return images, labels.astype(np.int32)


def read_class_names(folder: Path) -> tuple[str, ...]:
  path = folder / META_FILE
  if not path.exists():
    raise DataError(f"{path}: missing CIFAR-10 metadata file")
  meta = _unpickle(path)
  names = meta.get(b"label_names") if isinstance(meta, dict) else None
  if not isinstance(names, (list, tuple)) or len(names) != 10 or not all(isinstance(n, (bytes, str)) for n in names):
    raise DataError(f"{path}: expected b'label_names' with 10 names")
  return tuple(n.decode(errors="replace") if isinstance(n, bytes) else n for n in names)


def _unpickle(path: Path):
  """A CIFAR-10 pickle through the restricted unpickler (numpy arrays, dicts, lists, bytes, str, int)."""
  try:
    with open(path, "rb") as f:
      return safe_pickle.load(f, safe_pickle.NUMPY, encoding="bytes", source=str(path))
  except safe_pickle.UnsafePickleError:
    raise
  except DataError as e:  # truncated or garbage: one line naming the file
    raise DataError(f"{path}: not a CIFAR-10 pickle ({str(e).split(': ', 1)[-1]})") from None
  except OSError as e:
    raise DataError(f"{path}: cannot read ({e.strerror})") from None


def load_cifar10(
    directory: str | os.PathLike,
    num_validation: int = 1000,
    num_test: int | None = None,
    scale: bool = True,
    subtract_mean: bool = True,
    cache_dir: str | os.PathLike | None = None,
) -> ImageDataset:
  """CIFAR-10 as the course splits it: the last ``num_validation`` training images are the
  validation set (49,000 / 1,000 by default); ``num_test=None`` keeps all 10,000 test images.

  The training mean image is computed once and cached next to the batch files (or in
  ``cache_dir``, by default :func:`cs231n_jax.data.cache.default_cache_dir`, when that folder
  cannot be written), keyed by the files, the split and the scaling."""
  folder = find_folder(directory)
  parts = [read_batch(folder / name) for name in TRAIN_FILES]
  x = np.concatenate([p[0] for p in parts])
  y = np.concatenate([p[1] for p in parts])
  x_test, y_test = read_batch(folder / TEST_FILE)
  if not 0 < num_validation < len(x):
    raise DataError(f"data.num_validation: expected 0 < n < {len(x)}, got {num_validation}")
  if num_test is not None:
    x_test, y_test = x_test[:num_test], y_test[:num_test]
  x = x.astype(np.float32) / (255.0 if scale else 1.0)
  x_test = x_test.astype(np.float32) / (255.0 if scale else 1.0)
  n_train = len(x) - num_validation
  mean = None
  if subtract_mean:
    key = {"source": "cifar10", "files": cache.files_fingerprint([folder / name for name in TRAIN_FILES]),
           "train_examples": n_train, "scale": scale}
    mean, _, _ = cache.cached_array("mean_image", key, lambda: x[:n_train].mean(axis=0),
                                    [folder, cache_dir or cache.default_cache_dir()])
  x_train, (x_val, x_test), mean = preprocess(x[:n_train], [x[n_train:], x_test], subtract_mean, mean)
  return ImageDataset(
      name="cifar10",
      train=Split(x_train, y[:n_train]),
      val=Split(x_val, y[n_train:]),
      test=Split(x_test, y_test),
      num_classes=10,
      class_names=read_class_names(folder),
      mean_image=mean,
  )


def md5sum(path: Path) -> str:
  h = hashlib.md5()
  with open(path, "rb") as f:
    for chunk in iter(lambda: f.read(1 << 20), b""):
      h.update(chunk)
  return h.hexdigest()


def fetch(directory: str | os.PathLike, url: str = URL, md5: str = MD5) -> Path:
  """Download the tarball into ``directory``, verify its MD5, unpack it; returns the batch folder.

  A bad checksum leaves nothing unpacked and names the file. Already-present data is kept.
  """
  d = Path(directory)
  if (d / FOLDER / TEST_FILE).exists():
    return d / FOLDER
  d.mkdir(parents=True, exist_ok=True)
  with tempfile.TemporaryDirectory(dir=d) as tmp:
    tarball = Path(tmp) / Path(url).name
    try:
      with urllib.request.urlopen(url) as r, open(tarball, "wb") as f:
        shutil.copyfileobj(r, f)
    except OSError as e:
      raise DataError(f"{url}: download failed ({e})") from None
    got = md5sum(tarball)
    if got != md5:
      raise DataError(f"{tarball.name}: MD5 {got} does not match the expected {md5}")
    try:
      with tarfile.open(tarball, "r:gz") as tf:
        tf.extractall(tmp, filter="data")
    except (tarfile.TarError, OSError) as e:
      raise DataError(f"{tarball.name}: cannot unpack ({e})") from None
    unpacked = Path(tmp) / FOLDER
    if not (unpacked / TEST_FILE).exists():
      raise DataError(f"{tarball.name}: does not contain {FOLDER}/{TEST_FILE}")
    unpacked.rename(d / FOLDER)
  return d / FOLDER
