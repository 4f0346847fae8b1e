"""Object detection as tasks: the single-shot detector, classification + localization, Faster / Mask R-CNN and DETR.

Data: the detection scenes of :mod:`cs231n_jax.data.scenes` (boxes padded to ``data.max_objects``
with a validity mask, so every batch has one shape whatever its number of objects — no
recompilation), or a COCO-format directory (``data.name = "coco"``) via :mod:`cs231n_jax.data.coco_format`.

**Single shot** (``model.name = "single_shot"``; the lecture gives the output, S x S x (5B + C), not
the loss; this follows YOLO (Redmon et al. 2016) with anchors as in YOLOv2 / SSD): a ground-truth box
is assigned to the grid cell holding its centre and, in that cell, to the base box (anchor) whose
shape overlaps it most. That base box's confidence target is 1 (all others 0; negatives weighted
``task.noobj_weight``), its 4 numbers regress the box's deltas (:func:`cs231n_jax.detection.ops.encode_boxes`,
smooth-L1, weight ``task.box_weight``) and the cell's class scores take the box's class
(cross-entropy). The sum is divided by the number of assigned boxes. Detections: score = confidence
x class probability for every (base box, class), the best ``task.pre_nms`` kept, class-aware NMS at
IoU ``task.nms_iou``, at most ``task.max_detections`` per image (static, padded).

**Classification + localization** (``model.name = "classify_localize"``, scenes with exactly one
object): softmax loss on the class + ``task.box_weight`` x L2 loss on the box (x0, y0, x1, y1) / image
size — the lecture's multitask loss; reported: class accuracy and mean IoU of the predicted box.

**DETR** (``model.name = "detr"``, :mod:`cs231n_jax.detection.detr`): set prediction — per image the
ground-truth objects are matched to the object queries by the exact Hungarian assignment
(:func:`cs231n_jax.detection.matching.linear_sum_assignment`) on DETR's cost (class probability, L1,
GIoU; weights ``task.cost_class`` / ``cost_bbox`` / ``cost_giou``), then cross-entropy ("no object"
weighted ``task.eos_coef``) + L1 + GIoU losses on every decoder layer; detections are the queries'
best classes, without NMS.

Evaluation during training sums the loss (the best state has the lowest validation loss). After
training, ``finish`` runs the detector over val and test and scores the detections with the
project's mAP and pycocotools' COCOeval (:mod:`cs231n_jax.detection.metrics`): ``<split>_map50``,
``<split>_map`` (COCO mAP@[.5:.95]), ``<split>_cocoeval_map50`` / ``_map``.
"""

from __future__ import annotations

import time
from typing import Any

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax

from cs231n_jax import optim
from cs231n_jax.data import coco_format
from cs231n_jax.data import scenes as S
from cs231n_jax.data.pipeline import ArraySource, BatchIterator, eval_batches
from cs231n_jax.detection import backbones, detectors, detr, metrics, ops, two_stage
from cs231n_jax.errors import ConfigError
from cs231n_jax.models.registry import family_of, get_model
from cs231n_jax.train import loop
from cs231n_jax.train.steps import mean_over_valid, psum_if
from cs231n_jax.train.task import Data, Task

RUNNER = "cs231n_jax.tasks.detection:run"
MODELS = ("single_shot", "classify_localize", "faster_rcnn", "detr")
MIN_BOX_SIDE = 1e-2  # pixels: the single shot drops narrower decoded boxes (torchvision's postprocess, min_size=1e-2)


