"""Contrastive and non-contrastive self-supervised losses (notes chapter 14, L1826-1915).

InfoNCE (L1833-1839) with one positive and N - 1 negatives:

    L = -E[ log exp s(q, k+) / (exp s(q, k+) + sum_{j=1}^{N-1} exp s(q, k_j-)) ]

The notes print the denominator's sum over ``exp s(f(x), f(x+))`` — a typo: the sum runs over the
NEGATIVES ``f(x_j-)`` (otherwise the loss is the constant log N). The score is the cosine similarity
``s(u, v) = u.v / (|u| |v|)`` divided by a temperature tau (the notes give no tau; SimCLR uses 0.5
on CIFAR-10 and 0.1 at large batch, MoCo v2 0.2, CLIP learns it from 0.07). ``log N - L`` is a lower
bound on the mutual information of the two views (L1841-1847), tighter as N grows.

- :func:`info_nce` — a query, its positive, negatives (per query or shared, e.g. MoCo's queue).
- :func:`nt_xent` — SimCLR's loss over 2N views: each view's positive is its partner and the other
  2N - 2 views of the GLOBAL batch are its negatives. Under ``pmap`` the embeddings are
  ``all_gather``ed, so a device's rows are contrasted with every device's.
- :func:`byol_loss` — BYOL (Grill et al. 2020): ``2 - 2 cos(p, sg(z'))``, no negatives.
- :func:`clip_loss` — CLIP (Radford et al. 2021): the symmetric cross-entropy of the image-text
  score matrix.
- :func:`cpc_loss` — CPC (van den Oord et al. 2018): InfoNCE between a prediction of a future
  step's code and the true code, the other sequences' codes at that step being the negatives.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import optax

EPS = 1e-12


def check_temperature(temperature) -> None:
  if isinstance(temperature, (int, float)) and not temperature > 0:
    raise ValueError(f"temperature: expected a positive number, got {temperature}")


def normalize(x: jax.Array) -> jax.Array:
  """Rows scaled to unit L2 norm (the cosine score's normalisation)."""
  return x / jnp.sqrt(jnp.maximum(jnp.sum(x * x, axis=-1, keepdims=True), EPS))


def cosine_scores(u: jax.Array, v: jax.Array, temperature: float = 1.0) -> jax.Array:
  """``s(u_i, v_j) / tau`` for every pair of rows: (N, D) x (M, D) -> (N, M)."""
  check_temperature(temperature)
  return normalize(u) @ normalize(v).T / temperature


def info_nce_from_scores(positive: jax.Array, negatives: jax.Array) -> jax.Array:
  """Per-example InfoNCE from scores: ``positive`` (N,), ``negatives`` (N, K) ->
  ``-log(exp p / (exp p + sum_j exp n_j))`` (N,)."""
  logits = jnp.concatenate([positive[:, None], negatives], axis=1)
  return jax.nn.logsumexp(logits, axis=1) - positive


def info_nce(query: jax.Array, positive: jax.Array, negatives: jax.Array, temperature: float) -> jax.Array:
  """Per-example InfoNCE with the cosine score over ``temperature``.

  ``query`` and ``positive`` are (N, D); ``negatives`` is (N, K, D) (each query's own) or (K, D)
  (shared by every query, as MoCo's queue). Returns (N,) losses; their mean is L."""
  check_temperature(temperature)
  q, k = normalize(query), normalize(positive)
  pos = jnp.sum(q * k, axis=-1) / temperature
  n = normalize(negatives)
  neg = (q @ n.T if negatives.ndim == 2 else jnp.einsum("nd,nkd->nk", q, n)) / temperature
  return info_nce_from_scores(pos, neg)


def gather(x: jax.Array, axis_name: str | None) -> jax.Array:
  """The global batch's rows of ``x`` (``all_gather`` over ``axis_name``; ``x`` itself when None)."""
  return x if axis_name is None else jax.lax.all_gather(x, axis_name, tiled=True)


def nt_xent(z1: jax.Array, z2: jax.Array, temperature: float, axis_name: str | None = None,
            return_accuracy: bool = False):
  """SimCLR's NT-Xent loss: the mean over the 2N views of the global batch of InfoNCE with the
  partner view as the positive and the other 2N - 2 views as negatives.

  ``z1[i]`` and ``z2[i]`` are the two views of example ``i``. With ``axis_name`` (inside ``pmap``)
  each device passes its own rows; the embeddings of every device are gathered to form the
  negatives, and the value returned is this device's share of the global mean (``psum`` over the
  axis gives the loss; its gradient flows back to every device's embeddings through
  ``all_gather``'s transpose). ``return_accuracy`` adds the share of views whose partner has the
  highest score (the contrastive "accuracy")."""
  check_temperature(temperature)
  n_local = z1.shape[0]
  g1, g2 = gather(z1, axis_name), gather(z2, axis_name)
  n_global = g1.shape[0]
  offset = 0 if axis_name is None else jax.lax.axis_index(axis_name) * n_local
  everyone = normalize(jnp.concatenate([g1, g2]))  # (2N, D): the candidates
  mine = normalize(jnp.concatenate([z1, z2]))  # (2n, D): this device's queries
  rows = jnp.concatenate([jnp.arange(n_local), jnp.arange(n_local) + n_global]) + offset  # own index in everyone
  partner = jnp.concatenate([jnp.arange(n_local) + n_global, jnp.arange(n_local)]) + offset
  logits = mine @ everyone.T / temperature
  logits = jnp.where(jnp.arange(2 * n_global)[None, :] == rows[:, None], -jnp.inf, logits)  # not oneself
  losses = optax.softmax_cross_entropy_with_integer_labels(logits, partner)
  loss = jnp.sum(losses) / (2 * n_global)
  if not return_accuracy:
    return loss
  accuracy = jnp.sum(jnp.argmax(logits, axis=1) == partner) / (2 * n_global)
  return loss, accuracy


def byol_loss(prediction: jax.Array, target: jax.Array) -> jax.Array:
  """Per-example BYOL loss ``|p/|p| - z/|z||^2 = 2 - 2 cos(p, z)`` with no gradient into ``target``."""
  return 2.0 - 2.0 * jnp.sum(normalize(prediction) * normalize(jax.lax.stop_gradient(target)), axis=-1)


def clip_loss(image_emb: jax.Array, text_emb: jax.Array, temperature: float, axis_name: str | None = None):
  """CLIP's symmetric loss: the mean of image->text and text->image cross-entropies of the cosine
  score matrix over ``temperature``, pair ``i`` being the positive of row ``i``. Under ``pmap``
  (``axis_name``) the other devices' embeddings are gathered as candidates and this device's share
  of the global mean is returned, as in :func:`nt_xent`. Returns (loss, image->text accuracy)."""
  check_temperature(temperature)
  n_local = image_emb.shape[0]
  gi, gt = gather(image_emb, axis_name), gather(text_emb, axis_name)
  n_global = gi.shape[0]
  offset = 0 if axis_name is None else jax.lax.axis_index(axis_name) * n_local
  labels = jnp.arange(n_local) + offset
  i2t = cosine_scores(image_emb, gt, temperature)
  t2i = cosine_scores(text_emb, gi, temperature)
  loss = 0.5 * (jnp.sum(optax.softmax_cross_entropy_with_integer_labels(i2t, labels))
                + jnp.sum(optax.softmax_cross_entropy_with_integer_labels(t2i, labels))) / n_global
  return loss, jnp.sum(jnp.argmax(i2t, axis=1) == labels) / n_global


def cpc_loss(predictions: jax.Array, codes: jax.Array, mask: jax.Array | None = None, axis_name: str | None = None):
  """CPC's InfoNCE over future steps. ``predictions[b, t, k]`` is the prediction (from the context
  at step t) of ``codes[b, t + k + 1]``; shapes (B, T, K, D) and (B, T + K, D) — the caller passes
  the codes aligned so that ``codes[:, t + k + 1]`` exists. The score is the dot product (CPC's
  log-bilinear model); the negatives are the other sequences' codes at the same future step — of the
  GLOBAL batch under ``pmap`` (``axis_name``: every device's codes are gathered, and the values
  returned are this device's shares of the global means; ``psum`` them). ``mask`` (B,) marks valid
  sequences. Returns (mean loss, accuracy of picking the true future)."""
  b, t, k, _ = predictions.shape
  mask = jnp.ones((b,), jnp.float32) if mask is None else mask
  targets = jnp.stack([codes[:, s + 1:s + 1 + t] for s in range(k)], axis=2)  # (B, T, K, D)
  everyone, every_mask = gather(targets, axis_name), gather(mask, axis_name)
  offset = 0 if axis_name is None else jax.lax.axis_index(axis_name) * b
  logits = jnp.einsum("btkd,ctkd->tkbc", predictions, everyone)  # (T, K, B, B_global): row b's candidates c
  invalid = every_mask[None, None, None, :] == 0
  logits = jnp.where(invalid, -jnp.inf, logits)
  labels = jnp.broadcast_to(jnp.arange(b) + offset, (t, k, b))
  losses = optax.softmax_cross_entropy_with_integer_labels(logits, labels)  # (T, K, B)
  weight = jnp.broadcast_to(mask, losses.shape)
  total = jnp.sum(weight) if axis_name is None else jax.lax.psum(jnp.sum(weight), axis_name)
  count = jnp.maximum(total, 1.0)
  accuracy = jnp.sum((jnp.argmax(logits, -1) == labels) * weight) / count
  return jnp.sum(losses * weight) / count, accuracy
