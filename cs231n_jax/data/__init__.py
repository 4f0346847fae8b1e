"""Where examples come from (sources) and how they become global batches (pipeline)."""

from __future__ import annotations

import dataclasses
from typing import Any, Mapping

import numpy as np

from cs231n_jax.data.dataset import ImageDataset, Split
from cs231n_jax.errors import DataError

SOURCES = ("digits", "cifar10", "tfds")


def load_dataset(data_config: Mapping[str, Any]) -> ImageDataset:
  """The data set ``data_config`` names, then the optional class / size selections:

  ``data.classes`` (a tuple of labels: keep only those, renumbered 0..k-1 in the order given, in
  every split) and ``data.train_per_class`` (keep a seeded random ``k`` training examples of each
  class, seed ``data.subset_seed``) — for transfer learning and small-data studies. The mean image
  is still the full training set's.

  ``data.train_on_val``: the final fit after model selection. Once the hyperparameters have been
  chosen on the validation split, train on train + val with them and report the test split once.
  The validation metrics of such a run measure training data, so they cannot select a state.
  """
  dataset = load_source(data_config)
  classes = data_config.get("classes") or ()
  if classes:
    dataset = select_classes(dataset, tuple(classes))
  if data_config.get("train_on_val", False):
    dataset = merge_val_into_train(dataset)
  per_class = data_config.get("train_per_class") or 0
  if per_class:
    dataset = dataclasses.replace(
        dataset, train=subsample_per_class(dataset.train, per_class, data_config.get("subset_seed", 0)))
  return dataset


def in_memory(split, field: str) -> Split:
  if not isinstance(split, Split):
    raise DataError(f"data.{field}: needs an in-memory data set (digits, cifar10), not {type(split).__name__}")
  return split


def select_classes(dataset: ImageDataset, classes: tuple[int, ...]) -> ImageDataset:
  """Only the examples of ``classes``, relabelled by their position in ``classes``."""
  bad = [c for c in classes if not 0 <= c < dataset.num_classes]
  if bad or len(set(classes)) != len(classes):
    raise DataError(f"data.classes: expected distinct labels in [0, {dataset.num_classes}), got {tuple(classes)}")
  relabel = np.full(dataset.num_classes, -1, np.int32)
  relabel[list(classes)] = np.arange(len(classes))

  def keep(split):
    split = in_memory(split, "classes")
    mask = relabel[split.labels] >= 0
    return Split(split.images[mask], relabel[split.labels[mask]])

  return dataclasses.replace(
      dataset, train=keep(dataset.train), val=keep(dataset.val), test=keep(dataset.test),
      num_classes=len(classes), class_names=tuple(dataset.class_names[c] for c in classes),
      name=f"{dataset.name}[classes={','.join(map(str, classes))}]")


def merge_val_into_train(dataset: ImageDataset) -> ImageDataset:
  """The training split extended by the validation split (the validation split itself is kept)."""
  train, val = in_memory(dataset.train, "train_on_val"), in_memory(dataset.val, "train_on_val")
  return dataclasses.replace(dataset, train=Split(np.concatenate([train.images, val.images]),
                                                  np.concatenate([train.labels, val.labels])))


def subsample_per_class(split, per_class: int, seed: int) -> Split:
  """``per_class`` examples of every class, drawn without replacement with ``seed``."""
  split = in_memory(split, "train_per_class")
  rng = np.random.default_rng(seed)
  picks = []
  for c in np.unique(split.labels):
    idx = np.flatnonzero(split.labels == c)
    if len(idx) < per_class:
      raise DataError(f"data.train_per_class: class {c} has only {len(idx)} training examples, asked for {per_class}")
    picks.append(rng.choice(idx, per_class, replace=False))
  idx = np.sort(np.concatenate(picks))
  return Split(split.images[idx], split.labels[idx])


def load_source(data_config: Mapping[str, Any]) -> ImageDataset:
  """The image-classification data set a config's ``data`` block names.

  ``data.name``: ``"digits"`` (embedded; ``data.view`` ``"8x8x1"`` or ``"32x32x3"``) or
  ``"cifar10"`` (``data.dir`` holds ``cifar-10-batches-py``). ``data.scale`` and
  ``data.subtract_mean`` select the course's preprocessing. ``"tfds"`` reads ``data.tfds_name``
  through ``tfds.data_source`` (splits ``data.train_split`` / ``val_split`` / ``test_split``).
  ``data.cache_dir`` is where the training mean image is cached (:mod:`cs231n_jax.data.cache`).
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
        cache_dir=data_config.get("cache_dir") or None,
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
        image_size=data_config.get("image_size") or None,
        train_scale_range=tuple(data_config.get("train_scale_range") or ()) or None,
        cache_dir=data_config.get("cache_dir") or None,
    )
  raise DataError(f"data.name: expected one of {SOURCES}, got {name!r}")


__all__ = ["ImageDataset", "Split", "load_dataset", "SOURCES"]