def base_config(model: str = "single_shot") -> ml_collections.ConfigDict:
  c = ml_collections.ConfigDict()
  c.runner = RUNNER
  c.seed = 0
  c.data = ml_collections.ConfigDict({
      "name": "scenes", "num_train": 2000, "num_val": 200, "num_test": 400, "image_size": 56, "max_objects": 6,
      "min_objects": 1, "classes": "all", "dir": "", "annotation_file": "annotations.json", "val_fraction": 0.1,
  })
  if model == "classify_localize":
    c.data.max_objects = 1
  c.model = ml_collections.ConfigDict({"name": model, "kwargs": {}})
  c.task = ml_collections.ConfigDict({
      "stride": 8,  # the single-shot backbone's stride (2 ** (len(widths) - 1))
      "anchor_sizes": (12.0, 20.0, 30.0),  # B square base boxes per cell, pixels
      "noobj_weight": 0.5, "box_weight": 2.0, "class_weight": 1.0,
      "class_per_anchor": False,  # False: C class scores per cell (YOLO v1, the lecture's S x S x (5B + C)); True: per base box
      "pre_nms": 100, "nms_iou": 0.5, "max_detections": 50, "score_threshold": 0.001,
  })
  if model == "faster_rcnn":  # Ren et al. 2015 / Girshick 2015 numbers (module docstring of detection.two_stage)
    c.task.stride = 4
    c.task.update({
        "rpn_sizes": two_stage.default_sizes(56), "rpn_ratios": (0.5, 1.0, 2.0), "rpn_pos_iou": 0.7, "rpn_neg_iou": 0.3,
        "rpn_batch": 256, "rpn_nms_iou": 0.7, "pre_nms_train": 600, "post_nms_train": 150, "pre_nms_test": 1000,
        "post_nms_test": 300, "fg_iou": 0.5, "roi_batch": 64, "fg_fraction": 0.25, "eval_chunk": 20,
    })
  if model == "detr":  # Carion et al. 2020: matching costs = loss weights 1 / 5 / 2, "no object" weight 0.1
    c.task.update({"cost_class": 1.0, "cost_bbox": 5.0, "cost_giou": 2.0, "eos_coef": 0.1})
  c.optimizer = optim.default_config("adam", 1e-3)
  c.optimizer.schedule.name = "cosine"
  c.train = loop.engine_config()
  c.train.update({"batch_size": 32, "num_epochs": 0, "num_steps": 1000, "eval_every": 250, "log_every": 50,
                  "eval_batch_size": 100, "keep_checkpoints": 1})
  return c


def check_config(config: ml_collections.ConfigDict) -> None:
  if config.model.name not in MODELS:
    try:
      family = family_of(config.model.name)
    except ValueError:
      family = "unregistered"
    raise ConfigError(f"model.name: expected one of {MODELS}, got {config.model.name!r} (family {family!r})")
  d = config.data
  if d.name not in ("scenes", "coco"):
    raise ConfigError(f"data.name: expected 'scenes' or 'coco', got {d.name!r}")
  if config.model.name == "classify_localize" and d.max_objects != 1:
    raise ConfigError(f"data.max_objects: classification + localization needs exactly one object, got {d.max_objects}")
  kwargs = config.model.get("kwargs", {})
  name = kwargs.get("backbone", "scratch")
  if name != "scratch":
    if config.model.name == "detr":
      raise ConfigError("model.kwargs.backbone: DETR takes only the scratch backbone")
    blocks = kwargs.get("backbone_blocks", 3 if config.model.name == "faster_rcnn" else 6)
    stride = backbones.pretrained_stride(name, blocks)
    if config.model.name != "classify_localize" and stride != config.task.stride:
      raise ConfigError(f"task.stride: {name} cut after {blocks} blocks has stride {stride}, got task.stride={config.task.stride}")
  if d.image_size % config.task.stride:
    raise ConfigError(f"data.image_size: expected a multiple of task.stride={config.task.stride}, got {d.image_size}")
  loop.check_engine_config(config.train)


def with_masks(config) -> bool:
  return config.model.name == "faster_rcnn" and bool(config.model.get("kwargs", {}).get("mask_head", False))


def load_splits(config) -> tuple[dict[str, dict[str, np.ndarray]], tuple[str, ...]]:
  d = config.data
  keys = ("image", "boxes", "labels", "valid") + (("masks",) if with_masks(config) else ())
  if d.name == "scenes":
    min_objects = d.max_objects if config.model.name == "classify_localize" else d.min_objects
    # digit_distort (optional): random affine warps of the train split's digits; scenes.check_digit_distort reads
    # any mapping, a ConfigDict included
    splits = S.load_detection_scenes(d.num_train, d.num_val, d.num_test, config.seed, d.image_size, d.max_objects,
                                     d.classes, min_objects, digit_distort=d.get("digit_distort"))
    return {k: {key: v.arrays(True)[key] for key in keys} for k, v in splits.items()}, splits["train"].class_names
  coco = coco_format.load_coco_directory(d.dir, d.annotation_file, d.max_objects, d.image_size, with_masks=with_masks(config),
                                         truncate=False)
  arrays = {"image": coco.images, "boxes": coco.boxes, "labels": coco.labels, "valid": coco.valid}
  if with_masks(config):
    arrays["masks"] = coco.masks
  order = np.random.default_rng(config.seed).permutation(len(coco))
  n_val = max(1, int(round(d.val_fraction * len(coco))))
  parts = {"train": order[n_val:], "val": order[:n_val], "test": order[:n_val]}
  return {k: {key: v[i] for key, v in arrays.items()} for k, i in parts.items()}, coco.class_names


