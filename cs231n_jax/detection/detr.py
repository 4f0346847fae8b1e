"""DETR (Carion et al. 2020): detection as set prediction, with static shapes.

The lecture names the idea (a transformer's object queries, each predicting a box or "no object",
trained with a bipartite matching to the ground truth); the numbers and the loss follow the paper:

- **Model** (``detr``, family ``detect``): the shared CNN backbone of :mod:`cs231n_jax.detection.detectors`
  (stride 8: a 7x7 map at 56x56), a 1x1 projection to ``dim`` channels, fixed 2-D sine position
  encodings, a post-norm transformer encoder over the H*W tokens and a decoder whose ``num_queries``
  learned query embeddings attend to each other and to the encoder's memory (the position encoding
  added to queries and keys, not values, as in the paper). Shared heads on every decoder layer's output:
  C + 1 class logits (the last is "no object") and a 3-layer MLP to a box (cx, cy, w, h) / image size
  through a sigmoid. The output stacks the decoder layers (the last one is the prediction; the others
  carry the paper's auxiliary losses).
- **Matching**: per image, the cost of giving ground-truth object i to query j is
  ``- cost_class * p_j(class_i) + cost_bbox * |b_i - b_j|_1 + cost_giou * (- GIoU(b_i, b_j))``
  (paper: 1, 5, 2); the exact minimum-cost assignment is :func:`cs231n_jax.detection.matching.linear_sum_assignment`
  (the Hungarian algorithm, jittable, checked against scipy). Padded ground-truth rows cost 0 against
  every query, so they take left-over queries and are then ignored.
- **Loss**: cross-entropy of every query's class (matched queries: their object's class; the others
  "no object", weighted ``eos_coef`` = 0.1, a weighted mean as in the paper's code), plus ``cost_bbox``
  x L1 and ``cost_giou`` x (1 - GIoU) over the matched queries, normalised by the number of objects;
  summed over the decoder layers (auxiliary losses).
- **Detections**: each query's most probable object class and its probability as the score; no NMS
  (the set loss teaches queries not to duplicate each other). ``num_queries`` detections per image.
"""

from __future__ import annotations

from typing import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax

from cs231n_jax.detection import matching
from cs231n_jax.detection.backbones import Backbone
from cs231n_jax.models.registry import register


