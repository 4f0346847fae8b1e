"""Captioning data in one shape, whatever its source: inputs per image, encoded captions per
caption, the image each caption belongs to, and every image's reference captions.

Sources (``data.name``):

* ``"scenes"``: the project's synthetic captioned scenes (:mod:`scenes`), images (N, H, W, 3).
* ``"coco"``: the course's COCO captioning files in ``data.dir`` (:mod:`coco`): features (N, D)
  (VGG-16 fc7, PCA'd to 512 with ``pca_features``), captions already encoded with the course's
  vocabulary; the course has train and val only, so val is split in half into val and test.

Inputs are whatever the captioner's encoder takes: images are encoded by the CNN inside the
model, feature vectors are used as they are (the course's set-up).
"""

from __future__ import annotations

import dataclasses
from typing import Any, Mapping

import numpy as np

from cs231n_jax.captioning.coco import CAPTION_FILE, load_coco_data
from cs231n_jax.captioning.vocab import Vocabulary
from cs231n_jax.data import scenes as S
from cs231n_jax.errors import DataError

SOURCES = ("scenes", "coco")


@dataclasses.dataclass(frozen=True)
class CaptionSplit:
  inputs: np.ndarray  # (N_images, ...) images or features
  captions: np.ndarray  # (N_captions, max_length) int32: <START> ... <END> <NULL>...
  image_idxs: np.ndarray  # (N_captions,) which image each caption describes
  references: list[list[list[str]]]  # per image: its reference captions, as word lists
  scenes: list[S.Scene] | None = None  # ground-truth layouts (synthetic scenes only)

  def __post_init__(self):
    if len(self.captions) != len(self.image_idxs):
      raise DataError(f"captions: {len(self.captions)} captions but {len(self.image_idxs)} image indices")
    if len(self.image_idxs) and (self.image_idxs.min() < 0 or self.image_idxs.max() >= len(self.inputs)):
      raise DataError(f"captions: image indices must lie in [0, {len(self.inputs)}), "
                      f"got [{self.image_idxs.min()}, {self.image_idxs.max()}]")
    if len(self.references) != len(self.inputs):
      raise DataError(f"captions: {len(self.inputs)} images but references for {len(self.references)}")

  @property
  def num_images(self) -> int:
    return len(self.inputs)

  def first_captions(self, num_images: int) -> "CaptionSplit":
    """The first ``num_images`` images with one caption each (their first): a set with no two
    captions for one image, so a model can fit it exactly (the course's overfit set of 50)."""
    if num_images > self.num_images:
      raise DataError(f"first_captions: asked for {num_images} images, the split has {self.num_images}")
    first = np.array([np.flatnonzero(self.image_idxs == i)[0] for i in range(num_images)])
    return CaptionSplit(self.inputs[:num_images], self.captions[first], np.arange(num_images, dtype=np.int32),
                        self.references[:num_images], self.scenes[:num_images] if self.scenes is not None else None)

  def subset(self, num_captions: int) -> "CaptionSplit":
    """The first ``num_captions`` captions with their images (the course's ``max_train`` overfit set)."""
    caps, idxs = self.captions[:num_captions], self.image_idxs[:num_captions]
    used, remap = np.unique(idxs, return_inverse=True)
    return CaptionSplit(self.inputs[used], caps, remap.astype(np.int32), [self.references[i] for i in used],
                        [self.scenes[i] for i in used] if self.scenes is not None else None)


@dataclasses.dataclass(frozen=True)
class CaptionData:
  name: str
  vocab: Vocabulary
  max_length: int
  train: CaptionSplit
  val: CaptionSplit
  test: CaptionSplit

  def split(self, name: str) -> CaptionSplit:
    if name not in ("train", "val", "test"):
      raise ValueError(f"split: expected 'train', 'val' or 'test', got {name!r}")
    return getattr(self, name)

  @property
  def input_shape(self) -> tuple[int, ...]:
    return tuple(self.train.inputs.shape[1:])


def references_from_captions(captions: np.ndarray, image_idxs: np.ndarray, num_images: int, vocab: Vocabulary) -> list[list[list[str]]]:
  refs: list[list[list[str]]] = [[] for _ in range(num_images)]
  for row, i in zip(captions, image_idxs):
    refs[int(i)].append(vocab.decode(row).split())
  return refs


def scene_split(images: np.ndarray, scene_list: list[S.Scene], vocab: Vocabulary, max_length: int,
                overflow: str = "error") -> CaptionSplit:
  texts, idxs = [], []
  for i, scene in enumerate(scene_list):
    for caption in scene.captions():
      texts.append(caption)
      idxs.append(i)
  captions = vocab.encode_batch(texts, max_length, overflow)
  refs = [[c.split() for c in scene.captions()] for scene in scene_list]
  return CaptionSplit(images.astype(np.float32), captions, np.asarray(idxs, np.int32), refs, scene_list)


