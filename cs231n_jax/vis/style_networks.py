"""Fast style transfer's feed-forward transform network (lecture 13 V29-V32).

Johnson et al. 2016's image transformation network: a 9x9 conv, two stride-2 3x3 convs, residual
blocks, two x2 upsamplings (nearest-neighbour resize then a 3x3 conv, which avoids the
checkerboard of transposed convolutions), and a 9x9 conv to RGB; every conv but the last is
followed by a normalisation and a ReLU; the output (``output="sigmoid"``, Johnson's choice up to his
scaled tanh) is a sigmoid, an image in [0, 1]. ``output="residual"`` adds the last conv to the input
image instead (clipped to [0, 1]): the network starts as the identity, so the content is kept from
the first step and training only has to learn the stylisation. The widths
are ``features * (1, 2, 4)`` (Johnson: 32, 64, 128; 5 residual blocks).

``norm`` picks the normalisation the lecture compares:

- ``"batch"``: batch norm (statistics over the batch; running averages at test time);
- ``"instance"``: instance norm (Ulyanov et al. 2016: each image and channel over H x W; V31);
- ``"conditional_instance"``: instance norm with a learned scale and shift *per style*
  (Dumoulin et al. 2017; V32): the network takes ``style``, an ``(N, num_styles)`` array of style
  weights; one-hot picks a style, a convex combination blends them (the scale and shift are the
  weighted sums of the styles' parameters).
"""

from __future__ import annotations

from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

from cs231n_jax.models.registry import register

NORMS = ("batch", "instance", "conditional_instance")
OUTPUTS = ("sigmoid", "residual")


class ConditionalInstanceNorm(nn.Module):
  """Instance norm whose scale and shift are ``style @ gamma`` and ``style @ beta`` (``gamma``,
  ``beta``: ``(num_styles, C)``; ``style``: ``(N, num_styles)`` weights)."""

  num_styles: int
  epsilon: float = 1e-5

  @nn.compact
  def __call__(self, x, style):
    c = x.shape[-1]
    gamma = self.param("scale", nn.initializers.ones, (self.num_styles, c))
    beta = self.param("bias", nn.initializers.zeros, (self.num_styles, c))
    mean = jnp.mean(x, axis=(1, 2), keepdims=True)
    var = jnp.var(x, axis=(1, 2), keepdims=True)
    y = (x - mean) * jax.lax.rsqrt(var + self.epsilon)
    return y * (style @ gamma)[:, None, None, :] + (style @ beta)[:, None, None, :]


@register("style_transform_net", family="vis", input_shape=(64, 64, 3))
class StyleTransformNet(nn.Module):
  """Johnson et al.'s feed-forward style-transfer network (batch / instance / conditional instance norm)."""

  features: int = 32
  num_residual: int = 5
  norm: str = "instance"
  num_styles: int = 1
  bn_axis_name: Any = None
  output: str = "sigmoid"

  def _norm(self, h, style, train: bool, name: str):
    if self.norm == "batch":
      return nn.BatchNorm(use_running_average=not train, axis_name=self.bn_axis_name, name=name)(h)
    if self.norm == "instance":
      return nn.GroupNorm(num_groups=None, group_size=1, name=name)(h)  # one group per channel = instance norm
    return ConditionalInstanceNorm(self.num_styles, name=name)(h, style)

  @nn.compact
  def __call__(self, x, style=None, *, train: bool = False):
    if self.norm not in NORMS:
      raise ValueError(f"model.norm: expected one of {NORMS}, got {self.norm!r}")
    if self.output not in OUTPUTS:
      raise ValueError(f"model.output: expected one of {OUTPUTS}, got {self.output!r}")
    if x.ndim != 4 or x.shape[-1] != 3:
      raise ValueError(f"images: expected NHWC RGB images, got shape {x.shape}")
    if x.shape[1] % 4 or x.shape[2] % 4:
      raise ValueError(f"images: height and width must be multiples of 4 (two x2 downsamplings), got {x.shape[1:3]}")
    if self.norm == "conditional_instance":
      if style is None:
        style = jnp.ones((x.shape[0], self.num_styles)) / self.num_styles
      if style.shape != (x.shape[0], self.num_styles):
        raise ValueError(f"style: expected weights of shape {(x.shape[0], self.num_styles)}, got {style.shape}")
    f = self.features

    def conv_norm_relu(h, width, kernel, stride, name):
      h = nn.Conv(width, (kernel, kernel), (stride, stride), padding="SAME", name=f"{name}_conv")(h)
      return nn.relu(self._norm(h, style, train, f"{name}_norm"))

    h = conv_norm_relu(x, f, 9, 1, "in")
    h = conv_norm_relu(h, 2 * f, 3, 2, "down1")
    h = conv_norm_relu(h, 4 * f, 3, 2, "down2")
    for i in range(self.num_residual):
      r = conv_norm_relu(h, 4 * f, 3, 1, f"res{i}_a")
      r = nn.Conv(4 * f, (3, 3), padding="SAME", name=f"res{i}_b_conv")(r)
      h = h + self._norm(r, style, train, f"res{i}_b_norm")
    for i, width in enumerate((2 * f, f)):
      n, hh, ww, c = h.shape
      h = jax.image.resize(h, (n, 2 * hh, 2 * ww, c), "nearest")
      h = conv_norm_relu(h, width, 3, 1, f"up{i + 1}")
    out = nn.Conv(3, (9, 9), padding="SAME", name="out_conv")(h)
    if self.output == "residual":
      return jnp.clip(x + out, 0.0, 1.0)
    return nn.sigmoid(out)
