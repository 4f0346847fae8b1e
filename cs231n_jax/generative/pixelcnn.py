"""PixelCNN (masked convolutions) and the gated PixelCNN (vertical + horizontal stacks).

The 2017 lecture (seed @11143): "Dependency on previous pixels [is] modeled using a CNN over [the]
context region" that is already generated, with a softmax over the pixel values, trained by maximum
likelihood. It names no masks; the architecture follows the papers:

- :class:`PixelCNN` — van den Oord, Kalchbrenner, Kavukcuoglu, "Pixel Recurrent Neural Networks"
  (ICML 2016), sections 3.4-3.5: a ``k x k`` mask-A convolution, residual blocks of mask-B
  convolutions, two 1x1 mask-B layers to per-pixel logits. Stacked ``k x k`` masks leave a **blind
  spot**: pixels above and to the right of the current one that never reach it, however deep the
  network (the tests show it with gradients).
- :class:`GatedPixelCNN` — van den Oord et al., "Conditional Image Generation with PixelCNN Decoders"
  (NeurIPS 2016), section 2: gated activations ``tanh(W_f * x) * sigmoid(W_g * x)``, and two stacks:
  a *vertical* one that sees every column of the rows above and a *horizontal* one that sees the
  pixels to the left on the current row, linked vertical -> horizontal. No blind spot.

Both take integer images ``(N, H, W, C)`` in ``0..num_levels-1`` and return logits
``(N, H, W, C, num_levels)``. :class:`PixelCNN` handles colour (``C > 1``) with channel-grouped
masks; the gated model is built for grey images (``C = 1``), which is what the digits are.
"""

from __future__ import annotations

from typing import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

from cs231n_jax.generative.autoregressive import check_input_shape, embed_levels, logits_to_output
from cs231n_jax.models.registry import register
from cs231n_jax.nn.masked import HorizontalStackConv, MaskedConv, VerticalStackConv, down_shift, right_shift


@register("pixelcnn", input_shape=(8, 8, 1), family="pixel")
class PixelCNN(nn.Module):
  """The original PixelCNN: mask A, then residual mask-B blocks, then a 1x1 head (has a blind spot)."""

  num_levels: int = 17
  image_shape: Sequence[int] = (8, 8, 1)
  features: int = 64
  num_layers: int = 5  # residual mask-B blocks after the first layer
  first_kernel: int = 7
  kernel: int = 3
  head_features: int = 128
  dropout: float = 0.0  # on each residual branch, in training (PixelCNN++ regularises the same way)

  @nn.compact
  def __call__(self, images: jax.Array, train: bool = False) -> jax.Array:
    check_input_shape(self, images)
    c = self.image_shape[-1]
    x = embed_levels(images, self.num_levels)
    h = MaskedConv(self.features, (self.first_kernel,) * 2, "A", c, name="conv_a")(x)
    for i in range(self.num_layers):
      # Residual block (PixelRNN paper, fig. 5): relu -> k x k mask B -> relu -> 1x1 mask B, added.
      y = MaskedConv(self.features, (self.kernel,) * 2, "B", c, name=f"block{i}_conv")(nn.relu(h))
      y = MaskedConv(self.features, (1, 1), "B", c, name=f"block{i}_1x1")(nn.relu(y))
      h = h + nn.Dropout(self.dropout, deterministic=not train)(y)
    h = MaskedConv(self.head_features, (1, 1), "B", c, name="head_1x1")(nn.relu(h))
    logits = MaskedConv(c * self.num_levels, (1, 1), "B", c, name="logits")(nn.relu(h))
    return logits_to_output(logits, self.image_shape, self.num_levels)


def gated_activation(x: jax.Array) -> jax.Array:
  """``tanh(a) * sigmoid(b)`` for the two halves of the channels (the gated PixelCNN's unit)."""
  a, b = jnp.split(x, 2, axis=-1)
  return jnp.tanh(a) * nn.sigmoid(b)


class GatedLayer(nn.Module):
  """One gated PixelCNN layer (paper fig. 2): vertical stack, horizontal stack, v -> h link."""

  features: int
  kernel: int
  first: bool = False
  dropout: float = 0.0

  @nn.compact
  def __call__(self, v: jax.Array, h: jax.Array, train: bool = False) -> tuple[jax.Array, jax.Array]:
    v_feat = VerticalStackConv(2 * self.features, self.kernel, name="v_conv")(v)
    h_feat = HorizontalStackConv(2 * self.features, self.kernel, name="h_conv")(h)
    if self.first:
      # The first layer must not see the current pixel: shift the vertical stack one row down
      # (strictly the rows above) and the horizontal stack one column right (strictly the left).
      v_feat = down_shift(v_feat)
      h_feat = right_shift(h_feat)
    # The vertical features at (r, c) carry only rows < r, so they may feed the horizontal stack.
    h_feat = h_feat + nn.Conv(2 * self.features, (1, 1), name="v_to_h")(v_feat)
    v_out = gated_activation(v_feat)
    h_out = nn.Conv(self.features, (1, 1), name="h_1x1")(gated_activation(h_feat))
    h_out = nn.Dropout(self.dropout, deterministic=not train)(h_out)
    if not self.first:
      h_out = h + h_out  # residual connection on the horizontal stack only (as in the paper)
    return v_out, h_out


@register("gated_pixelcnn", input_shape=(8, 8, 1), family="pixel")
class GatedPixelCNN(nn.Module):
  """Gated PixelCNN with vertical and horizontal stacks: no blind spot (grey images)."""

  num_levels: int = 17
  image_shape: Sequence[int] = (8, 8, 1)
  features: int = 64
  num_layers: int = 6  # gated layers, including the first
  first_kernel: int = 7
  kernel: int = 3
  head_features: int = 128
  dropout: float = 0.0  # on the horizontal stack's residual branch, in training

  @nn.compact
  def __call__(self, images: jax.Array, train: bool = False) -> jax.Array:
    check_input_shape(self, images)
    if self.image_shape[-1] != 1:
      raise ValueError(f"image_shape: GatedPixelCNN is built for one channel, got {tuple(self.image_shape)}")
    if self.num_layers < 1:
      raise ValueError(f"num_layers: expected at least 1, got {self.num_layers}")
    x = embed_levels(images, self.num_levels)
    v, h = GatedLayer(self.features, self.first_kernel, first=True, name="layer0")(x, x)
    for i in range(1, self.num_layers):
      v, h = GatedLayer(self.features, self.kernel, dropout=self.dropout, name=f"layer{i}")(v, h, train)
    h = nn.Conv(self.head_features, (1, 1), name="head_1x1")(nn.relu(h))
    logits = nn.Conv(self.num_levels, (1, 1), name="logits")(nn.relu(h))
    return logits_to_output(logits, self.image_shape, self.num_levels)