def sine_positions(h: int, w: int, dim: int, temperature: float = 10000.0) -> np.ndarray:
  """DETR's fixed 2-D sine position encoding (H * W, dim): half the channels encode the row, half
  the column (normalised to [0, 2 pi]), sines and cosines interleaved."""
  if dim % 4:
    raise ValueError(f"model.dim: expected a multiple of 4 for the 2-D sine encoding, got {dim}")
  q = dim // 2
  eps = 1e-6
  y = (np.arange(1, h + 1, dtype=np.float64) / (h + eps)) * 2 * np.pi
  x = (np.arange(1, w + 1, dtype=np.float64) / (w + eps)) * 2 * np.pi
  t = temperature ** (2 * (np.arange(q) // 2) / q)
  py, px = y[:, None] / t, x[:, None] / t  # (H, q), (W, q)

  def interleave(p):
    return np.stack([np.sin(p[:, 0::2]), np.cos(p[:, 1::2])], -1).reshape(p.shape[0], q)

  ey, ex = interleave(py), interleave(px)
  pos = np.concatenate([np.repeat(ey[:, None], w, 1), np.repeat(ex[None], h, 0)], -1)
  return pos.reshape(h * w, dim).astype(np.float32)


class _FFN(nn.Module):
  dim: int
  hidden: int

  @nn.compact
  def __call__(self, x):
    return nn.Dense(self.dim)(nn.relu(nn.Dense(self.hidden)(x)))


@register("detr", input_shape=(56, 56, 3), family="detect")
class DETR(nn.Module):
  """Backbone + transformer encoder / decoder + set-prediction heads; returns ``{"logits": (L, N, Q, C + 1),
  "boxes": (L, N, Q, 4)}`` (cx, cy, w, h) / image size, one entry per decoder layer (the last is the output)."""

  num_classes: int = 13
  num_queries: int = 12
  widths: Sequence[int] = (16, 32, 64, 128)
  group_norm: int = 8
  dim: int = 128
  heads: int = 4
  enc_layers: int = 2
  dec_layers: int = 2
  ffn: int = 256

  @nn.compact
  def __call__(self, x, train: bool = False):
    del train
    f = Backbone(self.widths, self.group_norm, name="backbone")(x)
    n, h, w, _ = f.shape
    mem = nn.Dense(self.dim, name="proj")(f).reshape(n, h * w, self.dim)
    pos = jnp.asarray(sine_positions(h, w, self.dim))[None]
    for i in range(self.enc_layers):
      a = nn.MultiHeadDotProductAttention(self.heads, name=f"enc{i}_attn")(mem + pos, mem + pos, mem)
      mem = nn.LayerNorm(name=f"enc{i}_ln1")(mem + a)
      mem = nn.LayerNorm(name=f"enc{i}_ln2")(mem + _FFN(self.dim, self.ffn, name=f"enc{i}_ffn")(mem))
    qpos = self.param("queries", nn.initializers.normal(1.0), (self.num_queries, self.dim))[None]
    tgt = jnp.zeros((n, self.num_queries, self.dim))
    cls_head = nn.Dense(self.num_classes + 1, name="class")
    box_mlp = [nn.Dense(self.dim, name="box0"), nn.Dense(self.dim, name="box1"), nn.Dense(4, name="box2")]
    final_ln = nn.LayerNorm(name="dec_ln")
    logits, boxes = [], []
    for i in range(self.dec_layers):
      s = nn.MultiHeadDotProductAttention(self.heads, name=f"dec{i}_self")(tgt + qpos, tgt + qpos, tgt)
      tgt = nn.LayerNorm(name=f"dec{i}_ln1")(tgt + s)
      c = nn.MultiHeadDotProductAttention(self.heads, name=f"dec{i}_cross")(tgt + qpos, mem + pos, mem)
      tgt = nn.LayerNorm(name=f"dec{i}_ln2")(tgt + c)
      tgt = nn.LayerNorm(name=f"dec{i}_ln3")(tgt + _FFN(self.dim, self.ffn, name=f"dec{i}_ffn")(tgt))
      o = final_ln(tgt)
      logits.append(cls_head(o))
      b = nn.relu(box_mlp[0](o))
      b = nn.relu(box_mlp[1](b))
      boxes.append(jax.nn.sigmoid(box_mlp[2](b)))
    return {"logits": jnp.stack(logits), "boxes": jnp.stack(boxes)}


# ---------------------------------------------------------------------------------------------
# Boxes


def cxcywh_to_xyxy(b: jax.Array) -> jax.Array:
  cx, cy, w, h = jnp.moveaxis(b, -1, 0)
  return jnp.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], -1)


def xyxy_to_cxcywh(b: jax.Array) -> jax.Array:
  x0, y0, x1, y1 = jnp.moveaxis(b, -1, 0)
  return jnp.stack([(x0 + x1) / 2, (y0 + y1) / 2, x1 - x0, y1 - y0], -1)


def generalized_iou(a: jax.Array, b: jax.Array) -> jax.Array:
  """Pairwise generalised IoU (Rezatofighi et al. 2019) of xyxy boxes a (n, 4), b (m, 4): (n, m),
  ``IoU - (|C| - |A u B|) / |C|`` with C the smallest box enclosing both."""
  area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
  area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
  lo = jnp.maximum(a[:, None, :2], b[None, :, :2])
  hi = jnp.minimum(a[:, None, 2:], b[None, :, 2:])
  inter = jnp.prod(jnp.clip(hi - lo, 0.0), -1)
  union = area_a[:, None] + area_b[None] - inter
  iou = inter / jnp.maximum(union, 1e-9)
  clo = jnp.minimum(a[:, None, :2], b[None, :, :2])
  chi = jnp.maximum(a[:, None, 2:], b[None, :, 2:])
  enclose = jnp.prod(jnp.clip(chi - clo, 0.0), -1)
  return iou - (enclose - union) / jnp.maximum(enclose, 1e-9)


