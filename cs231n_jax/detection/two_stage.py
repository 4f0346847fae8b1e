"""Two-stage detectors (lecture 11, notes chapter 9): Faster R-CNN and Mask R-CNN's mask head, with
static shapes throughout, and R-CNN / Fast R-CNN for the speed comparison.

The lecture gives the pieces but not their numbers; these follow the papers (and say so):

- **RPN** (Ren et al. 2015): a 3x3 conv on the shared feature map, then per cell and per anchor an
  objectness logit and 4 box deltas (:func:`cs231n_jax.detection.ops.encode_boxes`). Anchors:
  ``sizes`` x ``ratios`` boxes centred on every cell. An anchor is positive when its IoU with a
  ground-truth box is >= 0.7 or it is a ground-truth box's best anchor, negative below 0.3, ignored in
  between; ``rpn_batch`` anchors per image are sampled, at most half positive.
- **Proposals**: the ``pre_nms`` best-scoring decoded, clipped anchors, NMS at IoU 0.7, the best
  ``post_nms`` kept — a fixed number, padded with a validity mask (top-300 at test time, as the notes
  say). Proposals are constants for the second stage (no gradient through the boxes, as in the paper's
  approximate joint training).
- **Second stage** (Fast R-CNN, Girshick 2015): the proposals plus the ground-truth boxes are the
  candidates; a candidate with IoU >= 0.5 with a ground-truth box takes its class (foreground), below
  0.5 it is background; ``roi_batch`` candidates per image are sampled, at most 25% foreground; each is
  pooled by RoIAlign (He et al. 2017) to ``roi_size`` x ``roi_size`` and fed to two fully connected
  layers, then C + 1 class scores (0 = background) and 4 class-specific box deltas per class
  (Detectron's delta weights (10, 10, 5, 5)).
- **The four losses**: RPN objectness (binary cross-entropy over the sampled anchors), RPN box
  (smooth L1 over the positive anchors), classification (cross-entropy over the sampled RoIs) and box
  regression (smooth L1 over the foreground RoIs, the ground-truth class's deltas); each normalised by
  the number of samples, as in the papers.
- **Mask R-CNN** (``mask_head=True``): RoIAlign to 14x14, two 3x3 convs, a 2x2 stride-2 transpose
  convolution to 28x28 and one 28x28 mask per class; the target is the matched ground-truth mask
  RoIAligned onto the RoI's 28x28 grid and thresholded at 0.5; per-pixel binary cross-entropy of the
  ground-truth class's mask over the foreground RoIs.

Every count (anchors, proposals, sampled RoIs, detections) is static, so one compilation serves every
batch whatever its number of objects.
"""

from __future__ import annotations

from typing import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax

from cs231n_jax.detection import backbones, metrics, ops
from cs231n_jax.models.registry import register

ROI_DELTA_WEIGHTS = (10.0, 10.0, 5.0, 5.0)  # Detectron's second-stage delta scaling


