"""Synthetic captioned scenes (captions follow the layout, held-out pairs, splits) and the course's
COCO-features format (a small file in the real layout, written here and read back)."""

from __future__ import annotations

import json

import h5py
import numpy as np
import pytest

from cs231n_jax.captioning import coco as C
from cs231n_jax.captioning import data as D
from cs231n_jax.captioning.vocab import END_ID, NULL_ID, START_ID, UNK_ID, Vocabulary
from cs231n_jax.data import scenes as S
from cs231n_jax.errors import DataError


@pytest.fixture(scope="module")
def small():
  return D.load_scenes(num_train=120, num_val=30, num_test=30, seed=3)


def test_captions_describe_the_layout_and_the_pixels(small):
  for image, scene in zip(small.train.inputs, small.train.scenes):
    for obj in scene.objects:  # the shape's pixels have its colour
      mask = S.shape_mask(obj, image.shape[0])
      assert mask.sum() > 20
      np.testing.assert_allclose(image[mask].mean(axis=0), S.COLORS[obj.color], atol=0.03)
    captions = scene.captions()
    assert len(captions) == 2
    if len(scene.objects) == 2:
      a, b = scene.objects
      ux, uy = S.RELATIONS[scene.relation]
      # "a X above a Y": X's centre is higher (smaller y) by at least a shape's width, and the
      # cross-axis offset is small, so no other relation would be true.
      main = (a.cx - b.cx) * ux + (a.cy - b.cy) * uy
      cross = abs(a.cx - b.cx) if uy else abs(a.cy - b.cy)
      assert main >= 2 * a.radius and cross <= a.radius / 3
      assert captions[0] == f"a {a.color} {a.shape} {scene.relation} a {b.color} {b.shape}"
      assert captions[1] == f"a {b.color} {b.shape} {S.INVERSE[scene.relation]} a {a.color} {a.shape}"
      x0, y0, x1, y1 = a.box
      assert 0 <= x0 and x1 <= image.shape[1] and 0 <= y0 and y1 <= image.shape[0]  # inside the canvas


def test_test_split_holds_only_unseen_pairs(small):
  pair = lambda s: frozenset((o.color, o.shape) for o in s.objects)
  seen = {pair(s) for s in small.train.scenes + small.val.scenes if len(s.objects) == 2}
  test_pairs = {pair(s) for s in small.test.scenes}
  assert all(len(s.objects) == 2 for s in small.test.scenes)
  assert not seen & test_pairs
  seen_all, held = S.split_pairs(3, 0.2)
  assert len(held) == 13 and len(seen_all) + len(held) == 66
  assert test_pairs <= {frozenset(p) for p in held}


def test_splits_vocabulary_encoding_and_determinism(small):
  assert small.train.num_images == 120 and len(small.train.captions) == 240
  assert small.vocab.idx_to_word[:4] == ("<NULL>", "<START>", "<END>", "<UNK>")
  caps = small.train.captions
  assert np.all(caps[:, 0] == START_ID) and np.all((caps == END_ID).sum(axis=1) == 1)
  assert small.vocab.decode(caps[0]) == small.train.scenes[small.train.image_idxs[0]].captions()[0]
  again = D.load_scenes(num_train=120, num_val=30, num_test=30, seed=3)
  np.testing.assert_array_equal(again.train.inputs, small.train.inputs)
  assert D.load_scenes(num_train=120, num_val=30, num_test=30, seed=4).train.inputs.tobytes() != small.train.inputs.tobytes()
  with pytest.raises(DataError, match=r"has 8 words but max_length 7"):
    D.load_scenes(num_train=200, num_val=5, num_test=5, max_length=7)


def test_subsets_and_pooled_features(small):
  first = small.train.first_captions(50)
  assert first.num_images == 50 and len(first.captions) == 50
  np.testing.assert_array_equal(first.image_idxs, np.arange(50))
  feats = D.pooled_features(small.train)
  assert feats.inputs.shape == (120, 8 * 8 * 3)
  np.testing.assert_allclose(feats.inputs.mean(axis=0), 0.0, atol=1e-4)
  with pytest.raises(DataError, match="factor 5 must divide"):
    D.pooled_features(small.train, 5)


