"""Flax modules of the self-supervised methods (family ``ssl``): an encoder f, heads, the wrapper.

- ``ssl_convnet``: a small conv encoder for digits / 32x32 images -> features h (no batch norm, so
  a step's result does not depend on how the batch is split over devices).
- ``ssl_mlp_head``: Dense-ReLU-Dense: SimCLR's projection g (the notes give no spec; SimCLR's
  paper uses a 2-layer MLP with a 128-d output), MoCo v2's MLP head, BYOL's projector / predictor.
- ``ssl_net``: encoder (any ``ssl`` or ``classify`` model returning features, by registry name)
  + projection head (+ BYOL's predictor) (+ a classifier head for pretext tasks: rotation, jigsaw).
  Returns a dict ``{"h", "z", "p", "logits"}`` (missing parts absent).
- ``ssl_convnet_classifier`` (family ``classify``): the same encoder with a linear classifier — the
  fully supervised baseline of the probe table, trained by the classification task.
- ``bag_of_words_text``: CLIP's text side at toy scale: word embeddings, masked mean, MLP.
- ``cpc_net``: CPC's encoder of sequence steps, a GRU context (``nn.RNN``, a ``lax.scan``) and one
  linear predictor per future step.
- ``context_encoder`` / ``context_discriminator``: Pathak et al.'s inpainting generator (features h at
  its bottleneck) and the discriminator of the hole's content; ``colorization_net``: L -> (a, b).
  (``mae_vit``, the masked autoencoder on the ViT, is in :mod:`cs231n_jax.ssl.mae`.)
"""

from __future__ import annotations

from typing import Any, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

from cs231n_jax.models.registry import get_model, register

SIMCLR_PROJECTION_DIM = 128  # Chen et al. 2020
SIMCLR_PROJECTION_HIDDEN = 512  # CIFAR-10 variant (ResNet-18's 512 features); the ImageNet one uses 2048


@register("ssl_convnet", family="ssl", input_shape=(8, 8, 1))
class ConvEncoder(nn.Module):
  """Conv(3x3)-ReLU layers (``channels``; ``strides``), flatten, Dense(features)-ReLU: features h."""

  channels: Sequence[int] = (32, 64)
  strides: Sequence[int] = (1, 2)
  features: int = 128

  @nn.compact
  def __call__(self, x, train: bool = False):
    del train
    for c, s in zip(self.channels, self.strides):
      x = nn.relu(nn.Conv(c, (3, 3), strides=(s, s))(x))
    return nn.relu(nn.Dense(self.features)(x.reshape(x.shape[0], -1)))


@register("ssl_mlp_head", family="ssl", input_shape=(128,))
class MLPHead(nn.Module):
  """Dense(hidden)-ReLU-Dense(out)."""

  hidden: int = SIMCLR_PROJECTION_HIDDEN
  out: int = SIMCLR_PROJECTION_DIM

  @nn.compact
  def __call__(self, x, train: bool = False):
    del train
    return nn.Dense(self.out)(nn.relu(nn.Dense(self.hidden)(x)))


@register("ssl_net", family="ssl", input_shape=(8, 8, 1))
class SSLNet(nn.Module):
  """Encoder f (registry name + kwargs) -> h; projection g(h) -> z; optional predictor q(z) -> p;
  optional linear classifier on h -> logits (pretext tasks)."""

  encoder: str = "ssl_convnet"
  encoder_kwargs: Any = None
  projection_hidden: int = SIMCLR_PROJECTION_HIDDEN
  projection_dim: int = SIMCLR_PROJECTION_DIM  # 0: no projection head
  predictor_hidden: int = 0  # > 0: BYOL's predictor (hidden width)
  num_classes: int = 0  # > 0: a pretext classifier head on h

  def setup(self):
    self.f = get_model(self.encoder, **dict(self.encoder_kwargs or {}))
    if self.projection_dim:
      self.g = MLPHead(self.projection_hidden, self.projection_dim)
    if self.predictor_hidden:
      self.q = MLPHead(self.predictor_hidden, self.projection_dim)
    if self.num_classes:
      self.head = nn.Dense(self.num_classes)

  def __call__(self, x, train: bool = False):
    out = {"h": self.f(x, train=train)}
    if self.projection_dim:
      out["z"] = self.g(out["h"])
      if self.predictor_hidden:
        out["p"] = self.q(out["z"])
    if self.num_classes:
      out["logits"] = self.head(out["h"])
    return out

  def features(self, x):
    return self.f(x, train=False)