@register("faster_rcnn", input_shape=(56, 56, 3), family="detect")
class FasterRCNN(nn.Module):
  """Backbone (stride ``2 ** (len(widths) - 1)``) + RPN head + RoI box head (+ Mask R-CNN's mask head).

  ``__call__`` returns ``(features, objectness (N, H, W, A), deltas (N, H, W, A, 4))``; the heads are
  separate methods (:meth:`box_head`, :meth:`mask_logits`) applied to RoIAligned features."""

  num_classes: int = 13
  num_anchors: int = 9
  widths: Sequence[int] = (32, 64, 128)
  rpn_width: int = 128
  head_width: int = 256
  roi_size: int = 7
  mask_head: bool = False
  mask_width: int = 64
  group_norm: int = 0
  backbone: str = "scratch"  # or a pretrained network of detection.backbones.PRETRAINED
  backbone_blocks: int = 3  # MobileNetV2 / EfficientNet-Lite0: stride 4
  freeze_backbone: bool = False

  def setup(self):
    self.backbone_net = backbones.make_backbone(self.backbone, self.widths, self.group_norm, self.backbone_blocks, "backbone")
    self.rpn_conv = nn.Conv(self.rpn_width, (3, 3))
    self.rpn_obj = nn.Conv(self.num_anchors, (1, 1))
    self.rpn_box = nn.Conv(4 * self.num_anchors, (1, 1), kernel_init=nn.initializers.normal(0.01))
    self.fc1 = nn.Dense(self.head_width)
    self.fc2 = nn.Dense(self.head_width)
    self.cls = nn.Dense(self.num_classes + 1, kernel_init=nn.initializers.normal(0.01))
    self.box = nn.Dense(4 * self.num_classes, kernel_init=nn.initializers.normal(0.001))
    if self.mask_head:
      self.mask_convs = [nn.Conv(self.mask_width, (3, 3)) for _ in range(2)]
      self.mask_up = nn.ConvTranspose(self.mask_width, (2, 2), strides=(2, 2))
      self.mask_out = nn.Conv(self.num_classes, (1, 1))

  def __call__(self, x, train: bool = False):
    del train
    f = self.backbone_net(x)
    f = jax.lax.stop_gradient(f) if self.freeze_backbone else f
    h = nn.relu(self.rpn_conv(f))
    n, hh, ww, _ = f.shape
    obj = self.rpn_obj(h)
    deltas = self.rpn_box(h).reshape(n, hh, ww, self.num_anchors, 4)
    if self.is_initializing():  # create the heads' parameters
      self.box_head(jnp.zeros((1, self.roi_size, self.roi_size, f.shape[-1])))
      if self.mask_head:
        self.mask_logits(jnp.zeros((1, 2 * self.roi_size, 2 * self.roi_size, f.shape[-1])))
    return f, obj, deltas

  def box_head(self, pooled):
    """(R, roi, roi, C) pooled features -> class logits (R, K + 1), class-specific deltas (R, K, 4)."""
    h = nn.relu(self.fc1(pooled.reshape(pooled.shape[0], -1)))
    h = nn.relu(self.fc2(h))
    return self.cls(h), self.box(h).reshape(-1, self.num_classes, 4)

  def mask_logits(self, pooled):
    """(R, 14, 14, C) -> (R, 28, 28, K) mask logits."""
    h = pooled
    for conv in self.mask_convs:
      h = nn.relu(conv(h))
    return self.mask_out(nn.relu(self.mask_up(h)))


# ---------------------------------------------------------------------------------------------
# Targets and sampling (one image; vmap over the batch)


def rpn_targets(anchors, gt, valid, pos_iou: float = 0.7, neg_iou: float = 0.3):
  """Anchor labels (A,) int32 (1 positive, 0 negative, -1 ignored) and box deltas (A, 4)."""
  iou = jnp.where(valid[None, :], ops.box_iou(anchors, gt), -1.0)  # (A, M)
  best = jnp.max(iou, axis=1)
  arg = jnp.argmax(iou, axis=1)
  per_gt = jnp.max(iou, axis=0)  # each ground truth's best anchor(s): positive however low (if > 0)
  is_best = jnp.any((iou == per_gt[None, :]) & valid[None, :] & (per_gt[None, :] > 0), axis=1)
  labels = jnp.where(best >= pos_iou, 1, jnp.where(best < neg_iou, 0, -1))
  labels = jnp.where(is_best, 1, labels).astype(jnp.int32)
  deltas = ops.encode_boxes(gt[arg], anchors)
  return labels, deltas


def sample(key, pos, neg, num: int, pos_fraction: float):
  """``num`` indices (static): up to ``num * pos_fraction`` random positives, the rest random negatives;
  and a weight (num,) that is 1 for a real sample (0 for padding when too few candidates exist)."""
  u = jax.random.uniform(key, pos.shape)
  cap = int(num * pos_fraction)
  pos_rank = jnp.argsort(jnp.argsort(-jnp.where(pos, u, -1.0)))
  take_pos = pos & (pos_rank < cap)
  priority = jnp.where(take_pos, 2.0 + u, jnp.where(neg, 1.0 + u, u - 1.0))
  top, idx = jax.lax.top_k(priority, num)
  return idx, (top >= 1.0).astype(jnp.float32)


