"""The (deterministic) autoencoder: a conv encoder, an upconv decoder, an L2 reconstruction loss.

The 2017 lecture (@18262-23850) and the 2016 lecture: ``x -> encoder -> z -> decoder -> x_hat``, the
code ``z`` smaller than ``x``, "a 4-layer conv encoder and a 4-layer upconv decoder" with an L2 loss
and no labels; afterwards the decoder is thrown away and the encoder initialises a supervised model
that is fine-tuned on the (few) labelled examples. At digits size (8x8): four 3x3 convolutions with
strides 1, 2, 1, 2 down to 2x2, a dense code; the decoder mirrors them with transposed ("up")
convolutions. :class:`EncoderClassifier` names its encoder ``encoder`` — the same module and
parameter names as in :class:`ConvAutoencoder` — so trained encoder parameters drop straight in.
"""

from __future__ import annotations

from typing import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from cs231n_jax.models.registry import register

ENCODER_FEATURES = (32, 64, 64, 64)
ENCODER_STRIDES = (1, 2, 1, 2)


class ConvEncoder(nn.Module):
  """Four 3x3 convolutions (strides 1, 2, 1, 2; ReLU), flattened, then a dense layer to ``out``."""

  out: int
  features: Sequence[int] = ENCODER_FEATURES

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    for i, (f, s) in enumerate(zip(self.features, ENCODER_STRIDES)):
      x = nn.relu(nn.Conv(f, (3, 3), strides=(s, s), name=f"conv{i}")(x))
    return nn.Dense(self.out, name="code")(x.reshape(x.shape[0], -1))


class ConvDecoder(nn.Module):
  """Dense to a 2x2 map, then four layers mirroring the encoder: transposed convolutions (stride 2)
  double the size, 3x3 convolutions refine; ``out_per_pixel`` maps per pixel (no output activation)."""

  image_shape: Sequence[int] = (8, 8, 1)
  out_per_pixel: int = 1
  features: Sequence[int] = ENCODER_FEATURES

  @nn.compact
  def __call__(self, z: jax.Array) -> jax.Array:
    h, w, c = self.image_shape
    down = int(np.prod(ENCODER_STRIDES))
    if h % down or w % down:
      raise ValueError(f"image_shape: the conv decoder needs sides divisible by {down}, got {tuple(self.image_shape)}")
    f = list(reversed(self.features))
    x = nn.relu(nn.Dense(h // down * w // down * f[0], name="project")(z))
    x = x.reshape(z.shape[0], h // down, w // down, f[0])
    x = nn.relu(nn.ConvTranspose(f[1], (3, 3), strides=(2, 2), name="upconv0")(x))
    x = nn.relu(nn.Conv(f[2], (3, 3), name="conv1")(x))
    x = nn.relu(nn.ConvTranspose(f[3], (3, 3), strides=(2, 2), name="upconv2")(x))
    x = nn.Conv(c * self.out_per_pixel, (3, 3), name="conv3")(x)
    return x.reshape(z.shape[0], h, w, c * self.out_per_pixel)


@register("conv_autoencoder", input_shape=(8, 8, 1), family="latent")
class ConvAutoencoder(nn.Module):
  """``x -> z -> x_hat`` with a ``code_dim``-dimensional code; the output is in [0, 1] (sigmoid)."""

  code_dim: int = 16
  image_shape: Sequence[int] = (8, 8, 1)

  def setup(self):
    self.encoder = ConvEncoder(self.code_dim)
    self.decoder = ConvDecoder(tuple(self.image_shape), 1)

  def encode(self, x: jax.Array) -> jax.Array:
    if tuple(x.shape[1:]) != tuple(self.image_shape):
      raise ValueError(f"x: the autoencoder was built for (N, {', '.join(map(str, self.image_shape))}), got {tuple(x.shape)}")
    return self.encoder(x)

  def __call__(self, x: jax.Array) -> jax.Array:
    return nn.sigmoid(self.decoder(self.encode(x)))


def l2_loss(x_hat: jax.Array, x: jax.Array) -> jax.Array:
  """The squared L2 reconstruction error per image, averaged over the batch."""
  return jnp.sum((x_hat - x) ** 2, axis=tuple(range(1, x.ndim))).mean()


CODE_ACTIVATIONS = ("relu", "none")


class EncoderClassifier(nn.Module):
  """The autoencoder's encoder (same names) followed by ``code_activation`` (ReLU, or none: the
  linear code itself, as the decoder sees it) and a linear softmax classifier."""

  num_classes: int = 10
  code_dim: int = 16
  code_activation: str = "relu"

  @nn.compact
  def __call__(self, x: jax.Array, train: bool = False) -> jax.Array:
    if self.code_activation not in CODE_ACTIVATIONS:
      raise ValueError(f"code_activation: expected one of {CODE_ACTIVATIONS}, got {self.code_activation!r}")
    code = ConvEncoder(self.code_dim, name="encoder")(x)
    return nn.Dense(self.num_classes, name="classifier")(nn.relu(code) if self.code_activation == "relu" else code)
