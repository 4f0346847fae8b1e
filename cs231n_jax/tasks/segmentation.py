"""Semantic segmentation as a task: per-pixel softmax cross-entropy, scored by mIoU and pixel accuracy.

The data are the detection scenes of :mod:`cs231n_jax.data.scenes` (semantic label maps: 0 =
background, class ``c`` -> ``c + 1``), or a COCO-format directory (``data.name = "coco"``,
``data.dir``) read by :mod:`cs231n_jax.data.coco_format`. The model is any ``segment`` model of the
registry (:mod:`cs231n_jax.detection.segmenters`). The loss (not given in the lecture) is the usual
per-pixel cross-entropy, averaged over the pixels of an image and the valid images of the batch.

Evaluation sums, per class, the pixels where prediction and label agree (intersection) and where
either is that class (union), and the correctly labelled pixels: ``miou`` is the mean over classes
present in the split (union > 0, background included) of intersection / union, ``miou_fg`` the same
without background, ``pixel_accuracy`` the fraction of pixels labelled right. The best state is the
parameters with the highest validation mIoU.
"""

from __future__ import annotations

from typing import Any, Mapping

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax

from cs231n_jax import optim
from cs231n_jax.data import coco_format
from cs231n_jax.data import scenes as S
from cs231n_jax.data.pipeline import ArraySource, BatchIterator, eval_batches
from cs231n_jax.detection import segmenters  # noqa: F401  (registers the segment models)
from cs231n_jax.errors import ConfigError
from cs231n_jax.models.registry import family_of, get_model
from cs231n_jax.train import loop
from cs231n_jax.train.steps import mean_over_valid, psum_if
from cs231n_jax.train.task import Data, Task

RUNNER = "cs231n_jax.tasks.segmentation:run"
DATA_NAMES = ("scenes", "coco")


def base_config() -> ml_collections.ConfigDict:
  """Every field a segmentation run reads."""
  c = ml_collections.ConfigDict()
  c.runner = RUNNER
  c.seed = 0
  c.data = ml_collections.ConfigDict({
      "name": "scenes", "num_train": 2000, "num_val": 200, "num_test": 400, "image_size": 64, "max_objects": 6,
      "min_objects": 1, "classes": "all", "dir": "", "annotation_file": "annotations.json", "val_fraction": 0.1,
  })
  c.model = ml_collections.ConfigDict({"name": "unet", "kwargs": {}})
  c.optimizer = optim.default_config("adam", 2e-3)
  c.train = loop.engine_config()
  c.train.update({"batch_size": 32, "num_epochs": 10, "eval_batch_size": 100, "log_every": 20, "keep_checkpoints": 1})
  return c


def scenes_config(model: str, **kwargs) -> ml_collections.ConfigDict:
  """The segmentation experiments' setting: 56x56 detection scenes of shapes (circle / square /
  triangle + background: 4 classes), 1-6 occluding objects; 1000 train, 200 val, 400 test scenes;
  Adam 2e-3 with a cosine decay, batch 16, 600 steps; ``model`` with ``kwargs``."""
  c = base_config()
  c.data.update({"num_train": 1000, "num_val": 200, "num_test": 400, "image_size": 56, "classes": "shapes"})
  c.model.name = model
  c.model.kwargs = kwargs
  c.optimizer.schedule.name = "cosine"
  c.train.update({"batch_size": 16, "num_epochs": 0, "num_steps": 600, "eval_every": 200, "log_every": 50,
                  "eval_batch_size": 100})
  return c


def check_config(config: ml_collections.ConfigDict) -> None:
  d = config.data
  if d.name not in DATA_NAMES:
    raise ConfigError(f"data.name: expected one of {DATA_NAMES}, got {d.name!r}")
  if d.name == "coco" and not d.dir:
    raise ConfigError("data.dir: a COCO-format directory is needed when data.name = 'coco'")
  for name in ("num_train", "num_val", "num_test"):
    v = d[name]
    if isinstance(v, bool) or not isinstance(v, int) or v < 1:
      raise ConfigError(f"data.{name}: expected a positive integer, got {v!r}")
  try:
    family = family_of(config.model.name)
  except Exception:
    raise ConfigError(f"model.name: {config.model.name!r} is not a registered model") from None
  if family != "segment":
    raise ConfigError(f"model.name: expected a 'segment' model, got {config.model.name!r} (family {family!r})")
  loop.check_engine_config(config.train)


def load_splits(d: ml_collections.ConfigDict, seed: int) -> tuple[dict[str, dict[str, np.ndarray]], tuple[str, ...]]:
  """``{split: {"image", "semantic"}}`` and the class names (without background)."""
  if d.name == "scenes":
    splits = S.load_detection_scenes(d.num_train, d.num_val, d.num_test, seed, d.image_size, d.max_objects, d.classes,
                                     d.min_objects)
    names = splits["train"].class_names
    return {k: {"image": v.images, "semantic": v.semantic} for k, v in splits.items()}, names
  coco = coco_format.load_coco_directory(d.dir, d.annotation_file, d.max_objects, d.image_size, truncate=True)
  n = len(coco)
  order = np.random.default_rng(seed).permutation(n)
  n_val = max(1, int(round(d.val_fraction * n)))
  parts = {"val": order[:n_val], "train": order[n_val:], "test": order[:n_val]}
  return {k: {"image": coco.images[i], "semantic": coco.semantic[i]} for k, i in parts.items()}, coco.class_names


