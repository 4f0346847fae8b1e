"""Honest sample metrics on digits: a classifier the project trains, an Inception-score analogue, a
Fréchet distance on the classifier's features, and the nearest-neighbour memorisation check.

None of these is in the lectures (2017 @57000 shows samples beside their nearest training images;
nothing else). They follow Salimans et al., "Improved Techniques for Training GANs" (NeurIPS 2016:
the Inception score ``exp E_x KL(p(y|x) || p(y))``) and Heusel et al., "GANs Trained by a Two
Time-Scale Update Rule" (NeurIPS 2017: the Fréchet distance between Gaussians fitted to network
features), with a small MLP trained here on the digits in place of the Inception network. The scale
only means something next to reference rows, so every table reports real held-out digits (the
ceiling) and noise (the floor) scored the same way, with the same number of images.

- **IS analogue**: high when each image is confidently one class *and* the classes are balanced;
  10 at most (10 classes). ``mean max-prob`` alone is weak (noise already reaches ~0.55).
- **FD analogue**: ``||mu_1 - mu_2||^2 + Tr(S_1 + S_2 - 2 (S_1 S_2)^(1/2))`` between the classifier's
  penultimate features of the images and of the training set.
- **Memorisation**: the distance from each sample to its nearest training image, compared with the
  same distance for real *held-out* images — a generator that copies training digits has samples
  much closer to the training set than held-out digits are.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

CLASSIFIER_HIDDEN = (256, 64)  # the 64 penultimate features are the Fréchet-distance features
NUM_CLASSES = 10
NUM_SCORED_SAMPLES = 360  # as many as there are held-out test digits, so every row is scored alike


class DigitClassifier(nn.Module):
  """An MLP on [0, 1] pixels; ``features`` returns the penultimate layer (for the Fréchet distance)."""

  hidden: Sequence[int] = CLASSIFIER_HIDDEN
  num_classes: int = NUM_CLASSES
  dropout: float = 0.2

  @nn.compact
  def __call__(self, x: jax.Array, train: bool = False, features: bool = False) -> jax.Array:
    h = x.reshape(x.shape[0], -1)
    for i, width in enumerate(self.hidden):
      h = nn.Dropout(self.dropout, deterministic=not train)(h)
      h = nn.relu(nn.Dense(width, name=f"dense{i}")(h))
    if features:
      return h
    return nn.Dense(self.num_classes, name="out")(h)


@dataclasses.dataclass
class DigitScorer:
  """A trained :class:`DigitClassifier` with its test accuracy; ``binarized`` says what it saw."""

  model: DigitClassifier
  params: Any
  binarized: bool
  test_accuracy: float
  train_features_mean: np.ndarray
  train_features_cov: np.ndarray

  def probs(self, images01) -> np.ndarray:
    return np.asarray(_probs(self.model, self.params, jnp.asarray(images01, jnp.float32)))

  def features(self, images01) -> np.ndarray:
    return np.asarray(digit_features(self.model, self.params, jnp.asarray(images01, jnp.float32)), np.float64)


def _probs(model, params, x):
  return jax.nn.softmax(model.apply({"params": params}, x))


def digit_features(model, params, x):
  return model.apply({"params": params}, x, features=True)


def inception_score(probs: np.ndarray) -> float:
  """``exp E_x KL(p(y|x) || p(y))`` with ``p(y)`` the mean prediction over the images."""
  probs = np.clip(np.asarray(probs, np.float64), 1e-12, 1.0)
  marginal = probs.mean(0)
  return float(np.exp(np.mean(np.sum(probs * (np.log(probs) - np.log(marginal)), axis=1))))


def marginal_entropy(probs: np.ndarray) -> float:
  """Entropy (nats) of the mean predicted class distribution: ln 10 = 2.303 when balanced."""
  marginal = np.clip(np.asarray(probs, np.float64).mean(0), 1e-12, 1.0)
  return float(-np.sum(marginal * np.log(marginal)))


def _psd_sqrt(cov: np.ndarray) -> np.ndarray:
  w, v = np.linalg.eigh(cov)
  return (v * np.sqrt(np.clip(w, 0.0, None))) @ v.T


def frechet_distance(mu1: np.ndarray, cov1: np.ndarray, mu2: np.ndarray, cov2: np.ndarray) -> float:
  """``||mu1 - mu2||^2 + Tr(S1 + S2 - 2 (S1 S2)^(1/2))`` between two Gaussians.

  ``Tr (S1 S2)^(1/2)`` is computed as the sum of the square roots of the eigenvalues of the
  symmetric PSD matrix ``S1^(1/2) S2 S1^(1/2)`` (same eigenvalues as ``S1 S2``), which stays exact
  when a covariance is singular (dead ReLU features) where a general matrix square root does not."""
  root1 = _psd_sqrt(np.asarray(cov1, np.float64))
  middle = root1 @ np.asarray(cov2, np.float64) @ root1
  trace_sqrt = np.sum(np.sqrt(np.clip(np.linalg.eigvalsh((middle + middle.T) / 2.0), 0.0, None)))
  diff = np.asarray(mu1, np.float64) - np.asarray(mu2, np.float64)
  return float(diff @ diff + np.trace(cov1) + np.trace(cov2) - 2.0 * trace_sqrt)


def sample_quality(scorer: DigitScorer, images01: np.ndarray) -> dict[str, float]:
  """IS analogue, marginal class entropy, mean max-probability, Fréchet distance to the training set."""
  images01 = np.asarray(images01, np.float32)
  if images01.ndim != 4 or images01.shape[1:] != (8, 8, 1):
    raise ValueError(f"images01: expected (N, 8, 8, 1) digits in [0, 1], got {images01.shape}")
  if images01.min() < -1e-6 or images01.max() > 1 + 1e-6:
    raise ValueError(f"images01: expected values in [0, 1], got [{images01.min():.3f}, {images01.max():.3f}]")
  probs = scorer.probs(images01)
  feats = scorer.features(images01)
  fd = frechet_distance(feats.mean(0), np.cov(feats, rowvar=False), scorer.train_features_mean,
                        scorer.train_features_cov)
  return {
      "inception_score": inception_score(probs),
      "marginal_entropy": marginal_entropy(probs),
      "mean_max_prob": float(probs.max(1).mean()),
      "frechet_distance": fd,
      "classes_present": int(len(np.unique(probs.argmax(1)))),
  }


def nearest_train_distances(images01: np.ndarray, train01: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
  """L2 distance (64-D pixels in [0, 1]) from each image to its nearest training image, and its index."""
  a = np.asarray(images01, np.float64).reshape(len(images01), -1)
  b = np.asarray(train01, np.float64).reshape(len(train01), -1)
  d2 = (a ** 2).sum(1)[:, None] - 2.0 * a @ b.T + (b ** 2).sum(1)[None]
  idx = d2.argmin(1)
  return np.sqrt(np.maximum(d2[np.arange(len(a)), idx], 0.0)), idx


def memorisation_report(samples01: np.ndarray, train01: np.ndarray, heldout01: np.ndarray) -> dict[str, float]:
  """Samples' nearest-training-image distances against held-out real digits' (the honest reference:
  held-out digits are not copies, yet some lie close to a training digit)."""
  d_samples, _ = nearest_train_distances(samples01, train01)
  d_real, _ = nearest_train_distances(heldout01, train01)
  closest_real = float(d_real.min())
  return {
      "median_nn_distance": float(np.median(d_samples)),
      "heldout_median_nn_distance": float(np.median(d_real)),
      "heldout_min_nn_distance": closest_real,
      "fraction_closer_than_any_heldout": float((d_samples < closest_real).mean()),
  }


def interpolation_report(scorer: DigitScorer, paths01: np.ndarray) -> dict[str, float]:
  """Paths ``(P, T, 8, 8, 1)`` of decoded interpolations: confidence along them, class switches per
  path, and the largest consecutive-frame step relative to the endpoint distance."""
  p, t = paths01.shape[:2]
  flat = paths01.reshape(p * t, *paths01.shape[2:])
  probs = scorer.probs(flat).reshape(p, t, -1)
  labels = probs.argmax(-1)
  switches = (labels[:, 1:] != labels[:, :-1]).sum(1)
  x = paths01.reshape(p, t, -1).astype(np.float64)
  steps = np.linalg.norm(x[:, 1:] - x[:, :-1], axis=-1)
  ends = np.linalg.norm(x[:, -1] - x[:, 0], axis=-1)
  return {
      "mean_max_prob": float(probs[:, 1:-1].max(-1).mean()),
      "fraction_paths_at_most_2_switches": float((switches <= 2).mean()),
      "mean_class_switches": float(switches.mean()),
      "max_step_over_endpoint": float(np.max(steps.max(1) / np.maximum(ends, 1e-12))),
      "median_step_over_endpoint": float(np.median(steps.max(1) / np.maximum(ends, 1e-12))),
  }


def sharpness_report(images01: np.ndarray) -> dict[str, float]:
  """Blurriness proxies: mean |discrete Laplacian| and the fraction of mid-grey pixels in (0.2, 0.8)."""
  x = np.asarray(images01, np.float64)[..., 0]
  lap = (-4 * x[:, 1:-1, 1:-1] + x[:, :-2, 1:-1] + x[:, 2:, 1:-1] + x[:, 1:-1, :-2] + x[:, 1:-1, 2:])
  return {"mean_abs_laplacian": float(np.abs(lap).mean()),
          "mid_grey_fraction": float(((x > 0.2) & (x < 0.8)).mean())}


def uniform_noise(rng: np.random.Generator, num: int, binarized: bool = False) -> np.ndarray:
  """The floor of every table: i.i.d. uniform pixels (or fair coin flips when binarised)."""
  if binarized:
    return rng.integers(0, 2, (num, 8, 8, 1)).astype(np.float32)
  return rng.uniform(0.0, 1.0, (num, 8, 8, 1)).astype(np.float32)


def ink(images01: np.ndarray) -> np.ndarray:
  """Total intensity per image (the stroke-thickness attribute of the vector-arithmetic proxy)."""
  return np.asarray(images01, np.float64).reshape(len(images01), -1).sum(1)


VECTOR_GROUPS = ("extremes", "median")


def vector_arithmetic_report(decode, scorer, z: np.ndarray, group: str = "extremes", group_size: int = 3,
                             min_confidence: float = 0.9) -> dict[str, Any]:
  """The lecture's "smiling woman - neutral woman + neutral man" on the stroke-thickness proxy.

  ``decode(z) -> images in [0, 1]``. The latents ``z`` are decoded and classified; the members of class
  c are the decodes labelled c with confidence > ``min_confidence``. Its thick and thin groups are the
  ``group_size`` members with the most / least ink (``group="extremes"``: the lecture's three samples
  per group) or every member above / below the class's median ink (``"median"``: the curriculum's
  split). For ordered class pairs (a, b) the mean latents give ``z(a, thick) - z(a, thin) + z(b, thin)``;
  a pair passes when its decode is classified as b and has more ink than the decode of ``z(b, thin)``.
  Returns the pass fraction and its two parts (right class, more ink), and ``examples``: the first
  pairs' decodes (result, thin b)."""
  if group not in VECTOR_GROUPS:
    raise ValueError(f"group: expected one of {VECTOR_GROUPS}, got {group!r}")
  z = np.asarray(z)
  images = np.asarray(decode(z))
  probs = scorer.probs(images)
  labels, conf = probs.argmax(-1), probs.max(-1)
  amount = ink(images)
  groups = {}
  for c in range(probs.shape[-1]):
    members = np.flatnonzero((labels == c) & (conf > min_confidence))
    if len(members) < 2 * group_size:
      continue
    order = members[np.argsort(amount[members], kind="stable")]
    if group == "extremes":
      thin, thick = order[:group_size], order[-group_size:]
    else:
      half = len(order) // 2
      thin, thick = order[:half], order[len(order) - half:]
    groups[c] = {"thin": z[thin].mean(0), "thick": z[thick].mean(0)}
  classes = sorted(groups)
  pairs = [(a, b) for a in classes for b in classes if a != b]
  if not pairs:
    return {"group": group, "classes_with_groups": len(classes), "pairs": 0, "pass_fraction": 0.0,
            "right_class_fraction": 0.0, "more_ink_fraction": 0.0, "examples": np.zeros((0, *images.shape[1:]))}
  targets = np.stack([groups[a]["thick"] - groups[a]["thin"] + groups[b]["thin"] for a, b in pairs])
  thins = np.stack([groups[b]["thin"] for _, b in pairs])
  out, ref = np.asarray(decode(targets)), np.asarray(decode(thins))
  right = scorer.probs(out).argmax(-1) == np.array([b for _, b in pairs])
  more = ink(out) > ink(ref)
  examples = np.stack([out[:10], ref[:10]], 1).reshape(-1, *out.shape[1:])
  return {"group": group, "classes_with_groups": len(classes), "pairs": len(pairs),
          "pass_fraction": float((right & more).mean()), "right_class_fraction": float(right.mean()),
          "more_ink_fraction": float(more.mean()), "examples": examples}
