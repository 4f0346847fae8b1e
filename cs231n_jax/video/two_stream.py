"""Two-stream networks (Simonyan & Zisserman 2014): a spatial stream on RGB frames and a temporal
stream on stacked optical flow, each a 2-D ConvNet, fused only at the class scores.

A clip for these models carries its flow as two extra channels ``(dy, dx)`` after the image channels
(:func:`cs231n_jax.data.clips.attach_flow`; the flow of the last frame is 0 and is not read). The
lecture's flow is Brox & Malik's; here it is the generator's ground truth or scikit-image's TV-L1 /
iterative Lucas-Kanade (:mod:`cs231n_jax.video.flow`) — a substitution, said wherever a number is.

- ``spatial_stream``: a 2-D CNN on every frame's image channels, scores averaged over frames.
- ``temporal_stream``: a 2-D CNN on the ``2 (T - 1)`` channels of the stacked flow fields.
- ``two_stream``: both, fused by averaging their softmax (returns the log of the average, so a
  cross-entropy on it trains the fusion end to end). The paper trains the streams separately and
  fuses afterwards, by averaging or by a linear SVM on the stacked scores: :func:`fuse_average`,
  :func:`fit_svm_fusion` (the study ``cs231n_jax.studies.video`` does that).
"""

from __future__ import annotations

from typing import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from cs231n_jax.models.registry import register
from cs231n_jax.video.layers import FrameTower, check_clips, fold_time, unfold_time

FLOW_CHANNELS = 2


def split_streams(x: jax.Array, image_channels: int, model: str) -> tuple[jax.Array, jax.Array]:
  check_clips(x, 2, model)
  if x.shape[-1] != image_channels + FLOW_CHANNELS:
    raise ValueError(f"clips.channels: {model} expects {image_channels} image + {FLOW_CHANNELS} flow channels, got {x.shape[-1]}")
  return x[..., :image_channels], x[..., image_channels:]


def stack_flow(flow: jax.Array) -> jax.Array:
  """(B, T, H, W, 2) -> (B, H, W, 2 (T - 1)): the flow fields of frames 0..T-2 as channels."""
  f = flow[:, :-1]
  return f.transpose(0, 2, 3, 1, 4).reshape(f.shape[0], f.shape[2], f.shape[3], -1)


@register("spatial_stream", family="video", input_shape=(8, 16, 16, 3))
class SpatialStream(nn.Module):
  """Two-stream's spatial stream: a 2-D CNN on each frame's image, scores averaged over frames."""

  image_channels: int = 1
  widths: Sequence[int] = (16, 32)
  hidden: int = 64
  num_classes: int = 2

  @nn.compact
  def __call__(self, x: jax.Array, train: bool = False) -> jax.Array:
    images, _ = split_streams(x, self.image_channels, "spatial_stream")
    frames, t = fold_time(images)
    logits = nn.Dense(self.num_classes, name="head")(FrameTower(self.widths, self.hidden, name="tower")(frames))
    return unfold_time(logits, t).mean(axis=1)


@register("temporal_stream", family="video", input_shape=(8, 16, 16, 3))
class TemporalStream(nn.Module):
  """Two-stream's temporal stream: a 2-D CNN on the stacked optical flow of the clip."""

  image_channels: int = 1
  widths: Sequence[int] = (16, 32)
  hidden: int = 64
  num_classes: int = 2

  @nn.compact
  def __call__(self, x: jax.Array, train: bool = False) -> jax.Array:
    _, flow = split_streams(x, self.image_channels, "temporal_stream")
    return nn.Dense(self.num_classes, name="head")(FrameTower(self.widths, self.hidden, name="tower")(stack_flow(flow)))


@register("two_stream", family="video", input_shape=(8, 16, 16, 3))
class TwoStream(nn.Module):
  """Spatial + temporal streams fused by averaging their softmax scores (log of the average)."""

  image_channels: int = 1
  widths: Sequence[int] = (16, 32)
  hidden: int = 64
  num_classes: int = 2

  @nn.compact
  def __call__(self, x: jax.Array, train: bool = False) -> jax.Array:
    kw = {"image_channels": self.image_channels, "widths": self.widths, "hidden": self.hidden, "num_classes": self.num_classes}
    spatial = SpatialStream(**kw, name="spatial")(x)
    temporal = TemporalStream(**kw, name="temporal")(x)
    return fuse_average(spatial, temporal)


def fuse_average(*logits: jax.Array) -> jax.Array:
  """Fusion by averaging: log of the mean of the streams' softmax."""
  probs = jnp.mean(jnp.stack([jax.nn.softmax(z, -1) for z in logits]), axis=0)
  return jnp.log(probs)


def fit_svm_fusion(scores: Sequence[np.ndarray], labels: np.ndarray, c: float = 1.0, seed: int = 0):
  """Fusion by a linear SVM on the streams' stacked softmax scores (scikit-learn's LinearSVC, fit on
  held-out scores); returns the fitted classifier (``predict(np.concatenate(scores, 1))``)."""
  from sklearn.svm import LinearSVC

  features = np.concatenate([np.asarray(s) for s in scores], axis=1)
  return LinearSVC(C=c, random_state=seed).fit(features, labels)
