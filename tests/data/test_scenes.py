"""Detection scenes: tight boxes from the visible masks, labels, semantic maps, occlusion, splits."""

from __future__ import annotations

import numpy as np
import pytest

from cs231n_jax.data import scenes as S
from cs231n_jax.errors import DataError


@pytest.fixture(scope="module")
def split():
  return S.detection_scenes(40, seed=5, size=64, max_objects=6, classes="all")


def test_boxes_are_tight_around_the_visible_masks(split):
  assert split.images.shape == (40, 64, 64, 3) and split.masks.shape == (40, 6, 64, 64)
  for i in range(len(split)):
    for j in range(6):
      if not split.valid[i, j]:
        assert split.labels[i, j] == -1 and not split.masks[i, j].any()
        continue
      ys, xs = np.nonzero(split.masks[i, j])
      np.testing.assert_array_equal(split.boxes[i, j], [xs.min(), ys.min(), xs.max() + 1, ys.max() + 1])
      x0, y0, x1, y1 = split.boxes[i, j].astype(int)  # the box's border rows and columns touch the mask
      m = split.masks[i, j]
      assert m[y0, x0:x1].any() and m[y1 - 1, x0:x1].any() and m[y0:y1, x0].any() and m[y0:y1, x1 - 1].any()


def test_semantic_map_masks_and_colours_agree(split):
  for i in range(len(split)):
    n = split.valid[i].sum()
    assert 1 <= n <= 6 and split.valid[i, :n].all() and not split.valid[i, n:].any()
    masks = split.masks[i, :n]
    assert masks.sum(0).max() <= 1  # visible masks never overlap
    expected = np.zeros((64, 64), np.int32)
    for j in range(n):
      expected[masks[j]] = split.labels[i, j] + 1
      colour = split.images[i][masks[j]].mean(0)  # one solid colour from the palette, plus noise
      assert np.abs(np.asarray(list(S.COLORS.values())) - colour).max(1).min() < 0.03
    np.testing.assert_array_equal(split.semantic[i], expected)
    assert abs(split.images[i][expected == 0].mean() - S.BACKGROUND) < 0.02


def test_every_class_and_occlusion_appear(split):
  assert set(np.unique(split.labels[split.valid])) == set(range(13))
  assert split.class_names[:3] == ("circle", "square", "triangle") and split.class_names[3:] == tuple("0123456789")
  # a square's tight box is smaller than the old centre +- radius box: the box comes from the mask
  counts = split.valid.sum(1)
  assert counts.max() >= 5 and (counts == 1).any()


def test_splits_are_deterministic_and_distinct():
  a = S.load_detection_scenes(4, 3, 3, seed=1, size=56, classes="shapes")
  b = S.load_detection_scenes(4, 3, 3, seed=1, size=56, classes="shapes")
  for name in ("train", "val", "test"):
    np.testing.assert_array_equal(a[name].images, b[name].images)
    np.testing.assert_array_equal(a[name].boxes, b[name].boxes)
  assert not np.allclose(a["train"].images[:3], a["val"].images)
  assert set(np.unique(a["train"].labels)) <= {-1, 0, 1, 2}
  c = S.detection_scenes(4, seed=2, size=56, classes="shapes")
  assert not np.allclose(c.images, a["train"].images)


def test_bad_arguments_are_named():
  with pytest.raises(DataError, match="data.image_size"):
    S.detection_scenes(2, 0, size=40)
  with pytest.raises(DataError, match="data.max_objects"):
    S.detection_scenes(2, 0, max_objects=7)
  with pytest.raises(DataError, match="data.classes"):
    S.detection_scenes(2, 0, classes="cats")


# data.digit_distort: random affine warps of the TRAIN split's digits (off by default).
DISTORT = {"rotate_deg": 12.0, "shear": 0.15, "scale": 0.1}
# sha256 of the plain generator's arrays below, recorded from the generator before digit_distort existed
PLAIN_SHA256 = "e0e1c721afacce7b5550dc2334f3246cd87b88404a23ba9f84df97821fb93a46"


def _digest(splits) -> str:
  import hashlib

  h = hashlib.sha256()
  for s in splits:
    for a in (s.images, s.boxes, s.labels, s.valid, s.masks, s.semantic):
      h.update(a.tobytes())
  return h.hexdigest()


def test_digit_distort_off_by_default_is_the_plain_generator_bit_for_bit():
  splits = [S.detection_scenes(6, 3, size=56, max_objects=2, classes="all", split=n) for n in ("train", "val", "test")]
  assert _digest(splits) == PLAIN_SHA256
  off = [S.detection_scenes(6, 3, size=56, max_objects=2, classes="all", split=n, digit_distort={}) for n in ("train", "val", "test")]
  assert _digest(off) == PLAIN_SHA256


def test_digit_distort_warps_train_digits_only_and_boxes_stay_tight():
  plain = S.load_detection_scenes(12, 4, 4, seed=0, size=56, max_objects=1, min_objects=1)
  warped = S.load_detection_scenes(12, 4, 4, seed=0, size=56, max_objects=1, min_objects=1, digit_distort=DISTORT)
  for name in ("val", "test"):  # held-out scenes unchanged
    for key in ("images", "boxes", "labels", "masks"):
      np.testing.assert_array_equal(getattr(plain[name], key), getattr(warped[name], key))
  p, w = plain["train"], warped["train"]
  np.testing.assert_array_equal(p.labels, w.labels)  # same classes (the warps draw from their own stream)
  digit = p.labels[:, 0] >= 3
  assert digit.sum() >= 5
  changed = (p.masks[:, 0] != w.masks[:, 0]).any((1, 2))
  assert changed[digit].all() and not changed[~digit].any()
  for i in range(len(w)):
    ys, xs = np.nonzero(w.masks[i, 0])
    np.testing.assert_array_equal(w.boxes[i, 0], [xs.min(), ys.min(), xs.max() + 1, ys.max() + 1])
  again = S.detection_scenes(12, 0, size=56, max_objects=1, min_objects=1, digit_distort=DISTORT)
  np.testing.assert_array_equal(again.masks, w.masks)  # deterministic from the seed


def test_digit_distort_bad_values_are_named():
  with pytest.raises(DataError, match=r"data.digit_distort.rotate_deg: expected a number in \[0, 45.0\]"):
    S.detection_scenes(2, 0, size=56, digit_distort={"rotate_deg": 90})
  with pytest.raises(DataError, match="data.digit_distort: unknown key 'elastic'"):
    S.detection_scenes(2, 0, size=56, split="val", digit_distort={"elastic": 1.0})
  with pytest.raises(DataError, match="data.digit_distort: expected None or a mapping"):
    S.detection_scenes(2, 0, size=56, digit_distort=0.5)
