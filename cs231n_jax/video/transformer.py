"""A video transformer with divided space-time attention (TimeSformer, Bertasius et al. 2021; the
factorised attention of ViViT; course notes chapter 12 "Factorized attention: attend over space /
time").

Each frame is cut into P x P patches, linearly embedded (one strided convolution), and given a
learned spatial position and a learned frame position. Every block attends over time first (each
patch position attends to itself in the other frames) and then over space (each frame's patches
attend to each other), then the MLP; pre-norm residuals. The class scores read the mean token.
Cost per block: T·N² + N·T² attention pairs instead of joint attention's (T·N)².
"""

from __future__ import annotations

import flax.linen as nn
import jax

from cs231n_jax.models.registry import register
from cs231n_jax.nn.attention import FeedForward, MultiHeadAttention
from cs231n_jax.video.layers import check_clips


class DividedSpaceTimeBlock(nn.Module):
  dim: int
  heads: int
  mlp_dim: int

  @nn.compact
  def __call__(self, x: jax.Array, train: bool = False) -> jax.Array:
    b, t, n, d = x.shape
    h = nn.LayerNorm(name="norm_time")(x).transpose(0, 2, 1, 3).reshape(b * n, t, d)
    h = MultiHeadAttention(self.dim, self.heads, name="time_attention")(h, train=train)
    x = x + h.reshape(b, n, t, d).transpose(0, 2, 1, 3)
    h = nn.LayerNorm(name="norm_space")(x).reshape(b * t, n, d)
    x = x + MultiHeadAttention(self.dim, self.heads, name="space_attention")(h, train=train).reshape(b, t, n, d)
    return x + FeedForward(self.mlp_dim, activation="gelu", name="mlp")(nn.LayerNorm(name="norm_mlp")(x), train=train)


@register("video_transformer", family="video", input_shape=(8, 16, 16, 1))
class VideoTransformer(nn.Module):
  """Divided space-time attention transformer (TimeSformer-style) over P x P patches of each frame."""

  patch_size: int = 4
  dim: int = 64
  depth: int = 2
  heads: int = 4
  mlp_dim: int = 128
  num_classes: int = 2

  @nn.compact
  def __call__(self, x: jax.Array, train: bool = False) -> jax.Array:
    check_clips(x, 1, "video_transformer")
    b, t = x.shape[:2]
    p = self.patch_size
    tokens = nn.Conv(self.dim, (p, p), (p, p), padding="VALID", name="patch_embed")(x.reshape(b * t, *x.shape[2:]))
    n = tokens.shape[1] * tokens.shape[2]
    tokens = tokens.reshape(b, t, n, self.dim)
    init = nn.initializers.normal(0.02)
    tokens = tokens + self.param("space_position", init, (1, 1, n, self.dim))
    tokens = tokens + self.param("time_position", init, (1, t, 1, self.dim))
    for i in range(self.depth):
      tokens = DividedSpaceTimeBlock(self.dim, self.heads, self.mlp_dim, name=f"block{i}")(tokens, train=train)
    pooled = nn.LayerNorm(name="norm")(tokens).mean(axis=(1, 2))
    return nn.Dense(self.num_classes, name="head")(pooled)