# ---------------------------------------------------------------------------------------------
# The COCO captioning format.
# ---------------------------------------------------------------------------------------------


def _write_coco(path, small, extra_words=()):
  feats = D.pooled_features(small.train)
  val_feats = D.pooled_features(small.val)
  vocab = Vocabulary(small.vocab.idx_to_word + tuple(extra_words))
  C.write_coco_format(str(path), small.train.captions, small.train.image_idxs, feats.inputs,
                      small.val.captions, small.val.image_idxs, val_feats.inputs, vocab)
  return vocab


def test_coco_format_round_trip(tmp_path, small):
  vocab = _write_coco(tmp_path, small)
  with h5py.File(tmp_path / "coco2014_captions.h5") as f:
    assert sorted(f) == ["train_captions", "train_image_idxs", "val_captions", "val_image_idxs"]
  assert json.loads((tmp_path / "coco2014_vocab.json").read_text())["idx_to_word"][:4] == ["<NULL>", "<START>", "<END>", "<UNK>"]
  data = C.load_coco_data(str(tmp_path))
  assert data["train_features"].shape == (120, 192) and data["train_captions"].shape == (240, 12)
  assert len(data["train_urls"]) == 120 and data["word_to_idx"]["<END>"] == END_ID
  # The course's decode_captions keeps <START> and <END> and drops <NULL>.
  assert C.decode_captions(data["train_captions"][0], data["idx_to_word"]).startswith("<START> a ")
  assert C.decode_captions(data["train_captions"][:2], data["idx_to_word"])[1].endswith("<END>")
  caps, feats, urls = C.sample_coco_minibatch(data, batch_size=5, rng=np.random.default_rng(0))
  assert caps.shape == (5, 12) and feats.shape == (5, 192) and urls.shape == (5,)
  sub = C.load_coco_data(str(tmp_path), max_train=50, seed=0)
  assert sub["train_captions"].shape == (50, 12) and sub["train_features"].shape == (120, 192)
  converted = D.coco_caption_data(str(tmp_path))
  assert converted.vocab == vocab and converted.max_length == 12
  assert converted.val.num_images + converted.test.num_images == 30
  assert converted.train.references[0] == [c.split() for c in small.train.scenes[0].captions()]


def test_coco_unknown_words_decode_as_unk(tmp_path, small):
  vocab = Vocabulary.build(["a red circle"])  # a vocabulary missing most of the scenes' words
  ids = vocab.encode("a purple circle", 12)
  assert ids[2] == UNK_ID and vocab.decode(ids) == "a <UNK> circle"
  assert NULL_ID in ids


def _delete(path, key):
  with h5py.File(path, "a") as f:
    del f[key]


@pytest.mark.parametrize("damage,pattern", [
    (lambda p: (p / "val2014_vgg16_fc7_pca.h5").unlink(), r"has no val2014_vgg16_fc7_pca.h5"),
    (lambda p: (p / "coco2014_vocab.json").write_text(json.dumps({"idx_to_word": ["a", "<NULL>", "<START>", "<END>"]})),
     "first four words"),
    (lambda p: _delete(p / "coco2014_captions.h5", "val_image_idxs"), "missing dataset 'val_image_idxs'"),
])
def test_damaged_coco_directory_is_a_one_line_data_error(tmp_path, small, damage, pattern):
  _write_coco(tmp_path, small)
  damage(tmp_path)
  with pytest.raises(DataError, match=pattern) as info:
    C.load_coco_data(str(tmp_path))
  assert "\n" not in str(info.value)


def test_caption_ids_beyond_the_vocabulary_are_rejected(tmp_path, small):
  _write_coco(tmp_path, small)
  with h5py.File(tmp_path / "coco2014_captions.h5", "a") as f:
    caps = f["train_captions"][...]
    caps[0, 1] = 999
    f["train_captions"][...] = caps
  with pytest.raises(DataError, match="word ids up to 999 but the vocabulary has"):
    C.load_coco_data(str(tmp_path))
  with pytest.raises(DataError, match="no COCO captioning directory"):
    C.load_coco_data(str(tmp_path / "nowhere"))
