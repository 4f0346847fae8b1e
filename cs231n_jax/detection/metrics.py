"""Detection metrics: the project's own mAP (COCO's algorithm, in NumPy) and pycocotools' COCOeval.

Neither lecture 11 nor the notes define mAP; this follows the COCO evaluation (Lin et al. 2014,
``pycocotools.cocoeval``): per image and class, detections in decreasing score (at most
``max_dets``) are matched greedily to the unmatched ground-truth box of highest IoU >= t; per
class, all detections of the split in decreasing score give a precision / recall curve, precision
is made monotone, and AP is the mean precision at the 101 recall levels 0, 0.01, ..., 1. mAP is the
mean over classes with ground truth; COCO mAP averages over t = 0.50, 0.55, ..., 0.95.
:func:`mean_average_precision` and :func:`cocoeval` agree to 1e-6 on the same detections (tested).

Arrays: ground truth ``gt_boxes`` (N, M, 4) ``(x0, y0, x1, y1)``, ``gt_labels`` (N, M), ``gt_valid``
(N, M); detections ``boxes`` (N, K, 4), ``scores`` (N, K), ``labels`` (N, K), ``valid`` (N, K).
"""

from __future__ import annotations

import contextlib
import io

import numpy as np

IOU_THRESHOLDS = np.linspace(0.5, 0.95, 10)
RECALL_LEVELS = np.linspace(0.0, 1.0, 101)


def iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
  a = np.asarray(a, np.float64)
  b = np.asarray(b, np.float64)
  lo = np.maximum(a[:, None, :2], b[None, :, :2])
  hi = np.minimum(a[:, None, 2:], b[None, :, 2:])
  inter = np.prod(np.clip(hi - lo, 0, None), -1)
  area = lambda x: (x[:, 2] - x[:, 0]) * (x[:, 3] - x[:, 1])
  union = area(a)[:, None] + area(b)[None, :] - inter
  return np.where(union > 0, inter / np.where(union > 0, union, 1), 0.0)


def _match(det_boxes, gt_boxes, threshold: float) -> np.ndarray:
  """COCOeval's greedy matching for one image and class: a True per detection (in the given,
  score-sorted order) that matched a ground truth."""
  ious = iou_matrix(det_boxes, gt_boxes) if len(det_boxes) and len(gt_boxes) else np.zeros((len(det_boxes), len(gt_boxes)))
  taken = np.zeros(len(gt_boxes), bool)
  matched = np.zeros(len(det_boxes), bool)
  t = min(threshold, 1 - 1e-10)
  for d in range(len(det_boxes)):
    best, m = t, -1
    for g in range(len(gt_boxes)):
      if taken[g] or ious[d, g] < best:
        continue
      best, m = ious[d, g], g
    if m >= 0:
      taken[m] = True
      matched[d] = True
  return matched


def average_precisions(gt_boxes, gt_labels, gt_valid, boxes, scores, labels, valid, num_classes: int,
                       thresholds=IOU_THRESHOLDS, max_dets: int = 100) -> np.ndarray:
  """(len(thresholds), num_classes) AP; NaN for a class without ground truth."""
  n = len(gt_boxes)
  out = np.full((len(thresholds), num_classes), np.nan)
  for c in range(num_classes):
    gts, dets = [], []
    for i in range(n):
      g = gt_boxes[i][gt_valid[i] & (gt_labels[i] == c)]
      sel = np.nonzero(valid[i] & (labels[i] == c))[0]
      order = sel[np.argsort(-scores[i][sel], kind="mergesort")][:max_dets]
      gts.append(g)
      dets.append((boxes[i][order], scores[i][order]))
    num_gt = sum(len(g) for g in gts)
    if num_gt == 0:
      continue
    all_scores = np.concatenate([d[1] for d in dets]) if dets else np.zeros(0)
    order = np.argsort(-all_scores, kind="mergesort")
    for ti, t in enumerate(thresholds):
      tp = np.concatenate([_match(d[0], g, t) for d, g in zip(dets, gts)])[order]
      tps, fps = np.cumsum(tp).astype(float), np.cumsum(~tp).astype(float)
      recall = tps / num_gt
      precision = (tps / (fps + tps + np.spacing(1))).tolist()
      for k in range(len(precision) - 1, 0, -1):
        if precision[k] > precision[k - 1]:
          precision[k - 1] = precision[k]
      idx = np.searchsorted(recall, RECALL_LEVELS, side="left")
      q = np.zeros(len(RECALL_LEVELS))
      for r, p in enumerate(idx):
        if p >= len(precision):
          break
        q[r] = precision[p]
      out[ti, c] = q.mean()
  return out


