"""The MUT1-MUT3 recurrent cells of Jozefowicz, Zaremba & Sutskever (2015), as lecture 10 writes
them (004c:196-198, L16308-L16330), with h_t the carry and x_t the input:

MUT1: z = σ(W_xz x_t + b_z); r = σ(W_xr x_t + W_hr h_t + b_r);
      h_{t+1} = tanh(W_hh (r ⊙ h_t) + tanh(x_t) + b_h) ⊙ z + h_t ⊙ (1 − z)
MUT2: z = σ(W_xz x_t + W_hz h_t + b_z); r = σ(x_t + W_hr h_t + b_r);
      h_{t+1} = tanh(W_hh (r ⊙ h_t) + W_xh x_t + b_h) ⊙ z + h_t ⊙ (1 − z)
MUT3: z = σ(W_xz x_t + W_hz tanh(h_t) + b_z); r = σ(W_xr x_t + W_hr h_t + b_r);
      h_{t+1} = tanh(W_hh (r ⊙ h_t) + W_xh x_t + b_h) ⊙ z + h_t ⊙ (1 − z)

**Text error, our choice.** The slide's MUT2 reads ``W_hx h_t`` in z: a matrix from h to x would
give z the input's width, not the state's. We read it as ``W_hz`` (as the paper has it), a hidden-to-
z matrix. MUT1's ``tanh(x_t)`` and MUT2's ``σ(x_t + ...)`` add the raw input to a state-sized
vector, so those cells need ``input dim == features`` (a ConfigError says so otherwise).

Row-vector convention as the project's other cells (``x @ W``): ``W_xz`` is (D, H). Initialisation
as :class:`cs231n_jax.nn.recurrent.SimpleRNNCell`: input kernels LeCun normal, recurrent ones
orthogonal, biases 0. The output of each cell is its new state.
"""

from __future__ import annotations

from typing import Any, Callable

import flax.linen as nn
import jax
import jax.numpy as jnp

from cs231n_jax.errors import ConfigError

Array = jax.Array
VARIANTS = ("mut1", "mut2", "mut3")
# Which weights each cell has (the rest of its terms are fixed: tanh(x_t), x_t).
WEIGHTS = {
    "mut1": ("W_xz", "W_xr", "W_hr", "W_hh"),
    "mut2": ("W_xz", "W_hz", "W_hr", "W_hh", "W_xh"),
    "mut3": ("W_xz", "W_hz", "W_xr", "W_hr", "W_hh", "W_xh"),
}


def mut_step(variant: str, p: dict[str, Array], h: Array, x: Array) -> Array:
  """One step h_t -> h_{t+1} of ``variant`` with the weights ``p`` (names as above, biases b_z, b_r,
  b_h): the formulas verbatim (MUT2 with W_hz)."""
  sig = jax.nn.sigmoid
  if variant == "mut1":
    z = sig(x @ p["W_xz"] + p["b_z"])
    r = sig(x @ p["W_xr"] + h @ p["W_hr"] + p["b_r"])
    cand = jnp.tanh((r * h) @ p["W_hh"] + jnp.tanh(x) + p["b_h"])
  elif variant == "mut2":
    z = sig(x @ p["W_xz"] + h @ p["W_hz"] + p["b_z"])
    r = sig(x + h @ p["W_hr"] + p["b_r"])
    cand = jnp.tanh((r * h) @ p["W_hh"] + x @ p["W_xh"] + p["b_h"])
  elif variant == "mut3":
    z = sig(x @ p["W_xz"] + jnp.tanh(h) @ p["W_hz"] + p["b_z"])
    r = sig(x @ p["W_xr"] + h @ p["W_hr"] + p["b_r"])
    cand = jnp.tanh((r * h) @ p["W_hh"] + x @ p["W_xh"] + p["b_h"])
  else:
    raise ConfigError(f"model.cell: expected one of {VARIANTS}, got {variant!r}")
  return cand * z + h * (1 - z)


class MUTCell(nn.RNNCellBase):
  """A MUT1 / MUT2 / MUT3 cell (``variant``) usable with ``flax.linen.RNN``; carry = output = h."""

  features: int
  variant: str = "mut1"
  kernel_init: Callable = nn.initializers.lecun_normal()
  recurrent_kernel_init: Callable = nn.initializers.orthogonal()
  param_dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, carry: Array, x: Array) -> tuple[Array, Array]:
    if self.variant not in VARIANTS:
      raise ConfigError(f"model.cell: expected one of {VARIANTS}, got {self.variant!r}")
    D, H = x.shape[-1], self.features
    if self.variant in ("mut1", "mut2") and D != H:
      raise ConfigError(f"model.hidden_size: {self.variant} adds x_t to the state, so the input dim {D} must equal "
                        f"features {H}")
    p = {}
    for name in WEIGHTS[self.variant]:
      rows = H if name.startswith("W_h") else D
      init = self.recurrent_kernel_init if name.startswith("W_h") else self.kernel_init
      p[name] = self.param(name, init, (rows, H), self.param_dtype)
    for name in ("b_z", "b_r", "b_h"):
      p[name] = self.param(name, nn.initializers.zeros_init(), (H,), self.param_dtype)
    h = mut_step(self.variant, p, carry, x)
    return h, h

  @nn.nowrap
  def initialize_carry(self, rng, input_shape: tuple[int, ...]) -> Array:
    del rng
    return jnp.zeros((*input_shape[:-1], self.features), self.param_dtype)

  @property
  def num_feature_axes(self) -> int:
    return 1