def proposals(objectness, deltas, anchors, image_size: int, pre_nms: int, post_nms: int, nms_iou: float = 0.7,
              min_size: float = 1.0):
  """Per image: the RPN's proposals (post_nms, 4), their objectness logits and validity (post_nms,)."""
  top, idx = jax.lax.top_k(objectness, pre_nms)
  boxes = ops.clip_boxes(ops.decode_boxes(deltas[idx], anchors[idx]), image_size, image_size)
  ok = ((boxes[:, 2] - boxes[:, 0]) >= min_size) & ((boxes[:, 3] - boxes[:, 1]) >= min_size)
  keep, _ = ops.nms(boxes, top, nms_iou, post_nms, ok)
  valid = keep >= 0
  sel = jnp.maximum(keep, 0)
  return jnp.where(valid[:, None], boxes[sel], 0.0), jnp.where(valid, top[sel], -jnp.inf), valid


def roi_targets(rois, roi_valid, gt, labels, valid, fg_iou: float = 0.5):
  """For candidate RoIs (R, 4): class targets (R,) (0 background, class + 1 foreground, -1 invalid),
  class-specific delta targets (R, 4) and the matched ground truth's index (R,)."""
  iou = jnp.where(valid[None, :], ops.box_iou(rois, gt), -1.0)
  best, arg = jnp.max(iou, axis=1), jnp.argmax(iou, axis=1)
  cls = jnp.where(best >= fg_iou, labels[arg] + 1, 0)
  cls = jnp.where(roi_valid, cls, -1).astype(jnp.int32)
  return cls, ops.encode_boxes(gt[arg], rois, ROI_DELTA_WEIGHTS), arg


def mask_targets(gt_masks, boxes, size: int = 28):
  """Each RoI's mask target (R, size, size) in {0, 1}: its ground-truth mask (R, H, W) RoIAligned
  onto the RoI's grid and thresholded at 0.5."""
  def one(m, b):
    return ops.roi_align(m[..., None].astype(jnp.float32), b[None], (size, size), 1.0, 2, True)[0, ..., 0]
  return (jax.vmap(one)(gt_masks, boxes) >= 0.5).astype(jnp.float32)


def paste_masks(mask_probs, boxes, image_size: int):
  """(K, 28, 28) mask probabilities on their boxes (K, 4) -> (K, H, W) probabilities in the image
  (bilinear, zero outside the box): the inverse of RoIAlign's sampling."""
  def one(m, b):
    size = m.shape[0]
    centres = jnp.arange(image_size, dtype=jnp.float32) + 0.5
    u = (centres - b[0]) / jnp.maximum(b[2] - b[0], 1e-3) * size - 0.5
    v = (centres - b[1]) / jnp.maximum(b[3] - b[1], 1e-3) * size - 0.5
    wx = ops._bilinear_weights(u, size)  # (W, size)
    wy = ops._bilinear_weights(v, size)
    inside_x = (centres >= b[0]) & (centres <= b[2])
    inside_y = (centres >= b[1]) & (centres <= b[3])
    return (wy @ m @ wx.T) * inside_y[:, None] * inside_x[None, :]
  return jax.vmap(one)(mask_probs, boxes)


# ---------------------------------------------------------------------------------------------
# Loss and detection


def smooth_l1(x, beta: float):
  """Smooth L1 (Girshick 2015): ``0.5 x**2 / beta`` for ``|x| < beta``, else ``|x| - 0.5 beta``."""
  return optax.huber_loss(x, delta=beta) / beta


def image_anchors(image_size: int, stride: int, sizes, ratios):
  s = image_size // stride
  return ops.anchors((s, s), stride, sizes, ratios)


def _pool(features, rois, size: int, stride: int):
  """RoIAlign of every image's RoIs: features (N, H, W, C), rois (N, R, 4) -> (N * R, size, size, C)."""
  pooled = jax.vmap(lambda f, r: ops.roi_align(f, r, (size, size), 1.0 / stride, 2, True))(features, rois)
  return pooled.reshape((-1,) + pooled.shape[2:])


