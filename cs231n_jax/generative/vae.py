"""Variational autoencoders: Gaussian encoder, reparameterisation, Bernoulli / Gaussian decoders,
the ELBO with the closed-form KL, importance-weighted log p(x), and exact quadrature for a 2-D latent.

The lectures (2017 @23850-38900; 2016 lecture; course notes ch. 13) give the model and the bound:

- prior ``p(z) = N(0, I)``; decoder ``p_theta(x | z)``; encoder ``q_phi(z | x) = N(mu, diag sigma^2)``
  outputting the mean and the (log-)variance;
- ``log p(x) = E_q[log p(x|z)] - KL(q(z|x) || p(z)) + KL(q(z|x) || p(z|x))``; the last KL is
  ``>= 0``, so the first two terms — the ELBO — are a lower bound on ``log p(x)``.

Corrections to the texts, implemented here and tested: the 2016 slide's ELBO derivation (slide text
line 824) divides by ``p_theta(z | x)`` in its second term where it must be ``p_theta(z)``; its
transcript says the last KL "is nonzero" where the property used is that it is non-negative; and the
course notes (lines 1550-1582) swap the words prior and posterior: ``p(z|x)`` is the (true)
*posterior*, ``q(z|x)`` the *approximate posterior*, ``p(x|z)`` the likelihood, ``p(z)`` the prior.

What the lectures leave out comes from Kingma and Welling, "Auto-Encoding Variational Bayes" (ICLR
2014): the reparameterisation ``z = mu + sigma * eps, eps ~ N(0, I)`` (section 2.4) and the closed
form ``KL(N(mu, sigma^2) || N(0, 1)) = 1/2 sum(mu^2 + sigma^2 - 1 - log sigma^2)`` (appendix B);
and from Burda, Grosse, Salakhutdinov, "Importance Weighted Autoencoders" (ICLR 2016): the estimate
``log 1/k sum_i p(x, z_i) / q(z_i | x)``, a lower bound that tightens to ``log p(x)`` as ``k`` grows.

Decoders: ``"gaussian"`` — the lectures' decoder, a diagonal Gaussian with mean and variance (with a
variance floor, since constant border pixels would otherwise drive the variance to zero), trained on
uniformly *dequantised* 17-level digits so that ``-ELBO + D log 17`` bounds the discrete NLL;
``"bernoulli"`` — a deviation from the lectures (one logit per pixel), for binarised digits, as in
Kingma and Welling's MNIST experiments. Encoders and decoders are MLPs (``arch="mlp"``) or the
autoencoder's conv / upconv networks (``arch="conv"``).
"""

from __future__ import annotations

import functools
import math
from typing import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
from jax.scipy.special import logsumexp

from cs231n_jax.generative.autoencoder import ConvDecoder, ConvEncoder
from cs231n_jax.models.registry import register

DECODERS = ("bernoulli", "gaussian")
ARCHS = ("mlp", "conv")
LOG_2PI = math.log(2.0 * math.pi)
MIN_DECODER_LOG_VAR = -9.0  # variance floor of the Gaussian decoder (sigma >= 0.011 on a [0, 1] scale)
QUADRATURE_LIMIT = 6.0  # integrate the 2-D latent over [-6, 6]^2 (the prior mass outside is < 4e-9)


class MLP(nn.Module):
  hidden: Sequence[int]
  out: int

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    for i, h in enumerate(self.hidden):
      x = nn.relu(nn.Dense(h, name=f"dense{i}")(x))
    return nn.Dense(self.out, name="out")(x)


