"""The course's COCO captioning files: reading them (``load_coco_data``, as ``coco_utils.py``),
and writing files in the same format (:func:`cs231n_jax.captioning.data.coco_caption_data` turns
them into :class:`~cs231n_jax.captioning.data.CaptionData`).

The directory (``coco_captioning/`` of the assignment download) holds

    coco2014_captions.h5          train_captions (N, 17) int32, train_image_idxs (N,),
                                  val_captions, val_image_idxs
    train2014_vgg16_fc7.h5        features (82783, 4096)    (…_pca.h5: PCA'd to 512)
    val2014_vgg16_fc7.h5          features (40504, 4096)    (…_pca.h5)
    coco2014_vocab.json           {"idx_to_word": [...], "word_to_idx": {...}}
    train2014_urls.txt            one image URL per line (also val2014_urls.txt)

Captions are already encoded (``<START>`` … ``<END>`` ``<NULL>``…) with that vocabulary, whose first
four words are ``<NULL> <START> <END> <UNK>``. The files cannot be downloaded on the development
machines; the tests write small files in exactly this layout and read them back.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from cs231n_jax.captioning.vocab import Vocabulary
from cs231n_jax.errors import DataError

CAPTION_FILE = "coco2014_captions.h5"
VOCAB_FILE = "coco2014_vocab.json"
CAPTION_KEYS = ("train_captions", "train_image_idxs", "val_captions", "val_image_idxs")


def feature_file(split: str, pca_features: bool) -> str:
  return f"{split}2014_vgg16_fc7{'_pca' if pca_features else ''}.h5"


def _h5py():
  try:
    import h5py
  except ImportError:  # pragma: no cover - h5py is in the dev extra
    raise DataError("data.name=coco: reading the course's HDF5 files needs h5py (pip install h5py)") from None
  return h5py


def load_coco_data(base_dir: str, max_train: int | None = None, pca_features: bool = True,
                   seed: int | None = None) -> dict[str, Any]:
  """The course's ``load_coco_data``: a dict of arrays and the vocabulary.

  ``max_train`` keeps that many training captions drawn at random *with replacement* (the course's
  ``np.random.randint(num_train, size=max_train)``), from a generator seeded by ``seed``.
  """
  h5py = _h5py()
  base = Path(base_dir)
  if not base.is_dir():
    raise DataError(f"data.dir: no COCO captioning directory {str(base_dir)!r}")

  def need(name):
    path = base / name
    if not path.is_file():
      raise DataError(f"data.dir: {str(base_dir)!r} has no {name} (the course's coco_captioning layout)")
    return path

  data: dict[str, Any] = {}
  with h5py.File(need(CAPTION_FILE), "r") as f:
    missing = [k for k in CAPTION_KEYS if k not in f]
    if missing:
      raise DataError(f"{CAPTION_FILE}: missing dataset {missing[0]!r}; expected {CAPTION_KEYS}")
    for k, v in f.items():
      data[k] = np.asarray(v)
  for split in ("train", "val"):
    with h5py.File(need(feature_file(split, pca_features)), "r") as f:
      if "features" not in f:
        raise DataError(f"{feature_file(split, pca_features)}: no 'features' dataset")
      data[f"{split}_features"] = np.asarray(f["features"])
  with open(need(VOCAB_FILE)) as f:
    data.update(json.load(f))
  for split in ("train", "val"):
    urls = base / f"{split}2014_urls.txt"
    data[f"{split}_urls"] = np.asarray(urls.read_text().split()) if urls.is_file() else np.asarray([], dtype=str)
  _check(data)
  if max_train is not None:
    mask = np.random.default_rng(seed).integers(data["train_captions"].shape[0], size=max_train)
    data["train_captions"] = data["train_captions"][mask]
    data["train_image_idxs"] = data["train_image_idxs"][mask]
  return data


def _check(data: dict[str, Any]) -> None:
  vocab = Vocabulary.from_json(data)  # checks the specials and the two maps
  for split in ("train", "val"):
    caps, idxs, feats = data[f"{split}_captions"], data[f"{split}_image_idxs"], data[f"{split}_features"]
    if caps.ndim != 2 or len(caps) != len(idxs):
      raise DataError(f"{CAPTION_FILE}: {split}_captions {caps.shape} and {split}_image_idxs {idxs.shape} do not match")
    if len(idxs) and (idxs.min() < 0 or idxs.max() >= len(feats)):
      raise DataError(f"{CAPTION_FILE}: {split}_image_idxs reach {idxs.max()} but there are {len(feats)} {split} feature rows")
    if caps.size and (caps.min() < 0 or caps.max() >= vocab.size):
      raise DataError(f"{CAPTION_FILE}: {split}_captions hold word ids up to {caps.max()} but the vocabulary has {vocab.size} words")


def write_coco_format(base_dir: str, train_captions, train_image_idxs, train_features, val_captions, val_image_idxs,
                      val_features, vocab: Vocabulary, pca_features: bool = True, urls: bool = True) -> None:
  """Write arrays in the course's layout (what the tests and an export of other data use)."""
  h5py = _h5py()
  base = Path(base_dir)
  base.mkdir(parents=True, exist_ok=True)
  with h5py.File(base / CAPTION_FILE, "w") as f:
    f.create_dataset("train_captions", data=np.asarray(train_captions, np.int32))
    f.create_dataset("train_image_idxs", data=np.asarray(train_image_idxs, np.int32))
    f.create_dataset("val_captions", data=np.asarray(val_captions, np.int32))
    f.create_dataset("val_image_idxs", data=np.asarray(val_image_idxs, np.int32))
  for split, feats in (("train", train_features), ("val", val_features)):
    with h5py.File(base / feature_file(split, pca_features), "w") as f:
      f.create_dataset("features", data=np.asarray(feats, np.float32))
    if urls:
      (base / f"{split}2014_urls.txt").write_text("".join(f"http://example.invalid/{split}/{i}.jpg\n" for i in range(len(feats))))
  vocab.save(base / VOCAB_FILE)


def decode_captions(captions: np.ndarray, idx_to_word) -> list[str] | str:
  """The course's ``decode_captions``: words up to and including ``<END>``, ``<NULL>`` dropped."""
  singleton = captions.ndim == 1
  captions = captions[None] if singleton else captions
  decoded = []
  for row in captions:
    words = []
    for i in row:
      word = idx_to_word[int(i)]
      if word != "<NULL>":
        words.append(word)
      if word == "<END>":
        break
    decoded.append(" ".join(words))
  return decoded[0] if singleton else decoded


def sample_coco_minibatch(data: dict[str, Any], batch_size: int = 100, split: str = "train",
                          rng: np.random.Generator | None = None):
  """The course's ``sample_coco_minibatch``: (captions, image features, urls) of random captions."""
  rng = rng or np.random.default_rng()
  mask = rng.choice(data[f"{split}_captions"].shape[0], batch_size)
  captions = data[f"{split}_captions"][mask]
  image_idxs = data[f"{split}_image_idxs"][mask]
  urls = data[f"{split}_urls"][image_idxs] if len(data[f"{split}_urls"]) else np.asarray([""] * batch_size)
  return captions, data[f"{split}_features"][image_idxs], urls