def faster_rcnn_loss(model, params, batch, key, anchors, t, image_size: int):
  """Per-image total loss (N,) and the four (five with masks) parts, each (N,)."""
  f, obj, deltas = model.apply({"params": params}, batch["image"])
  n = f.shape[0]
  stride = image_size // f.shape[1]
  obj = obj.reshape(n, -1)
  deltas = deltas.reshape(n, -1, 4)
  k_rpn, k_roi = jax.random.split(key)
  labels, delta_t = jax.vmap(lambda g, v: rpn_targets(anchors, g, v, t.rpn_pos_iou, t.rpn_neg_iou))(batch["boxes"], batch["valid"])
  idx, w = jax.vmap(lambda k, l: sample(k, l == 1, l == 0, t.rpn_batch, 0.5))(jax.random.split(k_rpn, n), labels)
  take = jax.vmap(lambda a, i: a[i])
  lab_s = take(labels, idx).astype(jnp.float32)
  rpn_cls = jnp.sum(w * optax.sigmoid_binary_cross_entropy(take(obj, idx), lab_s), 1) / t.rpn_batch
  rpn_box = jnp.sum(w * lab_s * jnp.sum(smooth_l1(take(deltas, idx) - take(delta_t, idx), 1.0 / 9), -1), 1) / t.rpn_batch

  props, _, pvalid = jax.vmap(lambda o, d: proposals(o, d, anchors, image_size, t.pre_nms_train, t.post_nms_train, t.rpn_nms_iou))(
      jax.lax.stop_gradient(obj), jax.lax.stop_gradient(deltas))
  cands = jnp.concatenate([props, batch["boxes"]], 1)
  cvalid = jnp.concatenate([pvalid, batch["valid"]], 1)
  cls_t, box_t, arg = jax.vmap(lambda r, rv, g, lb, v: roi_targets(r, rv, g, lb, v, t.fg_iou))(
      cands, cvalid, batch["boxes"], batch["labels"], batch["valid"])
  ridx, rw = jax.vmap(lambda k, c: sample(k, c > 0, c == 0, t.roi_batch, t.fg_fraction))(jax.random.split(k_roi, n), cls_t)
  rois, rcls, rbox, rarg = take(cands, ridx), take(cls_t, ridx), take(box_t, ridx), take(arg, ridx)
  logits, pred = model.apply({"params": params}, _pool(f, rois, model.roi_size, stride), method=FasterRCNN.box_head)
  logits = logits.reshape(n, t.roi_batch, -1)
  pred = pred.reshape(n, t.roi_batch, model.num_classes, 4)
  fg = (rcls > 0).astype(jnp.float32) * rw
  cls_loss = jnp.sum(rw * optax.softmax_cross_entropy_with_integer_labels(logits, jnp.maximum(rcls, 0)), 1) / t.roi_batch
  pred_fg = jnp.take_along_axis(pred, jnp.maximum(rcls - 1, 0)[..., None, None], axis=2)[:, :, 0]
  box_loss = jnp.sum(fg * jnp.sum(smooth_l1(pred_fg - rbox, 1.0), -1), 1) / t.roi_batch
  parts = {"rpn_cls": rpn_cls, "rpn_box": rpn_box, "cls": cls_loss, "box": box_loss}
  if model.mask_head:
    # only foreground RoIs have a mask loss; :func:`sample` puts them first, so the first
    # roi_batch * fg_fraction sampled RoIs hold them all (the rest of that slice weighs 0)
    nfg = int(t.roi_batch * t.fg_fraction)
    m_rois, m_cls, m_fg = rois[:, :nfg], rcls[:, :nfg], fg[:, :nfg]
    gt_masks = take(batch["masks"], rarg[:, :nfg])  # (N, nfg, H, W)
    target = jax.vmap(lambda m, b: mask_targets(m, b, 2 * 2 * model.roi_size))(gt_masks, m_rois)
    ml = model.apply({"params": params}, _pool(f, m_rois, 2 * model.roi_size, stride), method=FasterRCNN.mask_logits)
    ml = ml.reshape(n, nfg, 4 * model.roi_size, 4 * model.roi_size, model.num_classes)
    ml = jnp.take_along_axis(ml, jnp.maximum(m_cls - 1, 0)[:, :, None, None, None], axis=-1)[..., 0]
    bce = jnp.mean(optax.sigmoid_binary_cross_entropy(ml, target), (2, 3))
    parts["mask"] = jnp.sum(m_fg * bce, 1) / jnp.maximum(jnp.sum(m_fg, 1), 1.0)
  total = sum(parts.values())
  return total, parts