@register("ssl_convnet_classifier", family="classify", input_shape=(8, 8, 1))
class ConvEncoderClassifier(nn.Module):
  """``ssl_convnet`` + a linear classifier: the supervised baseline whose ``encoder`` the probe reads."""

  channels: Sequence[int] = (32, 64)
  strides: Sequence[int] = (1, 2)
  features: int = 128
  num_classes: int = 10

  def setup(self):
    self.encoder = ConvEncoder(self.channels, self.strides, self.features)
    self.head = nn.Dense(self.num_classes)

  def __call__(self, x, train: bool = False):
    return self.head(self.encoder(x))


@register("bag_of_words_text", family="ssl", input_shape=None)
class BagOfWordsText(nn.Module):
  """Token ids (N, L) with 0 = padding -> the masked mean of word embeddings -> MLP."""

  vocab_size: int = 32
  embed: int = 64
  hidden: int = 128
  out: int = SIMCLR_PROJECTION_DIM
  positions: int = 0  # > 0: add learned position embeddings (word order: "a above b" vs "b above a")

  @nn.compact
  def __call__(self, tokens, train: bool = False):
    del train
    mask = (tokens > 0).astype(jnp.float32)[..., None]
    e = nn.Embed(self.vocab_size, self.embed)(tokens)
    if self.positions:
      e = e + nn.Embed(self.positions, self.embed, name="position")(jnp.arange(tokens.shape[1]))[None]
    mean = jnp.sum(e * mask, axis=1) / jnp.maximum(jnp.sum(mask, axis=1), 1.0)
    return MLPHead(self.hidden, self.out)(mean)


@register("clip_net", family="ssl", input_shape=None)
class ClipNet(nn.Module):
  """CLIP at toy scale: an image tower (``ssl_net`` with its projection to the joint space) and
  ``bag_of_words_text`` into the same ``projection_dim``-d space."""

  encoder: str = "ssl_convnet"
  encoder_kwargs: Any = None
  projection_hidden: int = 256
  projection_dim: int = 64
  vocab_size: int = 32
  text_embed: int = 64
  text_positions: int = 0

  def setup(self):
    self.image = SSLNet(self.encoder, self.encoder_kwargs, self.projection_hidden, self.projection_dim)
    self.text = BagOfWordsText(self.vocab_size, self.text_embed, self.projection_hidden, self.projection_dim,
                               self.text_positions)

  def __call__(self, images, tokens, train: bool = False):
    out = self.image(images, train=train)
    return {"h": out["h"], "image": out["z"], "text": self.text(tokens)}

  def encode_text(self, tokens):
    return self.text(tokens)

  def encode_image(self, images):
    return self.image(images)["z"]

  def features(self, images):
    return self.image.features(images)


@register("cpc_net", family="ssl", input_shape=None)
class CPCNet(nn.Module):
  """CPC: ``g_enc`` maps each step (B, T, ...) to a code z_t (an MLP on the flattened step); a GRU
  ``g_ar`` summarises z_1..z_t into the context c_t; ``W_k c_t`` predicts z_{t+k}, k = 1..K."""

  code: int = 64
  context: int = 64
  hidden: int = 128
  future_steps: int = 2

  def setup(self):
    self.g_enc = MLPHead(self.hidden, self.code)
    self.g_ar = nn.RNN(nn.GRUCell(self.context))
    self.w = [nn.Dense(self.code, use_bias=False, name=f"w_{k + 1}") for k in range(self.future_steps)]

  def encode(self, steps):
    b, t = steps.shape[:2]
    return self.g_enc(steps.reshape(b * t, -1)).reshape(b, t, self.code)

  def __call__(self, steps, train: bool = False):
    """Codes (B, T, code), contexts (B, T, context), predictions (B, T - K, K, code) of z_{t+1..t+K}."""
    del train
    z = self.encode(steps)
    c = self.g_ar(z)
    t_pred = z.shape[1] - self.future_steps
    pred = jnp.stack([w(c[:, :t_pred]) for w in self.w], axis=2)
    return {"z": z, "c": c, "pred": pred}

  def features(self, steps):
    """The probe's features of a sequence: its last context."""
    return self.g_ar(self.encode(steps))[:, -1]