def build_model(config: ml_collections.ConfigDict, num_classes: int):
  return get_model(config.model.name, num_classes=num_classes, **dict(config.model.get("kwargs", {})))


def pixel_loss(logits, labels):
  """Per-image mean of the per-pixel cross-entropy: (N,)."""
  return jnp.mean(optax.softmax_cross_entropy_with_integer_labels(logits, labels), axis=(1, 2))


def segmentation_task(model, tx: optax.GradientTransformation, num_classes: int, image_shape) -> Task:
  def init(key, example):
    del example
    params = model.init(key, jnp.zeros((1, *image_shape), jnp.float32))["params"]
    return {"params": params, "opt_state": tx.init(params)}

  def train_step(state, batch, key, axis_name=None):
    del key
    mask = batch["mask"]

    def loss_fn(params):
      logits = model.apply({"params": params}, batch["image"])
      return mean_over_valid(pixel_loss(logits, batch["semantic"]), mask, axis_name), logits

    (loss, logits), grads = jax.value_and_grad(loss_fn, has_aux=True)(state["params"])
    grads = psum_if(grads, axis_name)
    updates, opt_state = tx.update(grads, state["opt_state"], state["params"])
    acc = mean_over_valid(jnp.mean(jnp.argmax(logits, -1) == batch["semantic"], axis=(1, 2)), mask, axis_name)
    new = {"params": optax.apply_updates(state["params"], updates), "opt_state": opt_state}
    return new, {"loss": psum_if(loss, axis_name), "pixel_accuracy": psum_if(acc, axis_name)}

  def eval_step(state, batch):
    logits = model.apply({"params": state["params"]}, batch["image"])
    return segmentation_sums(logits, batch["semantic"], batch["mask"], num_classes)

  return Task(init=init, train_step=train_step, eval_step=eval_step, summarize=summarize, metric="miou", mode="max",
              best=lambda s: s["params"], with_best=lambda s, p: {**s, "params": p}, name="segmentation")


def segmentation_sums(logits, labels, mask, num_classes: int) -> dict[str, jax.Array]:
  """Summed per-class intersections and unions, correct pixels, pixels, loss and image count."""
  pred = jnp.argmax(logits, -1)
  m = mask.astype(jnp.float32)[:, None, None]
  classes = jnp.arange(num_classes)
  p_hot = (pred[..., None] == classes) * m[..., None]
  l_hot = (labels[..., None] == classes) * m[..., None]
  inter = jnp.sum(p_hot * l_hot, axis=(0, 1, 2))
  union = jnp.sum(jnp.maximum(p_hot, l_hot), axis=(0, 1, 2))
  return {"intersection": inter, "union": union, "correct": jnp.sum((pred == labels) * m),
          "pixels": jnp.sum(jnp.ones(labels.shape) * m), "loss_sum": jnp.sum(pixel_loss(logits, labels) * mask),
          "count": jnp.sum(mask)}


def summarize(sums: Mapping[str, Any]) -> dict[str, float]:
  inter, union = np.asarray(sums["intersection"], np.float64), np.asarray(sums["union"], np.float64)
  present = union > 0
  iou = np.where(present, inter / np.maximum(union, 1), np.nan)
  return {"miou": float(np.nanmean(iou)), "miou_fg": float(np.nanmean(iou[1:])) if present[1:].any() else 0.0,
          "pixel_accuracy": float(sums["correct"]) / max(float(sums["pixels"]), 1.0),
          "loss": float(sums["loss_sum"]) / max(float(sums["count"]), 1.0)}


def build(config: ml_collections.ConfigDict):
  check_config(config)
  splits, names = load_splits(config.data, config.seed)
  t = config.train
  sources = {k: ArraySource(v) for k, v in splits.items()}
  train = BatchIterator(sources["train"], t.batch_size, seed=config.seed, name="train")
  evals = {k: (lambda k=k: eval_batches(sources[k], t.eval_batch_size, name=k)) for k in ("val", "test")}
  example = sources["train"].get_batch(np.arange(1))
  data = Data(train=train, eval=evals, example=example, batch_size=t.batch_size)
  num_classes = len(names) + 1
  model = build_model(config, num_classes)
  num_steps = loop.total_steps(t, train.steps_per_epoch)
  tx = optim.make_optimizer(config.optimizer, num_steps)
  task = segmentation_task(model, tx, num_classes, splits["train"]["image"].shape[1:])
  return task, data, model, names


def run(config: ml_collections.ConfigDict, workdir: str) -> dict[str, Any]:
  """Train ``config.model.name`` on the scenes' semantic maps; results hold val / test mIoU and pixel accuracy."""
  task, data, _, _ = build(config)
  return loop.fit(task, data, config, workdir)


def evaluate(config: ml_collections.ConfigDict, workdir: str, split: str = "test") -> dict[str, Any]:
  task, data, _, _ = build(config)
  return loop.evaluate_run(task, data, config, workdir, split)