@register("vae", input_shape=(8, 8, 1), family="latent")
class VAE(nn.Module):
  """Gaussian encoder ``q(z|x)``, standard normal prior, Bernoulli or Gaussian decoder ``p(x|z)``."""

  latent_dim: int = 16
  hidden: Sequence[int] = (256, 256)
  decoder: str = "bernoulli"
  image_shape: Sequence[int] = (8, 8, 1)
  arch: str = "mlp"
  min_log_var: float = MIN_DECODER_LOG_VAR

  def setup(self):
    if self.decoder not in DECODERS:
      raise ValueError(f"decoder: expected one of {DECODERS}, got {self.decoder!r}")
    if self.arch not in ARCHS:
      raise ValueError(f"arch: expected one of {ARCHS}, got {self.arch!r}")
    if self.latent_dim < 1:
      raise ValueError(f"latent_dim: expected at least 1, got {self.latent_dim}")
    out_per_pixel = 1 if self.decoder == "bernoulli" else 2
    if self.arch == "mlp":
      self.enc = MLP(tuple(self.hidden), 2 * self.latent_dim)
      self.dec = MLP(tuple(reversed(self.hidden)), out_per_pixel * int(np.prod(self.image_shape)))
    else:
      self.enc = ConvEncoder(2 * self.latent_dim)
      self.dec = ConvDecoder(tuple(self.image_shape), out_per_pixel)

  def encode(self, x: jax.Array) -> tuple[jax.Array, jax.Array]:
    """``(mu, log sigma^2)`` of ``q(z | x)``, each ``(N, latent_dim)``."""
    if tuple(x.shape[1:]) != tuple(self.image_shape):
      raise ValueError(f"x: the VAE was built for (N, {', '.join(map(str, self.image_shape))}), got {tuple(x.shape)}")
    h = self.enc(x.reshape(x.shape[0], -1) if self.arch == "mlp" else x)
    mu, log_var = jnp.split(h, 2, axis=-1)
    return mu, log_var

  def decode(self, z: jax.Array) -> dict[str, jax.Array]:
    """The decoder's distribution over images: ``{"logits"}`` or ``{"mean", "log_var"}``."""
    if z.shape[-1] != self.latent_dim:
      raise ValueError(f"z: expected (..., {self.latent_dim}), got {tuple(z.shape)}")
    lead = z.shape[:-1]
    out = self.dec(z.reshape(-1, self.latent_dim))
    out = out.reshape(*lead, *self.image_shape, -1)
    if self.decoder == "bernoulli":
      return {"logits": out[..., 0]}
    log_var = self.min_log_var + nn.softplus(out[..., 1] - self.min_log_var)  # smooth floor
    return {"mean": out[..., 0], "log_var": log_var}

  def __call__(self, x: jax.Array) -> tuple[jax.Array, jax.Array]:
    mu, log_var = self.encode(x)
    return mu, self.decode(mu)["logits" if self.decoder == "bernoulli" else "mean"]


def reparameterize(key: jax.Array, mu: jax.Array, log_var: jax.Array, num_samples: int | None = None) -> jax.Array:
  """``z = mu + sigma * eps``: a sample of ``q(z|x)`` that is differentiable in ``mu`` and ``sigma``."""
  shape = mu.shape if num_samples is None else (num_samples, *mu.shape)
  eps = jax.random.normal(key, shape, mu.dtype)
  return mu + jnp.exp(0.5 * log_var) * eps


def gaussian_kl(mu: jax.Array, log_var: jax.Array) -> jax.Array:
  """``KL(N(mu, diag exp(log_var)) || N(0, I))`` in closed form, summed over the latent: ``(N,)``."""
  return 0.5 * jnp.sum(mu ** 2 + jnp.exp(log_var) - 1.0 - log_var, axis=-1)


def log_normal(z: jax.Array, mu: jax.Array, log_var: jax.Array) -> jax.Array:
  """``log N(z; mu, diag exp(log_var))`` summed over the last axis."""
  return -0.5 * jnp.sum(LOG_2PI + log_var + (z - mu) ** 2 * jnp.exp(-log_var), axis=-1)


def log_standard_normal(z: jax.Array) -> jax.Array:
  return -0.5 * jnp.sum(LOG_2PI + z ** 2, axis=-1)


def monte_carlo_kl(key: jax.Array, mu: jax.Array, log_var: jax.Array, num_samples: int) -> tuple[jax.Array, jax.Array]:
  """``E_q[log q(z|x) - log p(z)]`` by sampling: ``(mean, standard error)``, each ``(N,)``."""
  z = reparameterize(key, mu, log_var, num_samples)
  terms = log_normal(z, mu, log_var) - log_standard_normal(z)
  return terms.mean(0), terms.std(0) / math.sqrt(num_samples)


