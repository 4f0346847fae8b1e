"""Faster R-CNN / Mask R-CNN at toy size: the RPN's anchor labels, sampling, static-shape proposals,
RoI and mask targets, one compilation across object counts, the loss falling on one batch, and the
R-CNN / Fast R-CNN FLOP ratio."""

from __future__ import annotations

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from cs231n_jax.data import scenes as S
from cs231n_jax.detection import metrics, ops, two_stage
from cs231n_jax.tasks import detection as T


def test_rpn_targets_follow_the_paper():
  anchors = jnp.array([[0.0, 0, 10, 10], [0, 0, 10, 8], [0, 0, 10, 5], [20, 20, 30, 30], [40, 40, 50, 50]])
  gt = jnp.array([[0.0, 0, 10, 10], [21, 21, 35, 35], [0, 0, 0, 0]])
  labels, deltas = two_stage.rpn_targets(anchors, gt, jnp.array([True, True, False]))
  # IoU 1 -> positive; 0.8 -> positive; 0.5 -> ignored; the second box's best anchor (IoU 0.38) -> positive
  # although below 0.7; no overlap -> negative
  np.testing.assert_array_equal(labels, [1, 1, -1, 1, 0])
  np.testing.assert_allclose(ops.decode_boxes(deltas[3], anchors[3]), gt[1], atol=1e-4)


def test_sampling_caps_positives_and_fills_with_negatives():
  pos = jnp.arange(20) < 8
  neg = (jnp.arange(20) >= 8) & (jnp.arange(20) < 18)
  idx, w = two_stage.sample(jax.random.PRNGKey(0), pos, neg, 8, 0.25)
  idx = np.asarray(idx)
  assert len(set(idx.tolist())) == 8 and np.all(w == 1)
  assert int(pos[idx].sum()) == 2 and int(neg[idx].sum()) == 6
  idx, w = two_stage.sample(jax.random.PRNGKey(1), jnp.arange(6) < 1, jnp.arange(6) == 1, 4, 0.5)  # too few
  assert float(w.sum()) == 2.0 and set(np.asarray(idx)[np.asarray(w) > 0].tolist()) == {0, 1}


def test_proposals_are_static_nms_filtered_and_recall_is_counted():
  anchors = jnp.array([[0.0, 0, 10, 10], [0.5, 0.5, 10.5, 10.5], [30, 30, 40, 40], [31, 30, 41, 40], [5, 40, 15, 50]])
  obj = jnp.array([3.0, 2.0, 1.0, 4.0, -1.0])
  boxes, scores, valid = jax.jit(lambda o: two_stage.proposals(o, jnp.zeros((5, 4)), anchors, 56, 5, 4, 0.7))(obj)
  assert boxes.shape == (4, 4) and valid.tolist() == [True, True, True, False]
  np.testing.assert_allclose(boxes[:3], anchors[jnp.array([3, 0, 4])], atol=1e-5)  # 1 and 2 suppressed
  gt = jnp.array([[[30.0, 30, 41, 40], [20, 20, 25, 25]]])
  assert two_stage.proposal_recall(boxes[None], valid[None], gt, jnp.array([[True, True]])) == 0.5


def test_roi_and_mask_targets_and_pasting():
  gt = jnp.array([[10.0, 10, 30, 30], [0, 0, 0, 0]])
  rois = jnp.array([[10.0, 10, 30, 30], [12, 12, 30, 30], [40, 40, 50, 50]])
  cls, deltas, arg = two_stage.roi_targets(rois, jnp.array([True, True, False]), gt, jnp.array([4, -1]), jnp.array([True, False]))
  assert cls.tolist() == [5, 5, -1] and arg[:2].tolist() == [0, 0]
  np.testing.assert_allclose(ops.decode_boxes(deltas[1], rois[1], two_stage.ROI_DELTA_WEIGHTS), gt[0], atol=1e-4)
  mask = jnp.zeros((56, 56), bool).at[10:30, 10:20].set(True)  # the left half of the box
  target = two_stage.mask_targets(mask[None], rois[:1])[0]
  assert target.shape == (28, 28) and float(target[:, :14].min()) == 1.0 and float(target[:, 14:].max()) == 0.0
  pasted = two_stage.paste_masks(target[None], rois[:1], 56)[0] >= 0.5  # and back into the image
  assert float(jnp.mean(pasted == mask)) > 0.99


