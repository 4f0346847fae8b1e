"""DETR: generalised IoU against a NumPy reference, the matching against scipy on DETR's own cost,
the set loss of a perfect prediction and its invariance to the order of the queries, and a tiny
run through the engine whose detections both mAPs score alike, and one compile of the loss across
batches with different numbers of objects."""

from __future__ import annotations

import json

import chex
import jax
import jax.numpy as jnp
import numpy as np
import scipy.optimize

from cs231n_jax.data import scenes as S
from cs231n_jax.detection import detr
from cs231n_jax.tasks import detection as T


def giou_numpy(a, b):
  out = np.zeros((len(a), len(b)))
  for i, p in enumerate(a):
    for j, q in enumerate(b):
      iw = max(0.0, min(p[2], q[2]) - max(p[0], q[0]))
      ih = max(0.0, min(p[3], q[3]) - max(p[1], q[1]))
      inter = iw * ih
      union = (p[2] - p[0]) * (p[3] - p[1]) + (q[2] - q[0]) * (q[3] - q[1]) - inter
      c = (max(p[2], q[2]) - min(p[0], q[0])) * (max(p[3], q[3]) - min(p[1], q[1]))
      out[i, j] = inter / union - (c - union) / c
  return out


def random_boxes(rng, n):
  xy = rng.uniform(0, 0.7, (n, 2))
  return np.concatenate([xy, xy + rng.uniform(0.05, 0.3, (n, 2))], 1)


def test_generalized_iou_equals_numpy():
  # by hand: disjoint unit-height boxes, IoU 0, enclosing box 4x2 = 8, union 5 -> -3/8
  np.testing.assert_allclose(detr.generalized_iou(jnp.array([[0.0, 0, 2, 2]]), jnp.array([[3.0, 0, 4, 1]])), [[-3 / 8]])
  rng = np.random.default_rng(0)
  a, b = random_boxes(rng, 5), random_boxes(rng, 7)
  np.testing.assert_allclose(jax.jit(detr.generalized_iou)(a, b), giou_numpy(a, b), atol=1e-6)


def test_matching_equals_scipy_on_detrs_cost():
  t = T.base_config("detr").task
  rng = np.random.default_rng(1)
  n, g, q, c = 4, 5, 9, 6
  logits = rng.normal(size=(n, q, c + 1)).astype(np.float32)
  boxes = rng.uniform(0.1, 0.6, (n, q, 4)).astype(np.float32)
  gt = rng.uniform(0.1, 0.6, (n, g, 4)).astype(np.float32)
  labels = rng.integers(0, c, (n, g))
  valid = np.array([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1], [1, 0, 0, 0, 0], [1, 1, 0, 0, 0]], bool)
  cols = np.asarray(jax.jit(jax.vmap(lambda *a: detr.match(*a, t)))(logits, boxes, gt, labels, valid))
  for i in range(n):
    p = np.exp(logits[i]) / np.exp(logits[i]).sum(-1, keepdims=True)
    v = np.nonzero(valid[i])[0]
    xyxy = lambda b: np.concatenate([b[:, :2] - b[:, 2:] / 2, b[:, :2] + b[:, 2:] / 2], 1)  # noqa: E731
    cost = (-t.cost_class * p[:, labels[i, v]].T + t.cost_bbox * np.abs(gt[i, v][:, None] - boxes[i][None]).sum(-1)
            - t.cost_giou * giou_numpy(xyxy(gt[i, v]), xyxy(boxes[i])))
    r, k = scipy.optimize.linear_sum_assignment(cost)
    assert len(set(cols[i].tolist())) == g  # an injective assignment, padded rows included
    np.testing.assert_allclose(cost[np.arange(len(v)), cols[i, v]].sum(), cost[r, k].sum(), rtol=1e-5)