def decoder_log_likelihood(decoder: str, out: dict[str, jax.Array], x: jax.Array) -> jax.Array:
  """``log p(x | z)`` summed over pixels (``x`` broadcast against the decoder's leading axes)."""
  axes = tuple(range(-len(x.shape) + 1, 0))
  if decoder == "bernoulli":
    logits = out["logits"]
    # log sigmoid(l) for x = 1 and log sigmoid(-l) for x = 0, stably.
    ll = x * jax.nn.log_sigmoid(logits) + (1.0 - x) * jax.nn.log_sigmoid(-logits)
  else:
    ll = -0.5 * (LOG_2PI + out["log_var"] + (x - out["mean"]) ** 2 * jnp.exp(-out["log_var"]))
  return ll.sum(axis=axes)


def elbo_terms(model: VAE, params, x: jax.Array, key: jax.Array, num_samples: int = 1) -> dict[str, jax.Array]:
  """``{"elbo", "reconstruction", "kl"}`` per image, ``(N,)``: ``elbo = reconstruction - kl``.

  The reconstruction term ``E_q[log p(x|z)]`` is a Monte Carlo average over ``num_samples``
  reparameterised draws; the KL is the closed form.
  """
  mu, log_var = model.apply({"params": params}, x, method=VAE.encode)
  z = reparameterize(key, mu, log_var, num_samples)  # (S, N, latent)
  out = model.apply({"params": params}, z, method=VAE.decode)
  recon = decoder_log_likelihood(model.decoder, out, x).mean(0)
  kl = gaussian_kl(mu, log_var)
  return {"elbo": recon - kl, "reconstruction": recon, "kl": kl}


def log_importance_weights(model: VAE, params, x: jax.Array, key: jax.Array, k: int) -> jax.Array:
  """``log p(x|z_i) + log p(z_i) - log q(z_i|x)`` for ``k`` draws ``z_i ~ q(z|x)``: ``(k, N)``."""
  mu, log_var = model.apply({"params": params}, x, method=VAE.encode)
  z = reparameterize(key, mu, log_var, k)
  out = model.apply({"params": params}, z, method=VAE.decode)
  return decoder_log_likelihood(model.decoder, out, x) + log_standard_normal(z) - log_normal(z, mu, log_var)


@functools.partial(jax.jit, static_argnums=(0, 4, 5))
def _iw_log_prob(model, params, x, key, k, chunk):
  chunks = []
  for i, start in enumerate(range(0, k, chunk)):
    chunks.append(log_importance_weights(model, params, x, jax.random.fold_in(key, i), min(chunk, k - start)))
  log_w = jnp.concatenate(chunks, axis=0)
  return logsumexp(log_w, axis=0) - math.log(k)


def importance_weighted_log_prob(model: VAE, params, x, key: jax.Array, k: int = 1000,
                                 chunk: int = 250, batch_size: int = 128) -> np.ndarray:
  """``log 1/k sum_i p(x, z_i) / q(z_i|x)`` per image (Burda et al. 2016): ``(N,)``.

  ``k = 1`` is a one-sample ELBO; the expectation increases with ``k`` to ``log p(x)``."""
  if k < 1:
    raise ValueError(f"k: expected at least 1 importance sample, got {k}")
  x = jnp.asarray(x, jnp.float32)
  out = [np.asarray(_iw_log_prob(model, params, x[i:i + batch_size], jax.random.fold_in(key, i), k, min(chunk, k)))
         for i in range(0, len(x), batch_size)]
  return np.concatenate(out)


def latent_grid(size: int = 200, limit: float = QUADRATURE_LIMIT) -> tuple[jax.Array, float]:
  """Midpoints of a ``size x size`` grid over ``[-limit, limit]^2``: ``((size^2, 2), cell area)``."""
  step = 2.0 * limit / size
  centres = -limit + step * (jnp.arange(size) + 0.5)
  zz = jnp.stack(jnp.meshgrid(centres, centres, indexing="ij"), -1).reshape(-1, 2)
  return zz, step * step


def quadrature_log_joint(model: VAE, params, x: jax.Array, size: int = 200) -> tuple[jax.Array, float, jax.Array]:
  """``log p(x, z_g)`` on the latent grid, ``(G, N)``, the cell area, and the grid ``(G, 2)``."""
  if model.latent_dim != 2:
    raise ValueError(f"latent_dim: quadrature needs a 2-D latent, the model has {model.latent_dim}")
  zz, area = latent_grid(size)
  out = model.apply({"params": params}, zz, method=VAE.decode)
  out = jax.tree.map(lambda a: a[:, None], out)  # (G, 1, H, W, C) against x (N, H, W, C)
  log_joint = decoder_log_likelihood(model.decoder, out, x) + log_standard_normal(zz)[:, None]
  return log_joint, area, zz