def faster_rcnn_detect(model, params, images, anchors, t, image_size: int, with_masks: bool = False):
  """Detections per image, padded to ``t.max_detections``: boxes, scores, labels, valid (and mask
  probabilities (N, K, H, W) with ``with_masks``), and the proposals (N, post_nms_test, 4) + validity."""
  f, obj, deltas = model.apply({"params": params}, images)
  n = f.shape[0]
  stride = image_size // f.shape[1]
  props, _, pvalid = jax.vmap(lambda o, d: proposals(o, d, anchors, image_size, t.pre_nms_test, t.post_nms_test, t.rpn_nms_iou))(
      obj.reshape(n, -1), deltas.reshape(n, -1, 4))
  logits, pred = model.apply({"params": params}, _pool(f, props, model.roi_size, stride), method=FasterRCNN.box_head)
  r = props.shape[1]
  ncls = model.num_classes
  probs = jax.nn.softmax(logits, -1)[:, 1:].reshape(n, r, ncls)
  boxes = ops.decode_boxes(pred.reshape(n, r, ncls, 4), props[:, :, None, :], ROI_DELTA_WEIGHTS)
  boxes = ops.clip_boxes(boxes, image_size, image_size)

  def one(p, b, pv):
    scores = jnp.where(pv[:, None], p, 0.0).reshape(-1)
    top, idx = jax.lax.top_k(scores, t.pre_nms)
    box, label = b.reshape(-1, 4)[idx], (idx % ncls).astype(jnp.int32)
    shifted = box + (label * (image_size + 1.0))[:, None]  # class-aware NMS
    keep, _ = ops.nms(shifted, top, t.nms_iou, t.max_detections, top > t.score_threshold)
    ok = keep >= 0
    sel = jnp.maximum(keep, 0)
    return box[sel], jnp.where(ok, top[sel], 0.0), jnp.where(ok, label[sel], -1), ok

  det_boxes, det_scores, det_labels, det_valid = jax.vmap(one)(probs, boxes, pvalid)
  out = {"boxes": det_boxes, "scores": det_scores, "labels": det_labels, "valid": det_valid, "proposals": props,
         "proposals_valid": pvalid}
  if with_masks:
    k = det_boxes.shape[1]
    ml = model.apply({"params": params}, _pool(f, det_boxes, 2 * model.roi_size, stride), method=FasterRCNN.mask_logits)
    ml = ml.reshape(n, k, 4 * model.roi_size, 4 * model.roi_size, ncls)
    ml = jnp.take_along_axis(ml, jnp.maximum(det_labels, 0)[:, :, None, None, None], axis=-1)[..., 0]
    out["masks"] = jax.vmap(lambda m, b: paste_masks(jax.nn.sigmoid(m), b, image_size))(ml, det_boxes)
  return out


def proposal_recall(proposals_, proposals_valid, gt, gt_valid, iou: float = 0.5) -> float:
  """The fraction of ground-truth boxes that some (valid) proposal covers at IoU >= ``iou``."""
  m = jnp.where(proposals_valid[:, :, None], ops.box_iou(proposals_, gt), 0.0)
  covered = jnp.max(m, axis=1) >= iou
  return float(jnp.sum(covered & gt_valid) / jnp.maximum(jnp.sum(gt_valid), 1))


def mean_mask_iou(gt_masks, gt_labels, gt_valid, masks, labels, valid, scores, box_iou_threshold: float = 0.5,
                  gt_boxes=None, boxes=None) -> float:
  """For every ground-truth instance, the mask IoU of the best-scoring detection of its class whose
  box overlaps it at IoU >= ``box_iou_threshold`` (0 when there is none); averaged over instances."""
  total, count = 0.0, 0
  for i in range(len(gt_masks)):
    for j in np.nonzero(gt_valid[i])[0]:
      count += 1
      cand = [k for k in np.nonzero(valid[i])[0] if labels[i, k] == gt_labels[i, j]]
      if gt_boxes is not None and cand:
        overlap = metrics.iou_matrix(np.asarray(gt_boxes[i, j])[None], np.asarray(boxes[i])[cand])[0]
        cand = [k for k, o in zip(cand, overlap) if o >= box_iou_threshold]
      if not cand:
        continue
      k = max(cand, key=lambda k: scores[i, k])
      a, b = gt_masks[i, j], masks[i, k] >= 0.5
      total += float((a & b).sum() / max((a | b).sum(), 1))
  return total / max(count, 1)


