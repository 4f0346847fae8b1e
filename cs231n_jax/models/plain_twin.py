"""The CIFAR ResNet of He et al. 2016 (section 4.2) and its plain twin: the degradation experiment
of lecture 9 ("56-layer plain net has higher training error than the 20-layer one; residual nets
do not").

:class:`CifarTwin` is the 6n+2-layer network of ``resnet20/32/44/56`` (a 3x3 conv stem of 16
filters with BN-ReLU, three stages of n basic blocks of 16/32/64 filters, the first block of
stages 2 and 3 at stride 2, global average pool, FC). With ``residual=True`` a block is
``relu(bn2(conv2(relu(bn1(conv1(x))))) + shortcut(x))`` with option A shortcuts (identity;
subsample and zero-pad the new channels where the shape changes), exactly the registry's
``resnet<depth>`` (the same variable tree: tested equal). With ``residual=False`` the add is
dropped: ``relu(bn2(conv2(relu(bn1(conv1(x))))))``. The blocks are :class:`~cs231n_jax.models.resnet.ResidualBlock`
with ``shortcut="zero_pad"`` or ``"none"``. Option A shortcuts have no parameters, so the
two twins have exactly the same parameters and the same initialisation for the same key; they
differ only in the identity paths (the paper's "plain" baselines).

``zero_init_residual=True`` starts the scale of each block's last batch norm at 0 (Goyal et al. 2017,
section 5.1; torchvision's ``zero_init_residual``): every residual block is then the identity at
initialisation (``relu(0 + shortcut(x))``, and ``x >= 0`` after the stem's ReLU), so a deep residual net
starts as its stem and classifier, whatever its depth. It changes no parameter's shape. It is refused
for the plain twin, where it would zero every block's output (no path would carry the signal).
"""

from __future__ import annotations

from typing import Sequence

import flax.linen as nn
import jax.numpy as jnp

from cs231n_jax.models import cnn_layers as L
from cs231n_jax.models.registry import register
from cs231n_jax.models.resnet import ResidualBlock


@register("cifar_twin", "CIFAR ResNet-(6n+2) (option A) or, with residual=False, its plain twin without shortcuts "
          "(the degradation experiment).", input_shape=(32, 32, 3))
class CifarTwin(nn.Module):
  """``depth`` = 6n + 2 layers; ``residual`` chooses the ResNet or its plain twin."""

  depth: int = 20
  residual: bool = True
  widths: Sequence[int] = (16, 32, 64)
  num_classes: int = 10
  dtype: L.Dtype = jnp.float32
  param_dtype: L.Dtype = jnp.float32
  bn_axis_name: str | None = None
  zero_init_residual: bool = False

  @nn.compact
  def __call__(self, x: jnp.ndarray, *, train: bool = False) -> jnp.ndarray:
    if isinstance(self.depth, bool) or not isinstance(self.depth, int) or self.depth < 8 or (self.depth - 2) % 6:
      raise ValueError(f"model.depth: expected 6n + 2 with n >= 1 (8, 14, 20, ..., 56), got {self.depth!r}")
    if len(self.widths) != 3:
      raise ValueError(f"model.widths: expected three stage widths, got {tuple(self.widths)}")
    if self.zero_init_residual and not self.residual:
      raise ValueError("model.zero_init_residual: expected False for the plain twin (residual=False): a zero last "
                       "batch-norm scale would zero every block's output")
    L.check_images(x, type(self).__name__)
    n = (self.depth - 2) // 6
    x = L.conv(self, self.widths[0], 3, "conv1", padding=1, use_bias=False)(x.astype(self.dtype))
    x = L.batch_norm(self, train, name="bn1", relu=True)(x)
    for i, planes in enumerate(self.widths, start=1):
      for j in range(n):
        x, _ = ResidualBlock(planes, 2 if (i > 1 and j == 0) else 1, shortcut="zero_pad" if self.residual else "none",
                             zero_init_residual=self.zero_init_residual, train=train, dtype=self.dtype, param_dtype=self.param_dtype,
                             bn_axis_name=self.bn_axis_name, name=f"layer{i}_{j}")(x)
    x = L.global_avg_pool(x)
    return L.logits_f32(L.dense(self, self.num_classes, "fc")(x))
