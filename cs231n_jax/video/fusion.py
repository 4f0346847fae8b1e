"""Karpathy et al. 2014's four ways to connect a ConvNet to time (lecture 14), at the project's scale.

- ``single_frame``: a 2-D CNN on every frame; the class scores (logits) are averaged over frames.
- ``early_fusion``: the first layer is a 2-D convolution over the T·C stacked channels of
  ``fusion_frames`` consecutive frames (equivalently a 3-D convolution whose temporal extent spans
  them, VALID in time); everything after is 2-D. Windows at every start are scored and averaged.
- ``late_fusion``: two copies of one single-frame tower (shared weights) look at frames ``gap``
  apart; they are merged only in the fully connected layers.
- ``slow_fusion``: 3-D convolutions (temporal extent ``temporal_kernel``, VALID in time) at every
  layer, so the temporal receptive field grows layer by layer, like the spatial one.

Clips are NTHWC. The lecture's Sports-1M numbers (clip / video Hit@k on 487 classes) need data we
do not have; here the models are compared on the synthetic clips of :mod:`cs231n_jax.data.clips`.
"""

from __future__ import annotations

from typing import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

from cs231n_jax.models.registry import register
from cs231n_jax.video.layers import FrameTower, SpatioTemporalConv, check_clips, fold_time, unfold_time

TINY_CLIP = (8, 16, 16, 1)


@register("single_frame", family="video", input_shape=TINY_CLIP)
class SingleFrame(nn.Module):
  """Single-frame baseline: a 2-D CNN on each frame, class scores averaged over the frames."""

  widths: Sequence[int] = (16, 32)
  hidden: int = 64
  num_classes: int = 2

  @nn.compact
  def __call__(self, x: jax.Array, train: bool = False) -> jax.Array:
    check_clips(x, 1, "single_frame")
    frames, t = fold_time(x)
    logits = nn.Dense(self.num_classes, name="head")(FrameTower(self.widths, self.hidden, name="tower")(frames))
    return unfold_time(logits, t).mean(axis=1)


@register("early_fusion", family="video", input_shape=TINY_CLIP)
class EarlyFusion(nn.Module):
  """Early fusion: the first convolution spans ``fusion_frames`` frames (0: the whole clip)."""

  fusion_frames: int = 0
  first_kernel: Sequence[int] = (3, 3)  # the spatial size of the fusing filters
  widths: Sequence[int] = (16, 32)
  hidden: int = 64
  num_classes: int = 2

  @nn.compact
  def __call__(self, x: jax.Array, train: bool = False) -> jax.Array:
    tf = self.fusion_frames or x.shape[1]
    check_clips(x, tf, "early_fusion")
    h = SpatioTemporalConv(self.widths[0], (tf, *self.first_kernel), temporal_padding="VALID", name="fusion")(x)
    windows, n = fold_time(h)  # every window of tf frames, scored by the same 2-D network
    feats = FrameTower(self.widths, self.hidden, first_layer_done=True, name="tower")(windows)
    return unfold_time(nn.Dense(self.num_classes, name="head")(feats), n).mean(axis=1)


@register("late_fusion", family="video", input_shape=TINY_CLIP)
class LateFusion(nn.Module):
  """Late fusion: one tower on frames ``t`` and ``t + gap`` (0: first and last), merged in FC layers."""

  gap: int = 0
  widths: Sequence[int] = (16, 32)
  hidden: int = 64
  num_classes: int = 2

  @nn.compact
  def __call__(self, x: jax.Array, train: bool = False) -> jax.Array:
    gap = self.gap or x.shape[1] - 1
    check_clips(x, gap + 1, "late_fusion")
    tower = FrameTower(self.widths, self.hidden, name="tower")
    pairs = x.shape[1] - gap  # every pair (t, t + gap) in the clip, scores averaged
    first, second = fold_time(x[:, :pairs])[0], fold_time(x[:, gap:])[0]
    merged = jnp.concatenate([tower(first), tower(second)], axis=-1)
    h = nn.relu(nn.Dense(self.hidden, name="fc_merge")(merged))
    return unfold_time(nn.Dense(self.num_classes, name="head")(h), pairs).mean(axis=1)


@register("slow_fusion", family="video", input_shape=TINY_CLIP)
class SlowFusion(nn.Module):
  """Slow fusion: 3-D convolutions at every layer (VALID in time), then global average pooling."""

  widths: Sequence[int] = (16, 32, 32)
  temporal_kernel: int = 3
  num_classes: int = 2

  @nn.compact
  def __call__(self, x: jax.Array, train: bool = False) -> jax.Array:
    check_clips(x, 1 + len(self.widths) * (self.temporal_kernel - 1), "slow_fusion")
    for i, w in enumerate(self.widths):
      x = SpatioTemporalConv(w, (self.temporal_kernel, 3, 3), temporal_padding="VALID", name=f"conv{i}")(x)
      x = nn.relu(x)
      if i < len(self.widths) - 1:
        x = nn.max_pool(x, (1, 2, 2), (1, 2, 2), padding="SAME")
    return nn.Dense(self.num_classes, name="head")(x.mean(axis=(1, 2, 3)))