@functools.partial(jax.jit, static_argnums=(0, 3))
def _quadrature(model: VAE, params, x: jax.Array, size: int) -> tuple[jax.Array, jax.Array]:
  log_joint, area, zz = quadrature_log_joint(model, params, x, size)
  log_px = logsumexp(log_joint, axis=0) + math.log(area)
  mu, log_var = model.apply({"params": params}, x, method=VAE.encode)
  log_q = log_normal(zz[:, None], mu[None], log_var[None])  # (G, N)
  log_post = log_joint - log_px[None]
  q_mass = jnp.exp(log_q) * area
  kl = jnp.sum(q_mass * (log_q - log_post), axis=0) / jnp.sum(q_mass, axis=0)
  return log_px, kl


def _quadrature_batched(model: VAE, params, x, size: int, batch_size: int) -> tuple[np.ndarray, np.ndarray]:
  x = jnp.asarray(x, jnp.float32)
  outs = [_quadrature(model, params, x[i:i + batch_size], size) for i in range(0, len(x), batch_size)]
  return (np.concatenate([np.asarray(o[0]) for o in outs]), np.concatenate([np.asarray(o[1]) for o in outs]))


QUADRATURE_BATCH = 16  # images per grid evaluation: (size^2, 16, H, W, C) floats at a time


def quadrature_log_prob(model: VAE, params, x, size: int = 200, batch_size: int = QUADRATURE_BATCH) -> np.ndarray:
  """``log p(x) = log integral p(z) p(x|z) dz`` by the midpoint rule on the grid: ``(N,)``."""
  return _quadrature_batched(model, params, x, size, batch_size)[0]


def quadrature_posterior_kl(model: VAE, params, x, size: int = 200, batch_size: int = QUADRATURE_BATCH) -> np.ndarray:
  """``KL(q(z|x) || p(z|x))`` on the grid, with the posterior ``p(z|x) = p(x,z) / p(x)``: ``(N,)``.

  By the ELBO identity this equals ``log p(x) - ELBO``."""
  return _quadrature_batched(model, params, x, size, batch_size)[1]


def prior_percentile_grid(n: int = 10, low: float = 0.05, high: float = 0.95) -> np.ndarray:
  """``(n * n, 2)`` latent points at prior percentiles ``low..high`` on each axis (the lecture's 2-D
  "data manifold": decode a grid through the inverse normal CDF), row-major, z1 down, z2 across."""
  from scipy.stats import norm

  q = norm.ppf(np.linspace(low, high, n))
  z1, z2 = np.meshgrid(q, q, indexing="ij")
  return np.stack([z1.ravel(), z2.ravel()], -1).astype(np.float32)


def decode_mean(model: VAE, params, z) -> jax.Array:
  """The decoder's mean image ``E[x | z]`` in [0, 1]: ``sigmoid(logits)`` or the clipped Gaussian mean."""
  out = model.apply({"params": params}, jnp.asarray(z, jnp.float32), method=VAE.decode)
  if model.decoder == "bernoulli":
    return jax.nn.sigmoid(out["logits"])
  return jnp.clip(out["mean"], 0.0, 1.0)


def sample_images(model: VAE, params, key: jax.Array, num_samples: int, mean: bool = False) -> jax.Array:
  """Generation uses the decoder only: ``z ~ N(0, I)``, then ``x ~ p(x|z)`` (or its mean)."""
  kz, kx = jax.random.split(key)
  z = jax.random.normal(kz, (num_samples, model.latent_dim))
  out = model.apply({"params": params}, z, method=VAE.decode)
  if mean:
    return decode_mean(model, params, z)
  if model.decoder == "bernoulli":
    return jax.random.bernoulli(kx, jax.nn.sigmoid(out["logits"])).astype(jnp.float32)
  return out["mean"] + jnp.exp(0.5 * out["log_var"]) * jax.random.normal(kx, out["mean"].shape)