# ---------------------------------------------------------------------------------------------
# R-CNN against Fast R-CNN: the same backbone and head, 200 proposals


def rcnn_functions(image_size: int = 56, crop: int = 56, num_proposals: int = 200, widths=(32, 64, 128), head_width: int = 256,
                   num_classes: int = 13):
  """R-CNN and Fast R-CNN with the same backbone and head, on one image with ``num_proposals`` random
  proposals: ``({"rcnn": f, "fast_rcnn": g}, params, image, boxes)``, each ``f(params, image, boxes)``
  returning the head's class logits and deltas. R-CNN warps every proposal to ``crop`` x ``crop``
  (bilinear crop-and-resize), runs the backbone on each and RoI-pools the whole crop; Fast R-CNN runs
  the backbone once and RoI-pools every proposal on the shared feature map."""
  model = FasterRCNN(num_classes=num_classes, widths=tuple(widths), head_width=head_width)
  params = model.init(jax.random.PRNGKey(0), jnp.zeros((1, image_size, image_size, 3)))["params"]
  stride = 2 ** (len(widths) - 1)
  key = jax.random.PRNGKey(1)
  xy = jax.random.uniform(key, (num_proposals, 2), maxval=image_size * 0.6)
  wh = jax.random.uniform(jax.random.fold_in(key, 1), (num_proposals, 2), minval=8.0, maxval=image_size * 0.4)
  boxes = jnp.concatenate([xy, xy + wh], -1)
  image = jax.random.uniform(jax.random.fold_in(key, 2), (image_size, image_size, 3))

  def fast(params, image, boxes):
    f = model.apply({"params": params}, image[None])[0][0]
    pooled = ops.roi_pool(f, boxes, (model.roi_size, model.roi_size), 1.0 / stride)
    return model.apply({"params": params}, pooled, method=FasterRCNN.box_head)

  def slow(params, image, boxes):
    # warp: bilinear resampling of each proposal to crop x crop (RoIAlign on the image = a crop-and-resize)
    crops = ops.roi_align(image, boxes, (crop, crop), 1.0, 1, True)
    f = model.apply({"params": params}, crops)[0]  # (P, crop / stride, crop / stride, C)
    full = jnp.asarray([0.0, 0.0, float(crop), float(crop)])[None]
    pooled = jax.vmap(lambda g: ops.roi_pool(g, full, (model.roi_size, model.roi_size), 1.0 / stride)[0])(f)
    return model.apply({"params": params}, pooled, method=FasterRCNN.box_head)

  return {"rcnn": slow, "fast_rcnn": fast}, params, image, boxes


def rcnn_flops(image_size: int = 56, crop: int = 56, num_proposals: int = 200, widths=(32, 64, 128), head_width: int = 256,
               num_classes: int = 13) -> dict[str, float]:
  """Per-image FLOPs by XLA's cost analysis of R-CNN against Fast R-CNN (:func:`rcnn_functions`)."""
  fns, params, image, boxes = rcnn_functions(image_size, crop, num_proposals, widths, head_width, num_classes)

  def flops(fn):
    cost = jax.jit(fn).lower(params, image, boxes).compile().cost_analysis()
    cost = cost[0] if isinstance(cost, (list, tuple)) else cost
    return float(cost["flops"])

  r, fr = flops(fns["rcnn"]), flops(fns["fast_rcnn"])
  return {"rcnn_flops": r, "fast_rcnn_flops": fr, "ratio": r / fr}


def default_sizes(image_size: int) -> tuple[float, ...]:
  """Anchor sizes for a canvas: the scene objects span about 10 to 30 pixels at 56 (scaled)."""
  return tuple(round(s * image_size / 56.0, 2) for s in (10.0, 18.0, 30.0))


__all__ = ["FasterRCNN", "rpn_targets", "sample", "proposals", "roi_targets", "mask_targets", "paste_masks",
           "faster_rcnn_loss", "faster_rcnn_detect", "proposal_recall", "mean_mask_iou", "rcnn_functions", "rcnn_flops"]
