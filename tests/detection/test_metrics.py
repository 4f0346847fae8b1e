"""The project's mAP against pycocotools' COCOeval on the same detections (agreement to 1e-6)."""

from __future__ import annotations

import numpy as np
import pytest

from cs231n_jax.detection import metrics as M


def noisy_detections(seed, n=30, m=5, k=12, classes=4):
  rng = np.random.default_rng(seed)
  xy = rng.uniform(0, 40, (n, m, 2))
  gt_boxes = np.concatenate([xy, xy + rng.uniform(4, 20, (n, m, 2))], -1)
  gt_labels = rng.integers(0, classes, (n, m))
  gt_valid = rng.uniform(size=(n, m)) < 0.7
  # detections: jittered copies of the ground truth (some with the wrong class) plus random boxes
  boxes = np.concatenate([gt_boxes + rng.normal(0, 2.0, gt_boxes.shape),
                          np.concatenate([xy[:, :1].repeat(k - m, 1), xy[:, :1].repeat(k - m, 1) + 8], -1)
                          + rng.normal(0, 10, (n, k - m, 4)).clip(-5, 5)], 1)
  boxes[..., 2:] = np.maximum(boxes[..., 2:], boxes[..., :2] + 0.5)
  labels = np.concatenate([np.where(rng.uniform(size=(n, m)) < 0.85, gt_labels, rng.integers(0, classes, (n, m))),
                           rng.integers(0, classes, (n, k - m))], 1)
  scores = rng.uniform(size=(n, k)).round(2)  # rounded: ties across images, as real detectors have
  valid = rng.uniform(size=(n, k)) < 0.9
  return gt_boxes, gt_labels, gt_valid, boxes, scores, labels, valid


@pytest.mark.parametrize("seed", [0, 1])
def test_own_map_agrees_with_cocoeval(seed):
  args = noisy_detections(seed)
  ours = M.mean_average_precision(*args, num_classes=4)
  theirs = M.cocoeval(*args, num_classes=4)
  assert 0.1 < ours["map50"] < 0.95 and ours["map"] < ours["map50"]
  for key in ("map50", "map", "map75"):
    assert abs(ours[key] - theirs[key]) < 1e-6, (key, ours[key], theirs[key])


def test_perfect_and_empty_detections():
  gt_boxes, gt_labels, gt_valid, *_ = noisy_detections(3)
  perfect = M.mean_average_precision(gt_boxes, gt_labels, gt_valid, gt_boxes, np.ones(gt_labels.shape), gt_labels, gt_valid,
                                     num_classes=4)
  assert perfect == {"map50": 1.0, "map": 1.0, "map75": 1.0}
  none = M.mean_average_precision(gt_boxes, gt_labels, gt_valid, gt_boxes, np.ones(gt_labels.shape), gt_labels,
                                  np.zeros_like(gt_valid), num_classes=4)
  assert none["map50"] == 0.0
