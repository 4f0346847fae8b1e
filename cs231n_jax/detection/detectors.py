"""Detectors (lecture 11), registered in family "detect".

- ``single_shot``: the YOLO / SSD idea — "go from input image to tensor of scores with one big
  convolutional network". A stride-8 backbone divides the image into an S x S grid; each cell has B
  base boxes (anchors) and outputs, per base box, 5 numbers (dx, dy, dw, dh, confidence), plus C class
  scores for the cell: S x S x (5B + C), the lecture's output (YOLO v1, Redmon et al. 2016). With
  ``class_per_anchor`` every base box has its own C class scores instead, S x S x B(5 + C), as in YOLOv2
  (Redmon & Farhadi 2017, "we also decouple the class prediction mechanism from the spatial location and
  instead predict class and objectness for every anchor box") and SSD (Liu et al. 2016, C scores per default
  box): two objects whose centres fall in one cell can then have different classes. The classes here are the
  object classes only; "background" is a low confidence (as in YOLO), not a class.
- Every detector takes ``backbone`` (``"scratch"``, or ``"mobilenet_v2"`` / ``"efficientnet_lite0"``: the first
  ``backbone_blocks`` blocks of the pretrained ImageNet network, :mod:`cs231n_jax.detection.backbones`) and
  ``freeze_backbone``.
- ``classify_localize``: classification + localization — a CNN, then one head of class scores
  (softmax loss) and one of 4 box coordinates (L2 loss), the multitask loss; for single-object scenes.

Models return raw head outputs; anchors, targets, losses and decoding live in
:mod:`cs231n_jax.tasks.detection` and :mod:`cs231n_jax.detection.ops`.
"""

from __future__ import annotations

from typing import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

from cs231n_jax.detection import backbones
from cs231n_jax.errors import ConfigError
from cs231n_jax.models.registry import register


@register("single_shot", input_shape=(56, 56, 3), family="detect")
class SingleShot(nn.Module):
  """YOLO / SSD-style single-shot detector: S x S x (5B + C) from one convolutional network."""

  num_classes: int = 13
  num_anchors: int = 3
  widths: Sequence[int] = (32, 64, 96, 128)
  head_width: int = 128
  group_norm: int = 0
  backbone: str = "scratch"  # or a pretrained network of detection.backbones.PRETRAINED
  backbone_blocks: int = 6
  freeze_backbone: bool = False
  class_per_anchor: bool = False  # False: C scores per cell (YOLO v1, the lecture); True: per base box (YOLOv2 / SSD)

  @nn.compact
  def __call__(self, x, train: bool = False):
    del train
    f = backbone_features(self, x)
    f = nn.relu(nn.Conv(self.head_width, (3, 3), name="head")(f))
    channels = self.num_anchors * (5 + self.num_classes) if self.class_per_anchor else 5 * self.num_anchors + self.num_classes
    return nn.Conv(channels, (1, 1), name="out")(f)


@register("classify_localize", input_shape=(56, 56, 3), family="detect")
class ClassifyLocalize(nn.Module):
  """Classification + localization: shared CNN features, a class-score head and a box head
  (x0, y0, x1, y1) / image size."""

  num_classes: int = 13
  widths: Sequence[int] = (32, 64, 96, 128)
  hidden: int = 256
  group_norm: int = 0
  class_pool: str = "none"  # "max" / "mean": the class head on globally pooled features (translation invariant)
  backbone: str = "scratch"
  backbone_blocks: int = 6
  freeze_backbone: bool = False

  @nn.compact
  def __call__(self, x, train: bool = False):
    del train
    f = backbone_features(self, x)
    h = nn.relu(nn.Dense(self.hidden, name="fc")(f.reshape(f.shape[0], -1)))
    if self.class_pool == "none":  # both heads on the flattened features (the lecture's picture)
      return {"logits": nn.Dense(self.num_classes, name="classes")(h), "box": nn.Dense(4, name="box")(h)}
    if self.class_pool not in ("max", "mean"):
      raise ConfigError(f"model.kwargs.class_pool: expected 'none', 'max' or 'mean', got {self.class_pool!r}")
    pooled = jnp.max(f, axis=(1, 2)) if self.class_pool == "max" else jnp.mean(f, axis=(1, 2))
    c = nn.relu(nn.Dense(self.hidden, name="class_fc")(pooled))
    return {"logits": nn.Dense(self.num_classes, name="classes")(c), "box": nn.Dense(4, name="box")(h)}


def backbone_features(module: nn.Module, x):
  """``module``'s backbone (scratch or pretrained, :mod:`cs231n_jax.detection.backbones`) on ``x``; with
  ``freeze_backbone`` the gradient stops at its output."""
  f = backbones.make_backbone(module.backbone, module.widths, getattr(module, "group_norm", 0), module.backbone_blocks)(x)
  return jax.lax.stop_gradient(f) if module.freeze_backbone else f


def split_single_shot(out: jnp.ndarray, num_anchors: int, class_per_anchor: bool = False):
  """(deltas (N, S, S, B, 4), confidence logits (N, S, S, B), class logits (N, S, S, C), or (N, S, S, B, C)
  with ``class_per_anchor``)."""
  n, s1, s2, _ = out.shape
  if class_per_anchor:
    per = out.reshape(n, s1, s2, num_anchors, -1)
    return per[..., :4], per[..., 4], per[..., 5:]
  boxes = out[..., : 5 * num_anchors].reshape(n, s1, s2, num_anchors, 5)
  return boxes[..., :4], boxes[..., 4], out[..., 5 * num_anchors:]