def test_mean_mask_iou_by_hand():
  gt = np.zeros((1, 2, 8, 8), bool)
  gt[0, 0, :4, :4] = True
  gt[0, 1, 4:, 4:] = True
  pred = np.zeros((1, 2, 8, 8), np.float32)
  pred[0, 0, :4, :2] = 1.0  # half of instance 0
  iou = two_stage.mean_mask_iou(gt, np.array([[1, 2]]), np.ones((1, 2), bool), pred, np.array([[1, 0]]),
                                np.array([[True, True]]), np.array([[0.9, 0.8]]))
  assert iou == pytest.approx(0.25)  # (0.5 + 0 for the instance without a detection of its class) / 2
  gt_boxes, boxes = np.array([[[0.0, 0, 4, 4], [4, 4, 8, 8]]]), np.array([[[0.0, 0, 2, 4], [4, 4, 8, 8]]])
  args = (gt, np.array([[1, 2]]), np.ones((1, 2), bool), pred, np.array([[1, 0]]), np.array([[True, True]]), np.array([[0.9, 0.8]]))
  assert two_stage.mean_mask_iou(*args, 0.5, gt_boxes, boxes) == pytest.approx(0.25)  # box IoU 0.5: matched
  assert two_stage.mean_mask_iou(*args, 0.6, gt_boxes, boxes) == 0.0  # below the box threshold: no match


@pytest.fixture(scope="module")
def toy():
  c = T.base_config("faster_rcnn")
  c.model.kwargs = {"widths": (8, 16, 16), "rpn_width": 16, "head_width": 32, "mask_head": True, "mask_width": 8}
  c.task.update({"rpn_batch": 64, "pre_nms_train": 100, "post_nms_train": 20, "pre_nms_test": 100, "post_nms_test": 30,
                 "roi_batch": 16})
  model = T.build_model(c, 13)
  scenes = S.detection_scenes(12, seed=0, size=56, max_objects=6, classes="all", split="val")
  anchors = two_stage.image_anchors(56, 4, c.task.rpn_sizes, c.task.rpn_ratios)
  params = jax.jit(model.init)(jax.random.PRNGKey(0), jnp.zeros((1, 56, 56, 3)))["params"]
  tx = optax.adam(3e-3)

  @jax.jit
  @chex.assert_max_traces(n=1)  # a second trace (a new shape) raises
  def step(params, opt_state, batch, key):
    def loss_fn(p):
      total, parts = two_stage.faster_rcnn_loss(model, p, batch, key, anchors, c.task, 56)
      return jnp.mean(total), parts
    (loss, parts), grads = jax.value_and_grad(loss_fn, has_aux=True)(params)
    updates, opt_state = tx.update(grads, opt_state, params)
    return optax.apply_updates(params, updates), opt_state, loss, parts

  def batch(sl):
    return {"image": scenes.images[sl], "boxes": scenes.boxes[sl], "labels": scenes.labels[sl], "valid": scenes.valid[sl],
            "masks": scenes.masks[sl]}

  return c, model, anchors, params, tx, step, batch, scenes


def test_one_compile_across_object_counts_and_the_loss_falls(toy):
  c, model, anchors, params, tx, step, batch, scenes = toy
  opt_state = tx.init(params)
  counts = set()
  for k in range(3):
    counts.add(int(scenes.valid[4 * k:4 * k + 4].sum()))
    _, _, loss, parts = step(params, opt_state, batch(slice(4 * k, 4 * k + 4)), jax.random.PRNGKey(k))
    assert set(parts) == {"rpn_cls", "rpn_box", "cls", "box", "mask"} and all(v.shape == (4,) for v in parts.values())
  assert len(counts) > 1  # the batches really held different numbers of objects
  b = batch(slice(0, 4))
  first = None
  for i in range(25):  # same batch, same sampling key: the loss must fall
    params, opt_state, loss, _ = step(params, opt_state, b, jax.random.PRNGKey(0))
    first = float(loss) if first is None else first
  assert float(loss) < 0.7 * first
  d = jax.jit(lambda p, x: two_stage.faster_rcnn_detect(model, p, x, anchors, c.task, 56, True))(params, b["image"])
  assert d["boxes"].shape == (4, 50, 4) and d["masks"].shape == (4, 50, 56, 56) and d["proposals"].shape == (4, 30, 4)
  assert np.all(np.asarray(d["labels"])[np.asarray(d["valid"])] >= 0)
  args = (b["boxes"], b["labels"], b["valid"], *(np.asarray(d[k]) for k in ("boxes", "scores", "labels", "valid")))
  ours = metrics.mean_average_precision(*args, num_classes=13)
  assert abs(ours["map50"] - metrics.cocoeval(*args, num_classes=13)["map50"]) < 1e-6


def test_fast_rcnn_shares_the_backbone_and_is_over_ten_times_cheaper():
  r = two_stage.rcnn_flops(image_size=56, crop=32, num_proposals=200, widths=(8, 16, 16), head_width=32)
  assert r["ratio"] == pytest.approx(r["rcnn_flops"] / r["fast_rcnn_flops"]) and r["ratio"] > 10
