"""The view pipeline on colour data: crops of scikit-image's photos and CIFAR-10 through the cifar10 loader
(on files in the true format, written by tests/data/test_cifar10.py's writer), each a tiny SimCLR run through
the engine."""

import importlib.util
import json
import pathlib

import numpy as np
import pytest

from cs231n_jax.config import load_config
from cs231n_jax.errors import ConfigError, DataError
from cs231n_jax.ssl import photos
from cs231n_jax.tasks import contrastive
from cs231n_jax.train import loop

CONFIG = "experiments/configs/ssl/simclr_color.py"


def cifar_writer():
  path = pathlib.Path(__file__).resolve().parents[1] / "data" / "test_cifar10.py"
  spec = importlib.util.spec_from_file_location("_cifar10_writer", path)
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module


def tiny(c):
  c.model.encoder_kwargs = {"channels": (8, 16), "strides": (2, 2), "features": 32}
  c.model.update({"projection_hidden": 32, "projection_dim": 16})
  c.train.update({"batch_size": 16, "num_steps": 4, "log_every": 2, "progress": False})
  return c


def losses(workdir):
  rows = [json.loads(line) for line in (workdir / "metrics.jsonl").read_text().splitlines()]
  return [r["loss"] for r in rows if "loss" in r]


def test_photo_crops_lie_in_their_band_and_bad_bands_are_named():
  from skimage import data
  from skimage.transform import rescale

  image = rescale(data.astronaut().astype(np.float32) / 255.0, 0.25, channel_axis=-1, anti_aliasing=True)  # 128x128
  crops = photos.photo_crops(("astronaut",), 3, 8, 0.25, 0, rows=(0.5, 1.0))
  windows = np.lib.stride_tricks.sliding_window_view(image, (8, 8, 3))[:, :, 0]  # (121, 121, 8, 8, 3)
  for crop in crops:
    err = np.abs(windows - crop).max(axis=(2, 3, 4))
    y, x = np.unravel_index(np.argmin(err), err.shape)
    assert err[y, x] < 1e-6 and y >= 64  # an exact window of the photo, inside the bottom half
  with pytest.raises(ConfigError, match="train_rows / test_rows: expected \\(top, bottom\\)"):
    photos.photo_crops(("astronaut",), 2, 8, 0.25, 0, rows=(0.6, 0.4))
  with pytest.raises(ConfigError, match="data.split: expected a fraction"):
    photos.photo_dataset({"split": 1.0})


def test_simclr_on_photo_crops_through_the_engine(tmp_path):
  c = tiny(load_config(f"{CONFIG}:photos"))
  c.data.update({"photos": ("astronaut", "coffee", "rocket"), "crop": 16, "train_crops": 48, "test_crops": 15})
  task, data, _, dataset = contrastive.build(c, with_probe=False)  # the probe itself: tests/tasks/test_contrastive.py
  assert dataset.image_shape == (16, 16, 3) and dataset.num_classes == 3
  # The labels (for a probe) are the photos; training and test crops come from each photo's two halves.
  np.testing.assert_array_equal(np.bincount(dataset.train.labels), [16, 16, 16])
  np.testing.assert_array_equal(np.bincount(dataset.test.labels), [5, 5, 5])
  loop.fit(task, data, c, str(tmp_path))
  assert np.all(np.isfinite(losses(tmp_path))) and len(losses(tmp_path)) == 2


def test_simclr_on_cifar10_files_through_the_loader(tmp_path):
  cifar_writer().make_cifar_folder(tmp_path / "cifar")
  c = tiny(load_config(f"{CONFIG}:cifar10"))
  c.data.update({"dir": str(tmp_path / "cifar"), "num_validation": 6})
  task, data, _, dataset = contrastive.build(c, with_probe=False)
  assert dataset.name == "cifar10" and dataset.image_shape == (32, 32, 3) and len(dataset.train) == 24
  loop.fit(task, data, c, str(tmp_path / "run"))
  assert np.all(np.isfinite(losses(tmp_path / "run"))) and len(losses(tmp_path / "run")) == 2


def test_cifar10_without_a_directory_is_named():
  c = load_config(f"{CONFIG}:cifar10")
  with pytest.raises(DataError, match="data.dir: cifar10 needs the directory"):
    contrastive.build(c)
