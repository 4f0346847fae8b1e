"""Stochastic regularising layers that lecture 7 only names (seed lines 8530-8612), from their papers.

They all follow the lecture's common pattern: "Training: add some kind of randomness; Testing:
average out randomness (sometimes approximate)". Randomness comes from the ``"dropout"`` PRNG
stream (``rngs={"dropout": key}``), the stream the training step already passes.

- **DropConnect** (Wan et al., "Regularization of neural networks using DropConnect", ICML 2013):
  drop *weights* instead of activations: ``r = a((M * W) v)``, each weight kept with probability
  ``p`` and, as in the paper, a fresh mask ``M`` for every example of the batch. At test time the
  paper's simplest inference is the mean network ``E[M * W] = p W``; this layer scales the kept
  weights by ``1 / p`` during training (as inverted dropout does), so the eval path is the plain
  deterministic ``W v`` and the train-mode expectation of the pre-activation equals it. (The paper
  also proposes a moment-matching Gaussian inference for the post-nonlinearity expectation; not
  implemented.) Biases are not dropped.
- **Stochastic depth** (Huang et al., "Deep networks with stochastic depth", ECCV 2016): each
  residual block ``H = ReLU(b f(x) + x)`` keeps its branch with survival probability ``p_l``
  (``b ~ Bernoulli(p_l)``, one draw per block per mini-batch, "randomly drop a subset of layers");
  at test time the full network with the branch scaled by ``p_l``: ``H = ReLU(p_l f(x) + x)``. The
  paper's linear decay rule ``p_l = 1 - l / L (1 - p_L)`` with ``p_L = 0.5`` is
  :func:`survival_probabilities`.
- **Fractional max pooling** (Graham, "Fractional max-pooling", arXiv 2014): pooling by a
  non-integer factor ``alpha`` in (1, 2]. Rows (and, independently, columns) are cut at
  ``0 = a_0 < a_1 < ... < a_n = N_in`` with every increment 1 or 2 and ``n = N_out``; regions are
  ``[a_{i-1}, a_i - 1]`` (disjoint) or ``[a_{i-1}, a_i]`` (overlapping). The cuts are *random* (a
  random order of the right number of 1s and 2s) or *pseudo-random* (``a_i = ceil(alpha (i + u))``
  shifted to start at 0, ``u ~ U(0, 1)``). One draw per batch; at test time a fixed pseudo-random
  sequence (u = 0.5) — Graham also averages several random draws at test time, which
  :func:`fractional_max_pool` with different keys allows.
"""

from __future__ import annotations

import math
from typing import Callable

import flax.linen as nn
import jax
import jax.numpy as jnp

from cs231n_jax.nn.conv_pool import Conv

FINAL_SURVIVAL = 0.5  # Huang et al.'s p_L
EVAL_OFFSET = 0.5  # the fixed u of the deterministic (eval) fractional pooling sequence
FMP_SCHEMES = ("random", "pseudo_random")


class DropConnectDense(nn.Module):
  """A Dense layer whose weights are dropped (kept with ``keep_prob``) independently per example."""

  features: int
  keep_prob: float = 0.5
  kernel_init: Callable = nn.initializers.he_normal()

  @nn.compact
  def __call__(self, x: jax.Array, *, train: bool = False) -> jax.Array:
    if not 0.0 < self.keep_prob <= 1.0:
      raise ValueError(f"keep_prob: expected a keep probability in (0, 1], got {self.keep_prob}")
    kernel = self.param("kernel", self.kernel_init, (x.shape[-1], self.features), x.dtype)
    bias = self.param("bias", nn.initializers.zeros, (self.features,), x.dtype)
    if not train or self.keep_prob == 1.0:
      return x @ kernel + bias
    key = self.make_rng("dropout")
    mask = jax.random.bernoulli(key, self.keep_prob, (x.shape[0],) + kernel.shape)
    masked = jnp.where(mask, kernel / self.keep_prob, 0.0)  # (N, in, out): a kernel per example
    return jnp.einsum("ni,nio->no", x, masked) + bias


def survival_probabilities(num_blocks: int, final: float = FINAL_SURVIVAL) -> tuple[float, ...]:
  """Huang et al.'s linear decay ``p_l = 1 - l / L (1 - p_L)`` for blocks l = 1 .. L."""
  if num_blocks < 1:
    raise ValueError(f"num_blocks: expected at least 1 residual block, got {num_blocks}")
  if not 0.0 < final <= 1.0:
    raise ValueError(f"final: expected a survival probability in (0, 1], got {final}")
  return tuple(1.0 - l / num_blocks * (1.0 - final) for l in range(1, num_blocks + 1))


def drop_branch(key: jax.Array | None, branch: jax.Array, survival_prob: float, train: bool) -> jax.Array:
  """Stochastic depth on a residual branch: ``b f(x)`` in training (one Bernoulli draw for the
  whole batch), ``p f(x)`` at test time."""
  if not 0.0 < survival_prob <= 1.0:
    raise ValueError(f"survival_prob: expected a probability in (0, 1], got {survival_prob}")
  if not train:
    return survival_prob * branch
  if survival_prob == 1.0:
    return branch
  keep = jax.random.bernoulli(key, survival_prob)
  return jnp.where(keep, branch, jnp.zeros_like(branch))


