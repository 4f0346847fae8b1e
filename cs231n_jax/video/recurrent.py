"""Recurrent video models: long-range temporal structure (lecture 14).

- ``lrcn`` (Donahue et al. 2015, LRCN; the Baccouche / "Beyond Short Snippets" pattern): a 2-D CNN
  on every frame, its features into an LSTM run over time by ``lax.scan`` (``flax.linen.RNN``), a
  class prediction at every frame (sown as ``intermediates/frame_logits``) and for the clip (the
  last frame's, which has seen the whole clip; ``readout="mean"`` averages the frames').
- ``conv_gru`` (GRU-RCN, Ballas et al. 2016): every convolutional layer is recurrent. Layer ``l``
  convolves its input at time ``t`` and its own previous state, GRU-style, with 2-D convolutions only
  (no 3-D convolution anywhere), one recurrent state per layer, VGG-like 3x3 convolutions and 2x2
  max pooling between layers. The equations are the slide's::

      z_t = σ(W_z * x_t + U_z * h_{t-1})         r_t = σ(W_r * x_t + U_r * h_{t-1})
      h~_t = tanh(W * x_t + U * (r_t ⊙ h_{t-1}))  h_t = (1 - z_t) ⊙ h_{t-1} + z_t ⊙ h~_t

  Note the conventions that differ from ``flax.linen.GRUCell``: there ``h_t = (1 - z) ⊙ h~ + z ⊙
  h_{t-1}`` (its z is the slide's 1 - z), and its candidate applies the reset gate after the recurrent
  product, ``r ⊙ (U h + b)``, where the slide resets before it, ``U (r ⊙ h)``.
"""

from __future__ import annotations

from typing import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

from cs231n_jax.models.registry import register
from cs231n_jax.video.layers import FrameTower, check_clips, fold_time, unfold_time

READOUTS = ("last", "mean")


@register("lrcn", family="video", input_shape=(8, 16, 16, 1))
class LRCN(nn.Module):
  """CNN + LSTM (LRCN): per-frame CNN features into an LSTM scanned over time."""

  widths: Sequence[int] = (16, 32)
  hidden: int = 64
  lstm: int = 64
  readout: str = "last"
  num_classes: int = 2

  @nn.compact
  def __call__(self, x: jax.Array, train: bool = False) -> jax.Array:
    check_clips(x, 1, "lrcn")
    if self.readout not in READOUTS:
      raise ValueError(f"model.readout: expected one of {READOUTS}, got {self.readout!r}")
    frames, t = fold_time(x)
    feats = unfold_time(FrameTower(self.widths, self.hidden, name="tower")(frames), t)
    h = nn.RNN(nn.OptimizedLSTMCell(self.lstm), name="lstm")(feats)  # (B, T, lstm), a lax.scan over T
    logits = nn.Dense(self.num_classes, name="head")(h)
    self.sow("intermediates", "frame_logits", logits)
    return logits[:, -1] if self.readout == "last" else logits.mean(axis=1)


class ConvGRUCell(nn.Module):
  """One GRU-RCN layer's step: the slide's gates with ``kernel_size`` 2-D convolutions.

  Parameters: ``input_z``, ``input_r``, ``input_h`` (the W's, with biases) and ``hidden_z``,
  ``hidden_r``, ``hidden_h`` (the U's, no bias). ``update_bias`` initialises the update gate's bias
  (``input_z``'s; 0 by default): negative values start the layer keeping its state (z = σ(-3) ≈ 0.05:
  95% of the state kept per frame instead of 50%), the GRU counterpart of the LSTM's forget-gate
  bias of 1 (Jozefowicz et al. 2015). It changes the initialisation only, not the equations."""

  features: int
  kernel_size: Sequence[int] = (3, 3)
  update_bias: float = 0.0

  @nn.compact
  def __call__(self, h: jax.Array, x: jax.Array) -> tuple[jax.Array, jax.Array]:
    conv_x = lambda name, b=0.0: nn.Conv(self.features, tuple(self.kernel_size), padding="SAME", name=name,
                                         bias_init=nn.initializers.constant(b))
    conv_h = lambda name: nn.Conv(self.features, tuple(self.kernel_size), padding="SAME", use_bias=False, name=name)
    z = jax.nn.sigmoid(conv_x("input_z", self.update_bias)(x) + conv_h("hidden_z")(h))
    r = jax.nn.sigmoid(conv_x("input_r")(x) + conv_h("hidden_r")(h))
    candidate = jnp.tanh(conv_x("input_h")(x) + conv_h("hidden_h")(r * h))
    h = (1 - z) * h + z * candidate
    return h, h