# ---------------------------------------------------------------------------------------------
# Single shot


def grid_anchors(image_size: int, t) -> jax.Array:
  s = image_size // t.stride
  return ops.anchors((s, s), t.stride, t.anchor_sizes).reshape(s, s, len(t.anchor_sizes), 4)


def single_shot_targets(boxes, labels, valid, anchors, stride: int, sizes, class_per_anchor: bool = False):
  """Per image: confidence targets (S, S, B), box deltas (S, S, B, 4), class targets (S, S) per cell, or
  (S, S, B) per base box with ``class_per_anchor`` (-1: none)."""
  s, _, b, _ = anchors.shape
  cx, cy = (boxes[:, 0] + boxes[:, 2]) / 2, (boxes[:, 1] + boxes[:, 3]) / 2
  i = jnp.clip(jnp.floor(cy / stride).astype(jnp.int32), 0, s - 1)
  j = jnp.clip(jnp.floor(cx / stride).astype(jnp.int32), 0, s - 1)
  w, h = boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]
  a = jnp.asarray(sizes, jnp.float32)
  inter = jnp.minimum(w[:, None], a) * jnp.minimum(h[:, None], a)
  k = jnp.argmax(inter / (w[:, None] * h[:, None] + a * a - inter), axis=1)
  i = jnp.where(valid, i, s)  # padded boxes scatter out of bounds and are dropped
  conf = jnp.zeros((s, s, b)).at[i, j, k].set(1.0, mode="drop")
  deltas = ops.encode_boxes(boxes, anchors[jnp.minimum(i, s - 1), j, k])
  delta_t = jnp.zeros((s, s, b, 4)).at[i, j, k].set(deltas, mode="drop")
  if class_per_anchor:
    cls = jnp.full((s, s, b), -1, jnp.int32).at[i, j, k].set(labels, mode="drop")
  else:
    cls = jnp.full((s, s), -1, jnp.int32).at[i, j].set(labels, mode="drop")
  return conf, delta_t, cls


def single_shot_loss(out, batch, anchors, t, num_anchors: int):
  """Per-image loss (N,): confidence BCE (negatives weighted ``t.noobj_weight``) + ``t.box_weight`` x smooth-L1
  on the responsible base boxes' deltas + ``t.class_weight`` x class cross-entropy on the responsible cells
  (or base boxes, ``t.class_per_anchor``), over the number of assigned boxes."""
  per_anchor = bool(t.get("class_per_anchor", False))
  deltas, conf_logits, cls_logits = detectors.split_single_shot(out, num_anchors, per_anchor)
  conf_t, delta_t, cls_t = jax.vmap(lambda b, l, v: single_shot_targets(b, l, v, anchors, t.stride, t.anchor_sizes, per_anchor))(
      batch["boxes"], batch["labels"], batch["valid"])
  bce = optax.sigmoid_binary_cross_entropy(conf_logits, conf_t)
  conf_loss = jnp.sum(conf_t * bce + t.noobj_weight * (1 - conf_t) * bce, axis=(1, 2, 3))
  box_loss = jnp.sum(conf_t[..., None] * optax.huber_loss(deltas, delta_t), axis=(1, 2, 3, 4))
  has = cls_t >= 0
  ce = optax.softmax_cross_entropy_with_integer_labels(cls_logits, jnp.maximum(cls_t, 0))
  cls_loss = jnp.sum((has * ce).reshape(len(ce), -1), axis=1)
  npos = jnp.maximum(jnp.sum(conf_t, axis=(1, 2, 3)), 1.0)
  return (conf_loss + t.box_weight * box_loss + t.get("class_weight", 1.0) * cls_loss) / npos


