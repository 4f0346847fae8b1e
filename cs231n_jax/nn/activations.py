"""The activation functions of lecture 6 (seed lines 5690-5988), with their gradient-flow notes.

=============  ======================================  =============================================
name           f(x)                                    gradient flow (the slide's points)
=============  ======================================  =============================================
sigmoid        1 / (1 + e^-x)                          saturates: f'(+-10) < 5e-5, f'(0) = 0.25;
                                                       outputs not zero-centred
tanh           tanh(x)                                 zero-centred, still saturates
relu           max(0, x)                               no saturation for x > 0; gradient 0 for
                                                       x < 0 (a unit that is never active "dies")
leaky_relu     max(0.01 x, x)                          never dies (gradient 0.01 for x < 0). The
                                                       overview slides write 0.1 (seed 4436, 5722);
                                                       the detailed slide's 0.01 is the default
prelu          max(alpha x, x), alpha learned          "backprop into alpha" (:class:`PReLU`)
elu            x if x > 0 else alpha (e^x - 1)         closer to zero-mean outputs; saturates to
                                                       -alpha for very negative x (alpha = 1)
maxout         max(w1^T x + b1, w2^T x + b2)           generalises ReLU / leaky ReLU; never
                                                       saturates or dies; doubles the parameters
                                                       (:class:`Maxout`)
=============  ======================================  =============================================

The slides give two versions of the ELU boundary (``x > 0`` at 5966, ``x >= 0`` at 4448); they agree
at 0 (both give 0). The slide gives no ELU alpha; 1.0 is Clevert et al.'s value.
"""

from __future__ import annotations

import functools
from typing import Callable

import flax.linen as nn
import jax
import jax.numpy as jnp

LEAKY_SLOPE = 0.01  # the detailed slide (seed 5932); the overview's 0.1 is a variant
ELU_ALPHA = 1.0  # Clevert et al. 2016
PRELU_INIT = 0.25  # He et al. 2015, "Delving deep into rectifiers", section 2.1
MAXOUT_PIECES = 2  # the slide's max(w1^T x + b1, w2^T x + b2)


def leaky_relu(x: jax.Array, negative_slope: float = LEAKY_SLOPE) -> jax.Array:
  return jnp.where(x >= 0, x, negative_slope * x)


@functools.partial(jax.custom_jvp, nondiff_argnums=(1,))
def elu(x: jax.Array, alpha: float = ELU_ALPHA) -> jax.Array:
  """ELU with its exact derivative ``alpha e^x`` for x <= 0.

  The value uses ``expm1`` of ``min(x, 0)`` (exact near 0, no overflow in the branch not taken).
  JAX differentiates ``expm1`` as ``expm1(x) + 1``, which in float32 keeps only ~3 digits of
  ``e^x`` at x = -10; the custom JVP uses ``exp`` instead, so the gradient is exact too.
  """
  return jnp.where(x > 0, x, alpha * jnp.expm1(jnp.minimum(x, 0.0)))


@elu.defjvp
def _elu_jvp(alpha, primals, tangents):
  (x,), (t,) = primals, tangents
  slope = jnp.where(x > 0, jnp.ones_like(x), alpha * jnp.exp(jnp.minimum(x, 0.0)))
  return elu(x, alpha), slope * t


# Parameter-free activations by name (PReLU and maxout carry parameters: they are modules).
ACTIVATIONS: dict[str, Callable[[jax.Array], jax.Array]] = {
    "sigmoid": jax.nn.sigmoid,
    "tanh": jnp.tanh,
    "relu": jax.nn.relu,
    "leaky_relu": leaky_relu,
    "elu": elu,
}
ALL_ACTIVATIONS = tuple(ACTIVATIONS) + ("prelu", "maxout")


def get_activation(name: str) -> Callable[[jax.Array], jax.Array]:
  """The parameter-free activation ``name``."""
  if name not in ACTIVATIONS:
    raise ValueError(f"activation: expected one of {tuple(ACTIVATIONS)} (prelu / maxout are layers), got {name!r}")
  return ACTIVATIONS[name]


class PReLU(nn.Module):
  """Parametric ReLU ``max(alpha x, x)`` with a learned ``alpha`` (He et al. 2015).

  ``channel_wise=True`` learns one alpha per feature (the last axis), as in the paper's
  channel-wise variant; otherwise one alpha is shared. Initialised at 0.25 as in the paper (Flax's
  own ``nn.PReLU`` is the shared variant initialised at 0.01).
  """

  channel_wise: bool = True
  alpha_init: float = PRELU_INIT

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    shape = (x.shape[-1],) if self.channel_wise else ()
    alpha = self.param("alpha", nn.initializers.constant(self.alpha_init), shape, x.dtype)
    return jnp.where(x >= 0, x, alpha * x)


class Maxout(nn.Module):
  """A maxout unit layer (Goodfellow et al. 2013): ``features`` outputs, each the max of ``pieces``
  affine functions of the input. Replaces a Dense layer *and* its nonlinearity; it has ``pieces``
  times the parameters of a Dense layer of the same width."""

  features: int
  pieces: int = MAXOUT_PIECES
  kernel_init: Callable = nn.initializers.lecun_normal()

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    if self.pieces < 1:
      raise ValueError(f"pieces: expected at least 1 affine piece, got {self.pieces}")
    z = nn.Dense(self.features * self.pieces, kernel_init=self.kernel_init)(x)
    z = z.reshape(z.shape[:-1] + (self.features, self.pieces))
    return jnp.max(z, axis=-1)


class DenseActivation(nn.Module):
  """Dense layer followed by the named activation; ``"maxout"`` is a :class:`Maxout` layer instead.

  The one place the models turn an activation name into layers.
  """

  features: int
  activation: str = "relu"
  kernel_init: Callable = nn.initializers.he_normal()

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    if self.activation not in ALL_ACTIVATIONS:
      raise ValueError(f"activation: expected one of {ALL_ACTIVATIONS}, got {self.activation!r}")
    if self.activation == "maxout":
      return Maxout(self.features, kernel_init=self.kernel_init)(x)
    x = nn.Dense(self.features, kernel_init=self.kernel_init)(x)
    if self.activation == "prelu":
      return PReLU()(x)
    return ACTIVATIONS[self.activation](x)