# ---------------------------------------------------------------------------------------------
# Pixel-prediction networks (tasks.ssl_pixels): the context encoder, its discriminator, colourisation.
# ---------------------------------------------------------------------------------------------


@register("context_encoder", family="ssl", input_shape=(8, 8, 1))
class ContextEncoder(nn.Module):
  """Pathak et al.'s generator at toy scale: strided convolutions -> Dense -> features h (the
  "channel-wise fully connected" bottleneck) -> Dense -> transposed convolutions -> the image (sigmoid)."""

  channels: Sequence[int] = (32, 64)
  feature_dim: int = 128
  image_shape: tuple[int, int, int] = (8, 8, 1)

  def setup(self):
    self.down = [nn.Conv(c, (3, 3), strides=(2, 2)) for c in self.channels]
    self.bottleneck = nn.Dense(self.feature_dim)
    s = 2 ** len(self.channels)
    self.expand = nn.Dense(-(-self.image_shape[0] // s) * -(-self.image_shape[1] // s) * self.channels[-1])
    self.up = [nn.ConvTranspose(c, (3, 3), strides=(2, 2)) for c in reversed(self.channels)]
    self.out = nn.Conv(self.image_shape[-1], (3, 3))

  def encode(self, x):
    for conv in self.down:
      x = nn.relu(conv(x))
    return nn.relu(self.bottleneck(x.reshape(x.shape[0], -1)))

  def __call__(self, x, train: bool = False):
    del train
    n, h, w, _ = x.shape
    s = 2 ** len(self.channels)
    y = nn.relu(self.expand(self.encode(x)))
    y = y.reshape(n, -(-h // s), -(-w // s), self.channels[-1])
    for conv in self.up:
      y = nn.relu(conv(y))
    return nn.sigmoid(self.out(y[:, :h, :w]))

  def features(self, x):
    return self.encode(x)


@register("context_discriminator", family="ssl", input_shape=(4, 4, 1))
class ContextDiscriminator(nn.Module):
  """Judges a hole's content: convolutions (leaky ReLU) -> one logit (real or generated)."""

  channels: Sequence[int] = (32,)

  @nn.compact
  def __call__(self, x, train: bool = False):
    del train
    for c in self.channels:
      x = nn.leaky_relu(nn.Conv(c, (3, 3))(x), 0.2)
    return nn.Dense(1)(x.reshape(x.shape[0], -1))[:, 0]


@register("colorization_net", family="ssl", input_shape=(32, 32, 1))
class ColorizationNet(nn.Module):
  """L -> (a, b): convolutions down by 2, a dilated convolution, a transposed convolution back up
  (fully convolutional, so any crop size works)."""

  channels: Sequence[int] = (32, 64)

  @nn.compact
  def __call__(self, x, train: bool = False):
    del train
    c1, c2 = self.channels
    h = nn.relu(nn.Conv(c1, (3, 3))(x))
    y = nn.relu(nn.Conv(c2, (3, 3), strides=(2, 2))(h))
    y = nn.relu(nn.Conv(c2, (3, 3), kernel_dilation=(2, 2))(y))
    y = nn.relu(nn.ConvTranspose(c1, (3, 3), strides=(2, 2))(y))[:, :x.shape[1], :x.shape[2]]
    return nn.Conv(2, (3, 3))(jnp.concatenate([y, h], axis=-1))


def tree_size(tree) -> int:
  return sum(x.size for x in jax.tree.leaves(tree))
