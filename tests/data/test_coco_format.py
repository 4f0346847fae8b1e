"""COCO-format annotations: a round trip through files in the true layout, RLE and polygons, and the errors."""

from __future__ import annotations

import json

import numpy as np
import pytest
from pycocotools.coco import COCO

from cs231n_jax.data import coco_format as F
from cs231n_jax.data import scenes as S
from cs231n_jax.errors import DataError


@pytest.fixture(scope="module")
def scenes():
  return S.detection_scenes(6, seed=0, size=56, max_objects=4, classes="all")


def test_directory_round_trip_with_rle(tmp_path, scenes):
  ann = F.write_coco_directory(tmp_path, scenes.images, scenes.boxes, scenes.labels, scenes.valid, scenes.class_names,
                               scenes.masks)
  coco = COCO(str(ann))  # pycocotools reads the file as COCO
  assert len(coco.getImgIds()) == 6 and len(coco.getAnnIds()) == int(scenes.valid.sum())
  first = coco.loadAnns(coco.getAnnIds(imgIds=[1]))[0]
  np.testing.assert_array_equal(coco.annToMask(first).astype(bool), scenes.masks[0, 0])
  back = F.load_coco_directory(tmp_path, max_objects=4)
  np.testing.assert_allclose(back.images, scenes.images, atol=0.5 / 255 + 1e-6)  # 8-bit PNG
  np.testing.assert_array_equal(back.boxes, scenes.boxes)
  np.testing.assert_array_equal(back.labels, scenes.labels)
  np.testing.assert_array_equal(back.masks, scenes.masks)
  np.testing.assert_array_equal(back.semantic, scenes.semantic)
  assert back.class_names == scenes.class_names and back.truncated == 0


def test_polygons_trace_the_masks(scenes):
  data = F.scenes_to_coco(scenes.boxes, scenes.labels, scenes.valid, scenes.class_names, (56, 56), scenes.masks,
                          segmentation="polygon")
  for a in data["annotations"][:8]:
    i = a["image_id"] - 1
    j = [k for k in range(4) if scenes.valid[i, k]][sum(1 for b in data["annotations"] if b["image_id"] == a["image_id"]
                                                        and b["id"] < a["id"])]
    mask = F.decode_segmentation(a["segmentation"], 56, 56)
    truth = scenes.masks[i, j]
    iou = (mask & truth).sum() / (mask | truth).sum()
    assert iou > 0.8  # polygons through pixel-edge contours, rasterised back


def test_uncompressed_rle_decodes():
  mask = np.zeros((5, 4), bool)
  mask[1:3, 2] = True
  # column-major runs: 9 zeros (2 columns + 1), 2 ones, 9 zeros
  np.testing.assert_array_equal(F.decode_segmentation({"size": [5, 4], "counts": [11, 2, 7]}, 5, 4), mask)


def good():
  return {"images": [{"id": 1, "file_name": "a.png", "width": 10, "height": 8}],
          "annotations": [{"id": 1, "image_id": 1, "category_id": 3, "bbox": [1, 1, 4, 4], "area": 16, "iscrowd": 0}],
          "categories": [{"id": 3, "name": "cat"}]}


@pytest.mark.parametrize("edit, message", [
    (lambda d: d.pop("categories"), "missing field 'categories'"),
    (lambda d: d["annotations"][0].pop("bbox"), "missing field 'bbox'"),
    (lambda d: d["annotations"][0].update(category_id=9), "unknown category_id 9"),
    (lambda d: d["annotations"][0].update(image_id=4), "unknown image_id 4"),
    (lambda d: d["annotations"][0].update(bbox=[8, 1, 4, 4]), "outside its 10x8 image"),
    (lambda d: d["annotations"][0].update(bbox=[1, 1, 0, 4]), "zero-area box"),
])
def test_malformed_json_gives_one_line_errors(tmp_path, edit, message):
  data = good()
  edit(data)
  path = tmp_path / "bad.json"
  path.write_text(json.dumps(data))
  with pytest.raises(DataError, match=message) as info:
    F.read_annotations(path)
  assert "\n" not in str(info.value)


def test_not_json_and_too_many_objects(tmp_path, scenes):
  (tmp_path / "x.json").write_text("{oops")
  with pytest.raises(DataError, match="not valid JSON"):
    F.read_annotations(tmp_path / "x.json")
  F.write_coco_directory(tmp_path, scenes.images, scenes.boxes, scenes.labels, scenes.valid, scenes.class_names)
  most = int(scenes.valid.sum(1).max())
  with pytest.raises(DataError, match="more than max_objects=1"):
    F.load_coco_directory(tmp_path, max_objects=1, with_masks=False)
  cut = F.load_coco_directory(tmp_path, max_objects=1, with_masks=False, truncate=True)
  assert most > 1 and cut.truncated == int(scenes.valid.sum()) - 6 and cut.valid.sum() == 6
