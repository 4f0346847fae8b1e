"""Highway layers (lecture 10, 004c:194, L16282-L16290; Srivastava et al. 2015).

g = T(x, W_T) = σ(x W_T + b_T), the transform gate; y = g ⊙ H(x, W_H) + (1 − g) ⊙ x with
H(x) = act(x W_H + b_H). The gate's bias starts negative (the paper's −1 to −3; ``gate_bias``),
so a fresh layer mostly carries x through, which is what lets a deep stack of them train.
y has x's width.
"""

from __future__ import annotations

from typing import Callable

import flax.linen as nn
import jax

GATE_BIAS = -2.0


class Highway(nn.Module):
  """One highway layer: y = T ⊙ H + (1 − T) ⊙ x."""

  gate_bias: float = GATE_BIAS
  activation: Callable = jax.nn.relu

  @nn.compact
  def __call__(self, x):
    D = x.shape[-1]
    h = self.activation(nn.Dense(D, name="H")(x))
    t = jax.nn.sigmoid(nn.Dense(D, bias_init=nn.initializers.constant(self.gate_bias), name="T")(x))
    return t * h + (1 - t) * x