def single_shot_detect(out, anchors, t, num_anchors: int, image_size: int):
  """Detections per image, padded: boxes (N, K, 4), scores (N, K), labels (N, K), valid (N, K)."""
  per_anchor = bool(t.get("class_per_anchor", False))
  deltas, conf_logits, cls_logits = detectors.split_single_shot(out, num_anchors, per_anchor)

  def one(d, c, l):
    boxes = ops.clip_boxes(ops.decode_boxes(d, anchors), image_size, image_size).reshape(-1, 4)  # (A, 4)
    cls_probs = jax.nn.softmax(l, -1) if per_anchor else jax.nn.softmax(l, -1)[:, :, None, :]
    probs = jax.nn.sigmoid(c)[..., None] * cls_probs  # (S, S, B, C)
    ncls = probs.shape[-1]
    scores = probs.reshape(-1)
    top, idx = jax.lax.top_k(scores, t.pre_nms)
    box, label = boxes[idx // ncls], (idx % ncls).astype(jnp.int32)
    shifted = box + (label * (image_size + 1.0))[:, None]  # class-aware NMS: classes never overlap
    # boxes clipped to (almost) nothing at the image's edge are no detections (torchvision's remove_small_boxes)
    solid = jnp.minimum(box[:, 2] - box[:, 0], box[:, 3] - box[:, 1]) >= MIN_BOX_SIDE
    keep, _ = ops.nms(shifted, top, t.nms_iou, t.max_detections, (top > t.score_threshold) & solid)
    ok = keep >= 0
    sel = jnp.maximum(keep, 0)
    return box[sel], jnp.where(ok, top[sel], 0.0), jnp.where(ok, label[sel], -1), ok

  return jax.vmap(one)(deltas, conf_logits, cls_logits)


# ---------------------------------------------------------------------------------------------
# Classification + localization


def classify_localize_loss(out, batch, image_size: int, box_weight: float):
  label = batch["labels"][:, 0]
  target = batch["boxes"][:, 0] / image_size
  ce = optax.softmax_cross_entropy_with_integer_labels(out["logits"], label)
  return ce + box_weight * jnp.sum((out["box"] - target) ** 2, -1)


def classify_localize_boxes(out, image_size: int):
  b = out["box"] * image_size
  lo, hi = jnp.minimum(b[:, :2], b[:, 2:]), jnp.maximum(b[:, :2], b[:, 2:])
  return ops.clip_boxes(jnp.concatenate([lo, hi], -1), image_size, image_size)


# ---------------------------------------------------------------------------------------------
# The task


def detection_task(model, tx, config, splits, image_size: int, num_classes: int) -> Task:
  t = config.task
  kind = config.model.name
  anchors = grid_anchors(image_size, t) if kind == "single_shot" else None
  if kind == "faster_rcnn":
    anchors = two_stage.image_anchors(image_size, t.stride, t.rpn_sizes, t.rpn_ratios)
  num_anchors = len(t.anchor_sizes)
  masks = with_masks(config)

  def losses(params, batch, key):
    if kind == "faster_rcnn":
      total, parts = two_stage.faster_rcnn_loss(model, params, batch, key, anchors, t, image_size)
      return total, parts
    out = model.apply({"params": params}, batch["image"])
    if kind == "detr":
      return detr.detr_loss(out, batch, t, image_size, num_classes)
    if kind == "single_shot":
      return single_shot_loss(out, batch, anchors, t, num_anchors), out
    return classify_localize_loss(out, batch, image_size, t.box_weight), out

  def init(key, example):
    del example
    params = model.init(key, jnp.zeros((1, image_size, image_size, 3)))["params"]
    params = backbones.with_pretrained(params, model)  # the converted ImageNet weights, if asked for
    return {"params": params, "opt_state": tx.init(params)}

  def train_step(state, batch, key, axis_name=None):
    mask = batch["mask"]

    def loss_fn(params):
      per, _ = losses(params, batch, key)
      return mean_over_valid(per, mask, axis_name)

    loss, grads = jax.value_and_grad(loss_fn)(state["params"])
    grads = psum_if(grads, axis_name)
    updates, opt_state = tx.update(grads, state["opt_state"], state["params"])
    return {"params": optax.apply_updates(state["params"], updates), "opt_state": opt_state}, {"loss": psum_if(loss, axis_name)}

  def eval_step(state, batch):
    per, out = losses(state["params"], batch, jax.random.PRNGKey(0))
    mask = batch["mask"]
    sums = {"loss_sum": jnp.sum(per * mask), "count": jnp.sum(mask)}
    if kind in ("faster_rcnn", "detr"):
      sums.update({f"{k}_loss_sum": jnp.sum(v * mask) for k, v in out.items()})
    if kind == "classify_localize":
      box = classify_localize_boxes(out, image_size)
      iou = jax.vmap(lambda a, b: ops.box_iou(a[None], b[None])[0, 0])(box, batch["boxes"][:, 0])
      sums["accuracy_sum"] = jnp.sum((jnp.argmax(out["logits"], -1) == batch["labels"][:, 0]) * mask)
      sums["box_iou_sum"] = jnp.sum(iou * mask)
    return sums

  if kind == "faster_rcnn":
    predict = jax.jit(lambda params, images: two_stage.faster_rcnn_detect(model, params, images, anchors, t, image_size, masks))
  else:
    predict = jax.jit(lambda params, images: dict(zip(("boxes", "scores", "labels", "valid"),
                                                      detect(model, params, images, config, image_size))))
  chunk = int(t.get("eval_chunk", 100))

  def finish(state, evals, workdir):
    del evals, workdir
    if kind == "classify_localize":
      return {}
    out: dict[str, Any] = {}
    for split in ("val", "test"):
      arr = splits[split]
      dets = [predict(state["params"], arr["image"][k:k + chunk]) for k in range(0, len(arr["image"]), chunk)]
      d = {key: np.concatenate([np.asarray(x[key]) for x in dets]) for key in dets[0]}
      args = (arr["boxes"], arr["labels"], arr["valid"], d["boxes"], d["scores"], d["labels"], d["valid"])
      ours = metrics.mean_average_precision(*args, num_classes=num_classes)
      coco = metrics.cocoeval(*args, num_classes=num_classes)
      out.update({f"{split}_map50": ours["map50"], f"{split}_map": ours["map"],
                  f"{split}_cocoeval_map50": coco["map50"], f"{split}_cocoeval_map": coco["map"]})
      # class-agnostic mAP@0.5 (every label 0): separates localisation from classification errors
      agnostic = metrics.mean_average_precision(arr["boxes"], np.where(arr["valid"], 0, -1), arr["valid"], d["boxes"],
                                                d["scores"], np.where(d["valid"], 0, -1), d["valid"], num_classes=1)
      out[f"{split}_map50_class_agnostic"] = agnostic["map50"]
      if kind == "faster_rcnn":
        out[f"{split}_rpn_recall"] = two_stage.proposal_recall(d["proposals"], d["proposals_valid"], arr["boxes"], arr["valid"])
        out[f"{split}_num_proposals"] = int(d["proposals"].shape[1])
      if masks:
        pred_masks = d["masks"] >= 0.5
        seg = metrics.cocoeval(*args, num_classes=num_classes, iou_type="segm", gt_masks=arr["masks"], masks=pred_masks)
        out[f"{split}_mask_map"], out[f"{split}_mask_map50"] = seg["map"], seg["map50"]
        out[f"{split}_mask_iou"] = two_stage.mean_mask_iou(arr["masks"], arr["labels"], arr["valid"], d["masks"], d["labels"],
                                                           d["valid"], d["scores"], 0.5, arr["boxes"], d["boxes"])
    return out

  return Task(init=init, train_step=train_step, eval_step=eval_step, metric="loss", mode="min",
              best=lambda s: s["params"], with_best=lambda s, p: {**s, "params": p}, finish=finish, name="detection")


def detect(model, params, images, config, image_size: int):
  """(boxes, scores, labels, valid) of a batch of images, padded to ``task.max_detections``
  (classification + localization: one box per image)."""
  if config.model.name == "faster_rcnn":
    t = config.task
    anchors = two_stage.image_anchors(image_size, t.stride, t.rpn_sizes, t.rpn_ratios)
    d = two_stage.faster_rcnn_detect(model, params, images, anchors, t, image_size)
    return d["boxes"], d["scores"], d["labels"], d["valid"]
  out = model.apply({"params": params}, images)
  if config.model.name == "detr":
    return detr.detr_detect(out, image_size)
  if config.model.name == "single_shot":
    return single_shot_detect(out, grid_anchors(image_size, config.task), config.task, len(config.task.anchor_sizes),
                              image_size)
  probs = jax.nn.softmax(out["logits"], -1)
  box = classify_localize_boxes(out, image_size)
  return box[:, None], jnp.max(probs, -1)[:, None], jnp.argmax(probs, -1)[:, None].astype(jnp.int32), jnp.ones((len(box), 1), bool)


def build_model(config, num_classes: int):
  kwargs = dict(config.model.get("kwargs", {}))
  if config.model.name == "single_shot":
    kwargs["num_anchors"] = len(config.task.anchor_sizes)
    kwargs["class_per_anchor"] = bool(config.task.get("class_per_anchor", False))
  if config.model.name == "faster_rcnn":
    kwargs["num_anchors"] = len(config.task.rpn_sizes) * len(config.task.rpn_ratios)
  return get_model(config.model.name, num_classes=num_classes, **kwargs)


def build(config: ml_collections.ConfigDict):
  check_config(config)
  splits, names = load_splits(config)
  t = config.train
  sources = {k: ArraySource(v) for k, v in splits.items()}
  train = BatchIterator(sources["train"], t.batch_size, seed=config.seed, name="train")
  evals = {k: (lambda k=k: eval_batches(sources[k], t.eval_batch_size, name=k)) for k in ("val", "test")}
  data = Data(train=train, eval=evals, example=sources["train"].get_batch(np.arange(1)), batch_size=t.batch_size)
  model = build_model(config, len(names))
  opt = config.optimizer.to_dict()
  if config.model.get("kwargs", {}).get("freeze_backbone", False):
    # the factory's frozen parameters: their updates are zero (weight decay and momentum cannot move them)
    opt["frozen"] = tuple(opt.get("frozen") or ()) + ("^backbone/",)
  tx = optim.make_optimizer(opt, loop.total_steps(t, train.steps_per_epoch))
  image_size = splits["train"]["image"].shape[1]
  return detection_task(model, tx, config, splits, image_size, len(names)), data, model, names


def run(config: ml_collections.ConfigDict, workdir: str) -> dict[str, Any]:
  """Train the detector; results add mAP@0.5 and COCO mAP (own and COCOeval) on val and test."""
  start = time.time()
  task, data, _, _ = build(config)
  results = loop.fit(task, data, config, workdir)
  results["total_time_s"] = time.time() - start
  return results


def evaluate(config: ml_collections.ConfigDict, workdir: str, split: str = "test") -> dict[str, Any]:
  task, data, _, _ = build(config)
  return loop.evaluate_run(task, data, config, workdir, split)


def compile_seconds(config: ml_collections.ConfigDict) -> dict[str, float]:
  """Wall seconds to trace + lower and to compile the task's jitted train step for ``config``'s model
  and batch size (abstract shapes only: nothing is trained). The scenes are cut to a few images, which
  changes no shape the step sees."""
  c = ml_collections.ConfigDict(config.to_dict())
  if c.data.name == "scenes":
    c.data.update({"num_train": 4, "num_val": 1, "num_test": 1})
  task, data, _, _ = build(c)
  bs = c.train.batch_size
  state = jax.eval_shape(lambda k: task.init(k, None), jax.random.PRNGKey(0))
  batch = {k: jax.ShapeDtypeStruct((bs,) + np.shape(v)[1:], np.asarray(v).dtype) for k, v in data.example.items()}
  batch["mask"] = jax.ShapeDtypeStruct((bs,), np.float32)
  start = time.perf_counter()
  lowered = jax.jit(task.train_step).lower(state, batch, jax.random.PRNGKey(0))
  traced = time.perf_counter() - start
  lowered.compile()
  return {"lower_s": traced, "compile_s": time.perf_counter() - start - traced}