class ConvGRU(nn.Module):
  """A ConvGRU layer over a clip (B, T, H, W, C) -> all states (B, T, H, W, features), by ``nn.scan``
  (a ``lax.scan`` over time) from a zero state."""

  features: int
  kernel_size: Sequence[int] = (3, 3)
  update_bias: float = 0.0

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    scan = nn.scan(ConvGRUCell, variable_broadcast="params", split_rngs={"params": False}, in_axes=1, out_axes=1)
    h0 = jnp.zeros((x.shape[0], *x.shape[2:4], self.features), x.dtype)
    _, states = scan(self.features, self.kernel_size, self.update_bias, name="cell")(h0, x)
    return states


@register("conv_gru", family="video", input_shape=(8, 16, 16, 1))
class GRURCN(nn.Module):
  """GRU-RCN: stacked ConvGRU layers (3x3 convs, 2x2 max pools), the top state pooled into a classifier.

  The last state of the top layer is globally average-pooled into a linear classifier.
  ``update_bias``: every layer's update-gate bias at initialisation (see :class:`ConvGRUCell`).
  ``stem``: widths of per-frame 3x3 convolutions (ReLU, 2x2 max pooling) run on every frame before the
  recurrent layers (empty by default): Ballas et al. put their GRU-RCN units on a CNN's feature maps,
  and a smaller map makes every recurrent step cheaper (still 2-D convolutions only)."""

  widths: Sequence[int] = (16, 32)
  kernel_size: Sequence[int] = (3, 3)
  update_bias: float = 0.0
  stem: Sequence[int] = ()
  num_classes: int = 2

  @nn.compact
  def __call__(self, x: jax.Array, train: bool = False) -> jax.Array:
    check_clips(x, 1, "conv_gru")
    if self.stem:
      folded, t = fold_time(x)
      for i, w in enumerate(self.stem):
        folded = nn.max_pool(nn.relu(nn.Conv(w, (3, 3), padding="SAME", name=f"stem{i}")(folded)), (2, 2), (2, 2), padding="SAME")
      x = unfold_time(folded, t)
    for i, w in enumerate(self.widths):
      x = ConvGRU(w, self.kernel_size, self.update_bias, name=f"gru{i}")(x)
      if i < len(self.widths) - 1:
        folded, t = fold_time(x)
        x = unfold_time(nn.max_pool(folded, (2, 2), (2, 2), padding="SAME"), t)
    return nn.Dense(self.num_classes, name="head")(x[:, -1].mean(axis=(1, 2)))


@register("local_3d_cnn", family="video", input_shape=(32, 16, 16, 1))
class Local3DCNN(nn.Module):
  """E3's local model: 3-D convolutions of small temporal extent, scores averaged over time and space.

  The temporal receptive field is 1 + layers·(k - 1) frames (5 by default), VALID in time."""

  widths: Sequence[int] = (16, 32)
  temporal_kernel: int = 3
  num_classes: int = 2

  @property
  def receptive_field(self) -> int:
    return 1 + len(self.widths) * (self.temporal_kernel - 1)

  @nn.compact
  def __call__(self, x: jax.Array, train: bool = False) -> jax.Array:
    check_clips(x, self.receptive_field, "local_3d_cnn")
    for i, w in enumerate(self.widths):
      x = nn.relu(nn.Conv(w, (self.temporal_kernel, 3, 3), padding=[(0, 0), (1, 1), (1, 1)], name=f"conv{i}")(x))
    return nn.Dense(self.num_classes, name="head")(x).mean(axis=(1, 2, 3))