# ---------------------------------------------------------------------------------------------
# Matching and loss (one image; vmap over the batch)


def match(logits, boxes, gt_boxes, gt_labels, gt_valid, t):
  """The query assigned to each (padded) ground-truth object: (G,) int32. ``boxes`` (Q, 4) and
  ``gt_boxes`` (G, 4) are normalised cx, cy, w, h."""
  prob = jax.nn.softmax(logits, -1)  # (Q, C + 1)
  cost_class = -prob[:, jnp.maximum(gt_labels, 0)].T  # (G, Q)
  cost_bbox = jnp.sum(jnp.abs(gt_boxes[:, None] - boxes[None]), -1)
  cost_giou = -generalized_iou(cxcywh_to_xyxy(gt_boxes), cxcywh_to_xyxy(boxes))
  cost = t.cost_class * cost_class + t.cost_bbox * cost_bbox + t.cost_giou * cost_giou
  cost = jnp.where(gt_valid[:, None], cost, 0.0)
  return matching.linear_sum_assignment(jax.lax.stop_gradient(cost))


def set_loss(logits, boxes, gt_boxes, gt_labels, gt_valid, t, num_classes: int):
  """One decoder layer, one image: (total, parts) with the paper's three terms."""
  cols = match(logits, boxes, gt_boxes, gt_labels, gt_valid, t)
  q = logits.shape[0]
  cols_v = jnp.where(gt_valid, cols, q)  # padded objects scatter out of bounds
  target = jnp.full((q,), num_classes, jnp.int32).at[cols_v].set(gt_labels, mode="drop")
  weight = jnp.where(target == num_classes, t.eos_coef, 1.0)
  ce = optax.softmax_cross_entropy_with_integer_labels(logits, target)
  loss_ce = jnp.sum(weight * ce) / jnp.sum(weight)
  nobj = jnp.maximum(jnp.sum(gt_valid), 1.0)
  pred = boxes[cols]  # (G, 4)
  v = gt_valid.astype(jnp.float32)
  loss_l1 = jnp.sum(v * jnp.sum(jnp.abs(pred - gt_boxes), -1)) / nobj
  giou = jnp.diagonal(generalized_iou(cxcywh_to_xyxy(pred), cxcywh_to_xyxy(gt_boxes)))
  loss_giou = jnp.sum(v * (1.0 - giou)) / nobj
  parts = {"ce": loss_ce, "l1": loss_l1, "giou": loss_giou}
  return loss_ce + t.cost_bbox * loss_l1 + t.cost_giou * loss_giou, parts


def detr_loss(out, batch, t, image_size: int, num_classes: int):
  """Per-image loss (N,) summed over the decoder layers, and the last layer's parts (each (N,))."""
  gt = xyxy_to_cxcywh(batch["boxes"] / image_size)

  def layer(logits, boxes):
    return jax.vmap(lambda lg, b, g, lb, v: set_loss(lg, b, g, lb, v, t, num_classes))(
        logits, boxes, gt, batch["labels"], batch["valid"])

  totals, parts = jax.vmap(layer)(out["logits"], out["boxes"])  # (L, N)
  return jnp.sum(totals, 0), {k: v[-1] for k, v in parts.items()}


def detr_detect(out, image_size: int):
  """(boxes (N, Q, 4) xyxy pixels, scores (N, Q), labels (N, Q), valid (N, Q)) from the last decoder layer."""
  prob = jax.nn.softmax(out["logits"][-1], -1)[..., :-1]
  boxes = jnp.clip(cxcywh_to_xyxy(out["boxes"][-1]) * image_size, 0.0, float(image_size))
  return boxes, jnp.max(prob, -1), jnp.argmax(prob, -1).astype(jnp.int32), jnp.ones(prob.shape[:2], bool)


__all__ = ["DETR", "sine_positions", "generalized_iou", "match", "set_loss", "detr_loss", "detr_detect"]
