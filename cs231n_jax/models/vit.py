"""The Vision Transformer (Dosovitskiy et al. 2021; course notes chapter 11 and "ViT for video"),
NHWC, built from :mod:`cs231n_jax.nn.attention`.

An image is cut into non-overlapping P x P patches; each patch is flattened and linearly projected
to ``hidden_dim`` (one strided convolution does exactly that), a learned ``[class]`` token is
prepended, positions are encoded, a pre-norm transformer encoder mixes the tokens, and a linear
head reads the class token (or the mean of the patch tokens, ``pool="mean"``). The head starts at
zero, as in the paper, so the initial logits are 0 and the first loss is ln(num_classes).

Registered sizes:

- ``vit_tiny``: 8x8x1 digits, 2x2 patches -> 16 tokens, 64 wide, 4 layers of 4 heads;
- ``vit_small``: 32x32x3 (CIFAR-shaped), 4x4 patches -> 64 tokens, 128 wide, 6 layers of 4 heads.
"""

from __future__ import annotations

from typing import Any

import flax.linen as nn
import jax.numpy as jnp

from cs231n_jax.errors import ConfigError
from cs231n_jax.models.registry import register
from cs231n_jax.nn.attention import TransformerEncoder, positional_encoding
from cs231n_jax.nn.conv_pool import Conv

POOLS = ("cls", "mean")


@register("vit_tiny", input_shape=(8, 8, 1))
class VisionTransformer(nn.Module):
  """Vision Transformer: patch embedding - [class] token - positions - pre-norm encoder - linear head."""

  patch_size: int = 2
  hidden_dim: int = 64
  num_layers: int = 4
  num_heads: int = 4
  mlp_dim: int = 128
  num_classes: int = 10
  dropout_rate: float = 0.1
  attention_dropout_rate: float = 0.0
  pool: str = "cls"
  positional: str = "learned"  # or "sinusoidal" / "sinusoidal_course_notes"
  norm: str = "pre"
  dtype: Any = jnp.float32  # compute dtype; parameters stay float32

  @nn.compact
  def __call__(self, x: jnp.ndarray, *, train: bool = False) -> jnp.ndarray:
    if x.ndim != 4:
      raise ValueError(f"images: VisionTransformer expects NHWC images, got shape {x.shape}")
    n, h, w, _ = x.shape
    p = self.patch_size
    if h % p or w % p:
      raise ConfigError(f"model.patch_size: {p} must divide the image size {h}x{w}")
    if self.pool not in POOLS:
      raise ConfigError(f"model.pool: expected one of {POOLS}, got {self.pool!r}")
    # Flatten-and-project every P x P patch == a P x P convolution with stride P.
    x = Conv(self.hidden_dim, (p, p), strides=(p, p), padding="VALID", dtype=self.dtype, name="patch_embedding")(x)
    x = x.reshape(n, -1, self.hidden_dim)
    if self.pool == "cls":
      cls = self.param("cls_token", nn.initializers.zeros_init(), (1, 1, self.hidden_dim))
      x = jnp.concatenate([jnp.broadcast_to(cls, (n, 1, self.hidden_dim)).astype(x.dtype), x], axis=1)
    x = positional_encoding(self.positional, x.shape[1], self.dropout_rate, name="positions")(x, train=train)
    x = TransformerEncoder(self.num_layers, self.hidden_dim, self.num_heads, self.mlp_dim, self.dropout_rate,
                           self.attention_dropout_rate, self.norm, "gelu", self.dtype, name="encoder")(x, train=train)
    x = x[:, 0] if self.pool == "cls" else jnp.mean(x, axis=1)
    return nn.Dense(self.num_classes, kernel_init=nn.initializers.zeros_init(), dtype=self.dtype, name="head")(x)


@register("vit_small", input_shape=(32, 32, 3))
class VisionTransformerSmall(VisionTransformer):
  """Vision Transformer for 32x32x3 images: 4x4 patches, 128 wide, 6 layers of 4 heads."""

  patch_size: int = 4
  hidden_dim: int = 128
  num_layers: int = 6
  num_heads: int = 4
  mlp_dim: int = 256