class ResidualBlock(nn.Module):
  """``ReLU(x + f(x))`` with ``f`` = Dense-ReLU-Dense (or 3x3 conv-ReLU-conv on NHWC inputs), and
  stochastic depth on ``f`` with ``survival_prob`` (1.0 disables it)."""

  survival_prob: float = 1.0
  conv: bool = False

  @nn.compact
  def __call__(self, x: jax.Array, *, train: bool = False) -> jax.Array:
    width = x.shape[-1]
    if self.conv:
      layer = lambda name: Conv(width, (3, 3), padding="SAME", kernel_init=nn.initializers.he_normal(), name=name)
    else:
      layer = lambda name: nn.Dense(width, kernel_init=nn.initializers.he_normal(), name=name)
    branch = layer("branch_1")(nn.relu(layer("branch_0")(x)))
    key = self.make_rng("dropout") if train and self.survival_prob < 1.0 else None
    return nn.relu(x + drop_branch(key, branch, self.survival_prob, train))


def fractional_cuts(key: jax.Array | None, n_in: int, n_out: int, scheme: str = "pseudo_random") -> jax.Array:
  """The cut points ``a_0 = 0 < ... < a_{n_out} = n_in`` (increments 1 or 2); ``key=None`` gives
  the fixed eval sequence (pseudo-random with u = 0.5)."""
  if scheme not in FMP_SCHEMES:
    raise ValueError(f"scheme: expected one of {FMP_SCHEMES}, got {scheme!r}")
  if not n_out < n_in <= 2 * n_out:
    raise ValueError(f"output size: fractional pooling needs n_out < n_in <= 2 n_out, got n_in={n_in}, n_out={n_out}")
  if scheme == "random" and key is not None:
    twos = n_in - n_out
    increments = jnp.concatenate([jnp.full((twos,), 2), jnp.ones((n_out - twos,), jnp.int32)])
    increments = jax.random.permutation(key, increments)
    return jnp.concatenate([jnp.zeros((1,), jnp.int32), jnp.cumsum(increments)]).astype(jnp.int32)
  alpha = n_in / n_out
  u = EVAL_OFFSET if key is None else jax.random.uniform(key, minval=0.0, maxval=1.0)
  i = jnp.arange(n_out + 1)
  cuts = jnp.ceil(alpha * (i + u)) - jnp.ceil(alpha * u)
  return cuts.astype(jnp.int32)


def _pool_axis(x: jax.Array, cuts: jax.Array, axis: int, overlapping: bool) -> jax.Array:
  """Max over the regions ``[a_{i-1}, a_i - 1]`` (or ``[a_{i-1}, a_i]``) along ``axis``."""
  n_in = x.shape[axis]
  starts, ends = cuts[:-1], cuts[1:] - 1  # inclusive disjoint regions, size 1 or 2
  if overlapping:
    ends = jnp.minimum(cuts[1:], n_in - 1)
  # A region has at most 3 rows: start, start + 1, end (repeating a row does not change the max).
  rows = [starts, jnp.minimum(starts + 1, ends), ends]
  taken = [jnp.take(x, r, axis=axis) for r in rows]
  return jnp.maximum(jnp.maximum(taken[0], taken[1]), taken[2])


def fractional_max_pool(key: jax.Array | None, x: jax.Array, ratio: float = math.sqrt(2.0),
                        overlapping: bool = False, scheme: str = "pseudo_random") -> jax.Array:
  """Fractional max pooling of NHWC ``x`` by ``ratio``: output ``floor(H / ratio) x floor(W / ratio)``."""
  if x.ndim != 4:
    raise ValueError(f"x: expected NHWC images, got shape {x.shape}")
  if not 1.0 < ratio <= 2.0:
    raise ValueError(f"ratio: expected a pooling ratio in (1, 2], got {ratio}")
  keys = (None, None) if key is None else tuple(jax.random.split(key))
  out = x
  for axis, k in zip((1, 2), keys):
    n_in = x.shape[axis]
    n_out = max(int(n_in // ratio), 1)
    if n_out >= n_in:  # a 1-pixel axis cannot shrink
      continue
    out = _pool_axis(out, fractional_cuts(k, n_in, n_out, scheme), axis, overlapping)
  return out


class FractionalMaxPool(nn.Module):
  """:func:`fractional_max_pool` as a layer: random regions in training, fixed ones at eval."""

  ratio: float = math.sqrt(2.0)
  overlapping: bool = False
  scheme: str = "pseudo_random"

  @nn.compact
  def __call__(self, x: jax.Array, *, train: bool = False) -> jax.Array:
    key = self.make_rng("dropout") if train else None
    return fractional_max_pool(key, x, self.ratio, self.overlapping, self.scheme)
