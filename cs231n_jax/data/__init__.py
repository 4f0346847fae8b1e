"""Where examples come from (sources) and how they become global batches (pipeline)."""

from __future__ import annotations

from typing import Any, Mapping

from cs231n_jax.data.dataset import ImageDataset, Split
from cs231n_jax.errors import DataError

SOURCES = ("digits", "cifar10", "tfds")


def load_dataset(data_config: Mapping[str, Any]) -> ImageDataset:
  """The image-classification data set a config's ``data`` block names.

  ``data.name``: ``"digits"`` (embedded; ``data.view`` ``"8x8x1"`` or ``"32x32x3"``) or
  ``"cifar10"`` (``data.dir`` holds ``cifar-10-batches-py``). ``data.scale`` and
  ``data.subtract_mean`` select the course's preprocessing. ``"tfds"`` reads ``data.tfds_name``
  through ``tfds.data_source`` (splits ``data.train_split`` / ``val_split`` / ``test_split``).
  """
  name = data_config.get("name", "digits")
  scale = data_config.get("scale", True)
  subtract_mean = data_config.get("subtract_mean", True)
  if name == "digits":
    from cs231n_jax.data.digits import load_digits

    return load_digits(data_config.get("view", "8x8x1"), scale=scale, subtract_mean=subtract_mean)
  if name == "cifar10":
    from cs231n_jax.data.cifar10 import load_cifar10

    directory = data_config.get("dir")
    if not directory:
      raise DataError("data.dir: cifar10 needs the directory that holds cifar-10-batches-py")
    return load_cifar10(
        directory,
        num_validation=data_config.get("num_validation", 1000),
        num_test=data_config.get("num_test"),
        scale=scale,
        subtract_mean=subtract_mean,
    )
  if name == "tfds":
    from cs231n_jax.data.tfds_source import load_tfds

    if not data_config.get("tfds_name"):
      raise DataError("data.tfds_name: name the TFDS data set, e.g. 'cifar10'")
    return load_tfds(
        data_config["tfds_name"],
        train_split=data_config.get("train_split", "train[:90%]"),
        val_split=data_config.get("val_split", "train[90%:]"),
        test_split=data_config.get("test_split", "test"),
        data_dir=data_config.get("dir"),
        scale=scale,
        subtract_mean=subtract_mean,
    )
  raise DataError(f"data.name: expected one of {SOURCES}, got {name!r}")


__all__ = ["ImageDataset", "Split", "load_dataset", "SOURCES"]