def load_scenes(num_train: int = 4000, num_val: int = 500, num_test: int = 500, image_size: int = S.DEFAULT_IMAGE_SIZE,
                max_length: int = 12, heldout_pair_fraction: float = 0.2, single_fraction: float = 0.2,
                seed: int = 0) -> CaptionData:
  """The synthetic scenes: train / val on seen object pairs, test on held-out pairs only.

  The vocabulary is built from the training captions, so a word that only a held-out split uses
  would encode as ``<UNK>`` (with these shapes and colours every word occurs in training).
  """
  seen, held = S.split_pairs(seed, heldout_pair_fraction)
  train_images, train_scenes = S.generate(num_train, seen, single_fraction, seed * 3 + 1, image_size)
  val_images, val_scenes = S.generate(num_val, seen, single_fraction, seed * 3 + 2, image_size)
  test_images, test_scenes = S.generate(num_test, held, 0.0, seed * 3 + 3, image_size)
  vocab = Vocabulary.build(c for s in train_scenes for c in s.captions())
  return CaptionData(
      "scenes", vocab, max_length,
      scene_split(train_images, train_scenes, vocab, max_length),
      scene_split(val_images, val_scenes, vocab, max_length),
      scene_split(test_images, test_scenes, vocab, max_length),
  )


def load_caption_data(data_config: Mapping[str, Any]) -> CaptionData:
  """The data set a config's ``data`` block names (see the module docstring)."""
  name = data_config.get("name", "scenes")
  if name == "scenes":
    return load_scenes(
        num_train=data_config.get("num_train", 4000), num_val=data_config.get("num_val", 500),
        num_test=data_config.get("num_test", 500), image_size=data_config.get("image_size", S.DEFAULT_IMAGE_SIZE),
        max_length=data_config.get("max_length", 12),
        heldout_pair_fraction=data_config.get("heldout_pair_fraction", 0.2),
        single_fraction=data_config.get("single_fraction", 0.2), seed=data_config.get("seed", 0))
  if name == "coco":
    directory = data_config.get("dir") or ""
    return coco_caption_data(directory, max_train=data_config.get("max_train") or None,
                             pca_features=data_config.get("pca_features", True), seed=data_config.get("seed", 0))
  raise DataError(f"data.name: expected one of {SOURCES}, got {name!r}")


def coco_split(captions, image_idxs, features, keep_images: np.ndarray, vocab: Vocabulary) -> CaptionSplit:
  """The captions of ``keep_images`` with those images' features, indices remapped."""
  keep = np.isin(image_idxs, keep_images)
  remap = -np.ones(len(features), np.int64)
  remap[keep_images] = np.arange(len(keep_images))
  caps, idxs = captions[keep], remap[image_idxs[keep]].astype(np.int32)
  inputs = features[keep_images].astype(np.float32)
  return CaptionSplit(inputs, caps.astype(np.int32), idxs, references_from_captions(caps, idxs, len(inputs), vocab))


def coco_caption_data(base_dir: str, max_train: int | None = None, pca_features: bool = True, seed: int = 0) -> CaptionData:
  """COCO-format files as :class:`CaptionData`: train as given (images that have captions), the
  val images split in half by index into val and test."""
  data = load_coco_data(base_dir, max_train, pca_features, seed)
  vocab = Vocabulary.from_json(data)
  max_length = int(data["train_captions"].shape[1])
  train_images = np.unique(data["train_image_idxs"])
  val_images = np.unique(data["val_image_idxs"])
  if len(val_images) < 2:
    raise DataError(f"{CAPTION_FILE}: need captions for at least 2 val images (val and test halves), got {len(val_images)}")
  half = len(val_images) // 2
  return CaptionData(
      "coco", vocab, max_length,
      coco_split(data["train_captions"], data["train_image_idxs"], data["train_features"], train_images, vocab),
      coco_split(data["val_captions"], data["val_image_idxs"], data["val_features"], val_images[:half], vocab),
      coco_split(data["val_captions"], data["val_image_idxs"], data["val_features"], val_images[half:], vocab),
  )


def pooled_features(split: CaptionSplit, factor: int = 4, stats: tuple[np.ndarray, np.ndarray] | None = None) -> CaptionSplit:
  """The split with each image replaced by a feature vector: average-pooled ``factor`` x ``factor``,
  flattened (32x32x3 -> 192 numbers for factor 4) and standardised per dimension (zero mean, unit
  variance, with ``stats = (mean, std)`` of the training split, else the split's own) — as the
  course's PCA'd fc7 features are centred. Stands in for the course's fixed CNN features where a
  test or a notebook wants that set-up without training a CNN."""
  images = split.inputs
  if images.ndim != 4:
    raise DataError(f"pooled_features: expected images (N, H, W, C), got shape {images.shape}")
  n, h, w, c = images.shape
  if h % factor or w % factor:
    raise DataError(f"pooled_features: factor {factor} must divide the image size {h}x{w}")
  pooled = images.reshape(n, h // factor, factor, w // factor, factor, c).mean(axis=(2, 4)).reshape(n, -1)
  mean, std = stats if stats is not None else (pooled.mean(axis=0), pooled.std(axis=0))
  return dataclasses.replace(split, inputs=((pooled - mean) / np.maximum(std, 1e-6)).astype(np.float32))
