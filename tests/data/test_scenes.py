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
