"""A masked autoencoder on the Vision Transformer (He et al. 2022; beyond the notes).

The image is cut into P x P patches; a random ``mask_ratio`` of them (75% in the paper) is hidden,
drawn per example; the ENCODER sees only the visible patches (patch embedding, positions, transformer
blocks); a light DECODER gets the encoded visible tokens back in place, a learned mask token at every
hidden position, its own positions and blocks, and predicts every patch's pixels; the loss is the
mean squared error on the HIDDEN patches only (optionally against per-patch normalised pixels, the
paper's ``norm_pix_loss``).

The encoder is built from the ViT's own parts (:mod:`cs231n_jax.models.vit`: the strided-convolution
patch embedding, ``positional_encoding``, ``TransformerEncoder`` with GELU, pre-norm) under the ViT's
parameter names (``patch_embedding``, ``positions``, ``encoder``), so its parameters load into a
``vit_tiny(pool="mean")`` unchanged: with nothing masked, the MAE's features are the ViT's mean-pooled
tokens (tested).
"""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp

from cs231n_jax.errors import ConfigError
from cs231n_jax.models.registry import register
from cs231n_jax.nn.attention import TransformerEncoder, positional_encoding
from cs231n_jax.nn.conv_pool import Conv

MAE_MASK_RATIO = 0.75  # He et al. 2022


def patchify(images: jax.Array, p: int) -> jax.Array:
  """(N, H, W, C) -> (N, H/p * W/p, p * p * C): patches in row-major order (the order of the ViT's
  strided-convolution tokens), each flattened as (row, column, channel)."""
  n, h, w, c = images.shape
  if h % p or w % p:
    raise ConfigError(f"model.patch_size: {p} must divide the image size {h}x{w}")
  x = images.reshape(n, h // p, p, w // p, p, c).transpose(0, 1, 3, 2, 4, 5)
  return x.reshape(n, (h // p) * (w // p), p * p * c)


def unpatchify(patches: jax.Array, p: int, h: int, w: int) -> jax.Array:
  """The inverse of :func:`patchify`."""
  n, _, d = patches.shape
  c = d // (p * p)
  x = patches.reshape(n, h // p, w // p, p, p, c).transpose(0, 1, 3, 2, 4, 5)
  return x.reshape(n, h, w, c)


def num_visible(num_patches: int, mask_ratio: float) -> int:
  if not 0.0 <= mask_ratio < 1.0:
    raise ConfigError(f"mae.mask_ratio: expected 0 <= ratio < 1, got {mask_ratio!r}")
  return max(int(num_patches * (1.0 - mask_ratio)), 1)


def random_masking(key: jax.Array, batch: int, num_patches: int, mask_ratio: float) -> tuple[jax.Array, jax.Array]:
  """Per example, a uniformly random subset of ``num_visible`` patches stays visible (MAE: argsort of
  uniform noise). Returns the visible indices (N, K), sorted, and the mask (N, L): 1 = hidden."""
  keep = num_visible(num_patches, mask_ratio)
  noise = jax.random.uniform(key, (batch, num_patches))
  visible = jnp.sort(jnp.argsort(noise, axis=1)[:, :keep], axis=1)
  mask = jnp.ones((batch, num_patches)).at[jnp.arange(batch)[:, None], visible].set(0.0)
  return visible, mask


def masked_patch_loss(pred: jax.Array, images: jax.Array, mask: jax.Array, p: int, norm_pix: bool = False) -> jax.Array:
  """MAE's loss per example: the mean over HIDDEN patches of each patch's mean squared pixel error
  (visible patches do not count). (N,)."""
  target = patchify(images, p)
  if norm_pix:
    mean = target.mean(-1, keepdims=True)
    var = target.var(-1, keepdims=True)
    target = (target - mean) / jnp.sqrt(var + 1e-6)
  per_patch = jnp.mean((pred - target) ** 2, axis=-1)
  return jnp.sum(per_patch * mask, axis=1) / jnp.maximum(jnp.sum(mask, axis=1), 1.0)


@register("mae_vit", family="ssl", input_shape=None)
class MaskedAutoencoderViT(nn.Module):
  """ViT encoder over the visible patches + a light transformer decoder over all positions.

  Fields default to ``vit_tiny``'s encoder (8x8x1, 2x2 patches, 64 wide, 4 layers of 4 heads); the
  decoder is narrower and shallower (the paper: 8 blocks of 512 for a ViT-L of 1024)."""

  image_shape: tuple[int, int, int] = (8, 8, 1)
  patch_size: int = 2
  hidden_dim: int = 64
  num_layers: int = 4
  num_heads: int = 4
  mlp_dim: int = 128
  decoder_dim: int = 32
  decoder_layers: int = 1
  decoder_heads: int = 4
  decoder_mlp_dim: int = 64

  @property
  def num_patches(self) -> int:
    h, w, _ = self.image_shape
    return (h // self.patch_size) * (w // self.patch_size)

  def setup(self):
    p = self.patch_size
    h, w, _ = self.image_shape
    if h % p or w % p:
      raise ConfigError(f"model.patch_size: {p} must divide the image size {h}x{w}")
    # The ViT's parts under the ViT's names (models/vit.py, pool="mean": no class token).
    self.patch_embedding = Conv(self.hidden_dim, (p, p), strides=(p, p), padding="VALID")
    self.positions = positional_encoding("learned", self.num_patches)
    self.encoder = TransformerEncoder(self.num_layers, self.hidden_dim, self.num_heads, self.mlp_dim, 0.0, 0.0, "pre",
                                      "gelu")
    self.decoder_embed = nn.Dense(self.decoder_dim)
    self.mask_token = self.param("mask_token", nn.initializers.normal(0.02), (1, 1, self.decoder_dim))
    self.decoder_positions = positional_encoding("learned", self.num_patches)
    self.decoder = TransformerEncoder(self.decoder_layers, self.decoder_dim, self.decoder_heads, self.decoder_mlp_dim,
                                      0.0, 0.0, "pre", "gelu")
    self.decoder_pred = nn.Dense(p * p * self.image_shape[-1])

  def tokens(self, images: jax.Array) -> jax.Array:
    n = images.shape[0]
    x = self.patch_embedding(images).reshape(n, -1, self.hidden_dim)
    return self.positions(x)

  def encode(self, images: jax.Array, visible: jax.Array | None = None) -> jax.Array:
    """Encoded tokens of the ``visible`` patches (all patches when None): (N, K, hidden_dim)."""
    x = self.tokens(images)
    if visible is not None:
      x = jnp.take_along_axis(x, visible[..., None], axis=1)
    return self.encoder(x)

  def decode(self, encoded: jax.Array, visible: jax.Array) -> jax.Array:
    """Pixel predictions for every patch (N, L, p*p*C) from the visible tokens put back in place."""
    n = encoded.shape[0]
    y = self.decoder_embed(encoded)
    full = jnp.broadcast_to(self.mask_token, (n, self.num_patches, self.decoder_dim)).astype(y.dtype)
    full = full.at[jnp.arange(n)[:, None], visible].set(y)
    return self.decoder_pred(self.decoder(self.decoder_positions(full)))

  def __call__(self, images: jax.Array, visible: jax.Array, train: bool = False) -> jax.Array:
    del train
    return self.decode(self.encode(images, visible), visible)

  def features(self, images: jax.Array) -> jax.Array:
    """The probe's features: every patch encoded (nothing masked), mean-pooled (the ViT's ``pool="mean"``)."""
    return jnp.mean(self.encode(images), axis=1)