def test_set_loss_of_a_perfect_prediction_and_query_order():
  t = T.base_config("detr").task
  c, q = 5, 8
  gt = jnp.array([[0.3, 0.3, 0.2, 0.2], [0.7, 0.6, 0.3, 0.2], [0.5, 0.5, 0.1, 0.4], [0, 0, 0, 0]])
  labels, valid = jnp.array([2, 0, 4, -1]), jnp.array([True, True, True, False])
  queries = [5, 1, 6]
  logits = jnp.full((q, c + 1), 0.0).at[:, c].set(20.0)
  boxes = jnp.full((q, 4), 0.5)
  for k, j in enumerate(queries):
    logits = logits.at[j].set(jax.nn.one_hot(labels[k], c + 1) * 20.0)
    boxes = boxes.at[j].set(gt[k])
  loss = jax.jit(lambda lg, b: detr.set_loss(lg, b, gt, labels, valid, t, c))  # one compile for the four calls
  total, parts = loss(logits, boxes)
  assert float(parts["l1"]) < 1e-6 and float(parts["giou"]) < 1e-6 and float(parts["ce"]) < 1e-6
  assert float(total) < 1e-5
  # a wrong prediction costs more, and the loss ignores the order of the queries
  bad, _ = loss(logits, boxes.at[5].set(jnp.array([0.6, 0.6, 0.1, 0.1])))
  assert float(bad) > 1.0
  perm = jnp.array(np.random.default_rng(0).permutation(q))
  noisy = logits + jax.random.normal(jax.random.PRNGKey(0), logits.shape) * 3
  a, _ = loss(noisy, boxes)
  b, _ = loss(noisy[perm], boxes[perm])
  np.testing.assert_allclose(a, b, rtol=1e-5)


def test_tiny_detr_run_through_the_engine(tmp_path):
  c = T.base_config("detr")
  c.data.update({"num_train": 8, "num_val": 4, "num_test": 4})
  c.model.kwargs = {"widths": (8, 8, 16, 16), "group_norm": 4, "dim": 16, "heads": 2, "enc_layers": 1, "dec_layers": 1,
                    "ffn": 32, "num_queries": 8}
  c.optimizer.learning_rate = 3e-3
  c.train.update({"batch_size": 8, "num_steps": 24, "eval_every": 24, "log_every": 1, "progress": False})
  r = T.run(c, str(tmp_path))
  assert r["steps"] == 24
  for split in ("val", "test"):
    assert abs(r[f"{split}_map50"] - r[f"{split}_cocoeval_map50"]) < 1e-6
    assert abs(r[f"{split}_map"] - r[f"{split}_cocoeval_map"]) < 1e-6
  losses = [json.loads(line)["loss"] for line in open(tmp_path / "metrics.jsonl") if '"loss"' in line]
  assert np.mean(losses[-5:]) < 0.8 * np.mean(losses[:5])  # it fits its 8 scenes


def test_detr_loss_compiles_once_across_object_counts():
  scenes = S.detection_scenes(9, seed=0, size=56, max_objects=6, classes="all", split="val")
  c = T.base_config("detr")
  c.model.kwargs = {"widths": (8, 8, 8, 8), "group_norm": 4, "dim": 8, "heads": 2, "enc_layers": 1, "dec_layers": 1,
                    "ffn": 8, "num_queries": 8}
  model = T.build_model(c, 13)
  params = model.init(jax.random.PRNGKey(0), jnp.zeros((1, 56, 56, 3)))["params"]

  @jax.jit
  @chex.assert_max_traces(n=1)  # a second trace (a new shape or static value) raises
  def loss(params, batch):
    return detr.detr_loss(model.apply({"params": params}, batch["image"]), batch, c.task, 56, 13)[0]

  counts = set()
  for k in range(3):
    sl = slice(3 * k, 3 * k + 3)
    counts.add(int(scenes.valid[sl].sum()))
    out = loss(params, {"image": scenes.images[sl], "boxes": scenes.boxes[sl], "labels": scenes.labels[sl],
                        "valid": scenes.valid[sl]})
    assert np.all(np.isfinite(out))
  assert len(counts) > 1  # the batches really held different numbers of objects
