"""The 2016 unsupervised lecture's classical models: a tied-weight linear autoencoder (whose optimum
spans the top principal subspace) and a Bernoulli restricted Boltzmann machine trained by
contrastive divergence (CD-1), stacked greedily layer by layer.

RBM (binary visible v in {0,1}^V, binary hidden h in {0,1}^H), energy
E(v, h) = -bᵀv - cᵀh - vᵀWh; p(h_j = 1 | v) = σ(c_j + vᵀW_{:j}); p(v_i = 1 | h) = σ(b_i + W_{i:}h);
free energy F(v) = -bᵀv - Σ_j softplus(c_j + vᵀW_{:j}) (so p(v) ∝ exp(-F(v))).

CD-1 (Hinton 2002; the practical guide's choices, Hinton 2010 §3): v0 = data, h0 ~ p(h | v0),
v1 = p(v | h0) (probabilities, or a sample with ``sample_visible``), and the gradient of the
negative log-likelihood is approximated by the positive phase minus the negative phase:
∂/∂W ≈ -(v0ᵀ p(h|v0) - v1ᵀ p(h|v1)) / N (similarly for b and c). :func:`cd1_gradient` returns this
as a gradient to *descend* (so any optax optimizer applies it).
"""

from __future__ import annotations

from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

Array = jax.Array
Params = dict[str, Array]


def init_rbm(key: Array, num_visible: int, num_hidden: int, std: float = 0.01, visible_mean: Array | None = None) -> Params:
  """W ~ N(0, std²), c = 0, b = log(p / (1 - p)) for the data's pixel means p (the guide's §8), or 0."""
  if num_visible < 1 or num_hidden < 1:
    raise ValueError(f"rbm: expected positive numbers of units, got visible={num_visible}, hidden={num_hidden}")
  b = jnp.zeros((num_visible,), jnp.float32)
  if visible_mean is not None:
    p = jnp.clip(jnp.asarray(visible_mean, jnp.float32), 1e-3, 1 - 1e-3)
    b = jnp.log(p / (1 - p))
  return {"W": std * jax.random.normal(key, (num_visible, num_hidden), jnp.float32), "b": b,
          "c": jnp.zeros((num_hidden,), jnp.float32)}


def hidden_probs(params: Params, v: Array) -> Array:
  return jax.nn.sigmoid(v @ params["W"] + params["c"])


def visible_probs(params: Params, h: Array) -> Array:
  return jax.nn.sigmoid(h @ params["W"].T + params["b"])


def free_energy(params: Params, v: Array) -> Array:
  """F(v) = -bᵀv - Σ_j softplus(c_j + vᵀW_{:j}), per row of ``v``."""
  return -(v @ params["b"]) - jnp.sum(jax.nn.softplus(v @ params["W"] + params["c"]), axis=-1)


def cd1_gradient(params: Params, v0: Array, u_hidden: Array, u_visible: Array | None = None) -> tuple[Params, dict[str, Array]]:
  """The CD-1 gradient (to descend) for a batch ``v0`` (N, V), with the uniforms that sample h0
  (``u_hidden``, (N, H)) and, if given, v1 (``u_visible``, (N, V); None: v1 = p(v | h0)).
  Returns (gradients, {"reconstruction_error": mean over the batch of Σ_i (v0 - v1)²})."""
  ph0 = hidden_probs(params, v0)
  h0 = (u_hidden < ph0).astype(v0.dtype)
  pv1 = visible_probs(params, h0)
  v1 = pv1 if u_visible is None else (u_visible < pv1).astype(v0.dtype)
  ph1 = hidden_probs(params, v1)
  n = v0.shape[0]
  grads = {"W": -(v0.T @ ph0 - v1.T @ ph1) / n, "b": -jnp.mean(v0 - v1, axis=0), "c": -jnp.mean(ph0 - ph1, axis=0)}
  return grads, {"reconstruction_error": jnp.mean(jnp.sum((v0 - pv1) ** 2, axis=-1))}


def cd1_step_gradient(params: Params, v0: Array, key: Array, sample_visible: bool = False) -> tuple[Params, dict[str, Array]]:
  """:func:`cd1_gradient` with its uniforms drawn from ``key``."""
  kh, kv = jax.random.split(key)
  u_h = jax.random.uniform(kh, (v0.shape[0], params["c"].shape[0]), v0.dtype)
  u_v = jax.random.uniform(kv, v0.shape, v0.dtype) if sample_visible else None
  return cd1_gradient(params, v0, u_h, u_v)


def mean_field_reconstruction_error(params: Params, v: Array) -> Array:
  """Σ_i (v - p(v | p(h | v)))² per row: the deterministic (mean-field) reconstruction."""
  return jnp.sum((v - visible_probs(params, hidden_probs(params, v))) ** 2, axis=-1)


class TiedLinearAutoencoder(nn.Module):
  """x̂ = (x W) Wᵀ on centred inputs: one matrix W (D, H) encodes and (transposed) decodes; no
  nonlinearity, no bias. Its squared-error minimum spans the top-H principal subspace of the data
  (Baldi and Hornik 1989)."""

  num_hidden: int
  init_std: float = 0.1

  @nn.compact
  def __call__(self, x: Array) -> tuple[Array, Array]:
    w = self.param("W", nn.initializers.normal(self.init_std), (x.shape[-1], self.num_hidden))
    code = x @ w
    return code @ w.T, code


def principal_angles(a: Any, b: Any) -> np.ndarray:
  """Principal angles (radians, ascending) between the column spans of ``a`` (D, p) and ``b`` (D, q):
  arccos of the singular values of Q_aᵀ Q_b for orthonormal bases from QR."""
  qa, _ = np.linalg.qr(np.asarray(a, np.float64))
  qb, _ = np.linalg.qr(np.asarray(b, np.float64))
  s = np.clip(np.linalg.svd(qa.T @ qb, compute_uv=False), -1.0, 1.0)
  return np.sort(np.arccos(s))


def top_principal_subspace(x: Any, h: int) -> tuple[np.ndarray, np.ndarray]:
  """The top-``h`` principal directions (D, h) of the rows of ``x`` (centred here) and all the
  eigenvalues of its covariance, descending."""
  x = np.asarray(x, np.float64)
  x = x - x.mean(0)
  _, s, vt = np.linalg.svd(x, full_matrices=False)
  return vt[:h].T, s ** 2 / len(x)
