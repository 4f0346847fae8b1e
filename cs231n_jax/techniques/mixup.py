"""Mixup (notes 7, L597, inventory 003:246; Zhang et al. 2018): "train on random blends of images".

The notes give no mixing distribution; we use the paper's: λ ~ Beta(α, α), one λ per example, each
example blended with a partner from a random permutation of the batch,
x̃ = λ x_i + (1 − λ) x_j and ỹ = λ y_i + (1 − λ) y_j on one-hot labels. The cross-entropy against ỹ
equals λ CE(y_i) + (1 − λ) CE(y_j), which is how :func:`mixup_cross_entropy` computes it.
"""

from __future__ import annotations

import jax
import optax


def mixup(key, images, labels, num_classes: int, alpha: float):
  """Blend a batch: returns (mixed images, mixed one-hot targets (N, C), λ (N,), partner index (N,))."""
  if alpha <= 0:
    raise ValueError(f"mixup.alpha: the Beta(α, α) parameter must be positive, got {alpha}")
  lam_key, perm_key = jax.random.split(key)
  n = images.shape[0]
  lam = jax.random.beta(lam_key, alpha, alpha, (n,)).astype(images.dtype)
  partner = jax.random.permutation(perm_key, n)
  shape = (n,) + (1,) * (images.ndim - 1)
  mixed = lam.reshape(shape) * images + (1 - lam.reshape(shape)) * images[partner]
  onehot = jax.nn.one_hot(labels, num_classes, dtype=images.dtype)
  targets = lam[:, None] * onehot + (1 - lam[:, None]) * onehot[partner]
  return mixed, targets, lam, partner


def mixup_cross_entropy(logits, labels, lam, partner):
  """λ CE(logits, y_i) + (1 − λ) CE(logits, y_partner), per example."""
  ce = optax.softmax_cross_entropy_with_integer_labels
  return lam * ce(logits, labels) + (1 - lam) * ce(logits, labels[partner])
