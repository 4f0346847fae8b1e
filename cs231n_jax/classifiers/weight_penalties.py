"""Weight penalties R(W) of lecture 3 for the linear classifiers, with their (sub)gradients.

    L2:           R(W) = Σ W²
    L1:           R(W) = Σ |W|
    elastic net:  R(W) = Σ (β W² + |W|)

Convention: the linear classifiers add ``reg * R(W)`` -- for L2 that is ``reg * np.sum(W * W)``
with gradient ``2 * reg * W``, the course's assignment-1 convention (its ``linear_svm.py`` and
``softmax.py``). The course's *networks* (``fc_net``, ``cnn``) instead add ``0.5 * reg * Σ W²``
so that the gradient is ``reg * W``; see ``classifiers/fc_net.py``. The same ``reg`` value therefore
means twice the L2 strength in a linear classifier that it means in a network.

|W| has no derivative at 0; the subgradient sign(0) = 0 is used.
"""

from __future__ import annotations

import jax.numpy as jnp

REGULARIZERS = ("l2", "l1", "elastic")
# β of the elastic net, weighting its L2 part against its L1 part; the lecture gives no value.
ELASTIC_BETA = 0.5


def check_regularizer(kind: str) -> None:
  if kind not in REGULARIZERS:
    raise ValueError(f"regularization: expected one of {REGULARIZERS}, got {kind!r}")


def penalty(W, reg, kind: str = "l2", beta: float = ELASTIC_BETA):
  """(reg * R(W), its gradient with respect to W)."""
  check_regularizer(kind)
  if kind == "l2":
    return reg * jnp.sum(W * W), 2 * reg * W
  if kind == "l1":
    return reg * jnp.sum(jnp.abs(W)), reg * jnp.sign(W)
  return reg * jnp.sum(beta * W * W + jnp.abs(W)), reg * (2 * beta * W + jnp.sign(W))
