"""Decorrelated batch normalisation (lecture 7, 004b:129, L7372-L7392; Huang et al. 2018).

Batch norm "normalizes the data, but cannot correct for correlations among the input features";
decorrelated BN whitens with the full covariance of the minibatch, x̂_i = Σ^{-1/2}(x_i − μ).
We use the symmetric (ZCA) inverse square root from the eigendecomposition Σ + εI = U Λ Uᵀ,
Σ^{-1/2} = U Λ^{-1/2} Uᵀ, with Σ the biased (1/N) batch covariance, so the whitened batch has
covariance U Λ/(Λ+ε) Uᵀ, i.e. the identity up to ε/λ_min. Gradients flow through ``eigh``
(distinct eigenvalues assumed, as in the paper). Evaluation uses running averages of μ and Σ,
like batch norm. ``groups`` splits the features into groups whitened separately (the paper's
group whitening); the learned affine (γ, β) is per feature as in BN. Features last (NHWC: the
batch, height and width axes are the samples).
"""

from __future__ import annotations

import flax.linen as nn
import jax.numpy as jnp

from cs231n_jax.errors import ConfigError


def batch_moments(x):
  """Mean (G, d) and biased covariance (G, d, d) of x (M, G, d) over the M samples."""
  mean = x.mean(axis=0)
  centred = x - mean
  return mean, jnp.einsum("mgi,mgj->gij", centred, centred) / x.shape[0]


def inverse_sqrt(cov, eps: float):
  """(Σ + εI)^{-1/2} of each (d, d) matrix of ``cov`` by ``eigh`` (symmetric, ZCA)."""
  eye = jnp.eye(cov.shape[-1], dtype=cov.dtype)
  lam, U = jnp.linalg.eigh(cov + eps * eye)
  return jnp.einsum("...ij,...j,...kj->...ik", U, 1 / jnp.sqrt(lam), U)


def whiten(x, eps: float = 1e-5, groups: int = 1):
  """ZCA-whiten x (..., C) with its own batch statistics over every leading axis; returns
  (whitened x, mean (G, d), covariance (G, d, d))."""
  C = x.shape[-1]
  if groups <= 0 or C % groups:
    raise ConfigError(f"decorrelated_norm.groups: {C} features must split into {groups} equal groups")
  flat = x.reshape(-1, groups, C // groups)
  mean, cov = batch_moments(flat)
  out = jnp.einsum("gij,mgj->mgi", inverse_sqrt(cov, eps), flat - mean)
  return out.reshape(x.shape), mean, cov


class DecorrelatedBatchNorm(nn.Module):
  """x̂ = Σ^{-1/2}(x − μ), y = γ x̂ + β; batch statistics in training, running ones in evaluation."""

  groups: int = 1
  momentum: float = 0.9
  epsilon: float = 1e-5
  affine: bool = True

  @nn.compact
  def __call__(self, x, *, train: bool):
    C = x.shape[-1]
    if self.groups <= 0 or C % self.groups:
      raise ConfigError(f"decorrelated_norm.groups: {C} features must split into {self.groups} equal groups")
    d = C // self.groups
    ra_mean = self.variable("batch_stats", "mean", lambda: jnp.zeros((self.groups, d), jnp.float32))
    ra_cov = self.variable("batch_stats", "cov", lambda: jnp.broadcast_to(jnp.eye(d), (self.groups, d, d)))
    if train:
      y, mean, cov = whiten(x, self.epsilon, self.groups)
      if not self.is_initializing():
        ra_mean.value = self.momentum * ra_mean.value + (1 - self.momentum) * mean
        ra_cov.value = self.momentum * ra_cov.value + (1 - self.momentum) * cov
    else:
      flat = x.reshape(-1, self.groups, d)
      y = jnp.einsum("gij,mgj->mgi", inverse_sqrt(ra_cov.value, self.epsilon), flat - ra_mean.value).reshape(x.shape)
    if self.affine:
      y = y * self.param("scale", nn.initializers.ones, (C,)) + self.param("bias", nn.initializers.zeros, (C,))
    return y