def mean_average_precision(*args, num_classes: int, max_dets: int = 100) -> dict[str, float]:
  """``{"map50": mAP at IoU 0.5, "map": COCO mAP@[.5:.95], "map75"}`` from the arrays (module docstring)."""
  ap = average_precisions(*args, num_classes=num_classes, max_dets=max_dets)
  if np.all(np.isnan(ap)):
    return {"map50": 0.0, "map": 0.0, "map75": 0.0}
  return {"map50": float(np.nanmean(ap[0])), "map": float(np.nanmean(ap)), "map75": float(np.nanmean(ap[5]))}


def to_coco(gt_boxes, gt_labels, gt_valid, boxes, scores, labels, valid, num_classes: int):
  """(ground-truth COCO dict, detection result list) with category id = class + 1, image id = row + 1."""
  from cs231n_jax.data.coco_format import scenes_to_coco

  h = int(max(1, np.ceil(np.max(gt_boxes[..., 3], initial=1))))
  w = int(max(1, np.ceil(np.max(gt_boxes[..., 2], initial=1))))
  gt = scenes_to_coco(gt_boxes, gt_labels, gt_valid, [str(c) for c in range(num_classes)], (h, w))
  dets = []
  for i in range(len(boxes)):
    for j in np.nonzero(valid[i])[0]:
      x0, y0, x1, y1 = (float(v) for v in boxes[i, j])
      dets.append({"image_id": i + 1, "category_id": int(labels[i, j]) + 1, "bbox": [x0, y0, x1 - x0, y1 - y0],
                   "score": float(scores[i, j])})
  return gt, dets


def cocoeval(gt_boxes, gt_labels, gt_valid, boxes, scores, labels, valid, num_classes: int, iou_type: str = "bbox",
             gt_masks=None, masks=None) -> dict[str, float]:
  """pycocotools' COCOeval on the same arrays: ``{"map", "map50", "map75"}`` (stats[0:3]). With
  ``iou_type="segm"``, ``gt_masks`` (N, M, H, W) and ``masks`` (N, K, H, W) give mask AP."""
  from pycocotools import mask as mask_utils
  from pycocotools.coco import COCO
  from pycocotools.cocoeval import COCOeval

  gt, dets = to_coco(gt_boxes, gt_labels, gt_valid, boxes, scores, labels, valid, num_classes)
  if iou_type == "segm":
    h, w = gt_masks.shape[-2:]
    for im in gt["images"]:
      im["height"], im["width"] = int(h), int(w)
    k = 0
    for i in range(len(gt_boxes)):
      for j in np.nonzero(gt_valid[i])[0]:
        rle = mask_utils.encode(np.asfortranarray(gt_masks[i, j].astype(np.uint8)))
        gt["annotations"][k]["segmentation"] = rle
        gt["annotations"][k]["area"] = float(gt_masks[i, j].sum())
        k += 1
    k = 0
    for i in range(len(boxes)):
      for j in np.nonzero(valid[i])[0]:
        dets[k]["segmentation"] = mask_utils.encode(np.asfortranarray(masks[i, j].astype(np.uint8)))
        k += 1
  if not dets:
    return {"map": 0.0, "map50": 0.0, "map75": 0.0}
  with contextlib.redirect_stdout(io.StringIO()):
    coco_gt = COCO()
    coco_gt.dataset = gt
    coco_gt.createIndex()
    coco_dt = coco_gt.loadRes(dets)
    ev = COCOeval(coco_gt, coco_dt, iou_type)
    ev.evaluate()
    ev.accumulate()
    ev.summarize()
  return {"map": float(ev.stats[0]), "map50": float(ev.stats[1]), "map75": float(ev.stats[2])}
