"""Sample metrics (IS and FD analogues, nearest neighbours, interpolation, sharpness) and the
logistic autoregressive baseline."""

import numpy as np
import pytest
from scipy import linalg

from cs231n_jax.generative import autoregressive as ar
from cs231n_jax.generative import evaluate as ev
from cs231n_jax.generative.baselines import fit_logistic_autoregressive, select_logistic_autoregressive


def test_inception_score_extremes():
  eye = np.eye(10)
  assert ev.inception_score(np.repeat(eye, 5, axis=0)) == pytest.approx(10.0, rel=1e-6)  # confident and balanced
  assert ev.inception_score(np.tile(eye[3], (50, 1))) == pytest.approx(1.0, abs=1e-6)  # mode collapse
  assert ev.inception_score(np.full((50, 10), 0.1)) == pytest.approx(1.0, abs=1e-6)  # no confidence
  assert ev.marginal_entropy(np.repeat(eye, 5, axis=0)) == pytest.approx(np.log(10))


def test_frechet_distance_matches_the_matrix_square_root_formula():
  rng = np.random.default_rng(0)
  a, b = rng.standard_normal((6, 6)), rng.standard_normal((6, 6))
  c1, c2, m1, m2 = a @ a.T, b @ b.T, rng.standard_normal(6), rng.standard_normal(6)
  want = np.sum((m1 - m2) ** 2) + np.trace(c1 + c2 - 2 * np.real(linalg.sqrtm(c1 @ c2)))
  assert ev.frechet_distance(m1, c1, m2, c2) == pytest.approx(want, rel=1e-8)
  assert ev.frechet_distance(m1, c1, m1, c1) == pytest.approx(0.0, abs=1e-8)
  singular = np.diag([1.0, 2.0, 0.0, 0.0, 0.0, 0.0])  # dead features
  assert np.isfinite(ev.frechet_distance(m1, singular, m2, c2))


def test_nearest_neighbours_and_memorisation():
  rng = np.random.default_rng(1)
  train = rng.uniform(size=(50, 8, 8, 1))
  d, idx = ev.nearest_train_distances(train[[7, 3]], train)
  np.testing.assert_allclose(d, 0.0, atol=1e-6)
  assert list(idx) == [7, 3]
  heldout = rng.uniform(size=(20, 8, 8, 1))
  copies = ev.memorisation_report(train[:20], train, heldout)
  assert copies["fraction_closer_than_any_heldout"] == 1.0 and copies["median_nn_distance"] < 1e-6
  fresh = ev.memorisation_report(rng.uniform(size=(20, 8, 8, 1)), train, heldout)
  assert fresh["fraction_closer_than_any_heldout"] < 0.5


def test_interpolation_and_sharpness_reports():
  paths = np.linspace(0, 1, 5)[None, :, None, None, None] * np.ones((2, 5, 8, 8, 1))

  class Fixed:
    def probs(self, x):
      p = np.zeros((len(x), 10))
      p[:, 0] = 1.0
      return p

  r = ev.interpolation_report(Fixed(), paths)
  assert r["mean_class_switches"] == 0 and r["fraction_paths_at_most_2_switches"] == 1.0
  assert r["max_step_over_endpoint"] == pytest.approx(0.25)
  flat = ev.sharpness_report(np.full((3, 8, 8, 1), 0.5))
  assert flat["mean_abs_laplacian"] == 0.0 and flat["mid_grey_fraction"] == 1.0
  assert ev.ink(np.ones((2, 8, 8, 1))).tolist() == [64.0, 64.0]


def test_sample_quality_rejects_images_outside_zero_one():
  class Dummy:
    pass

  with pytest.raises(ValueError, match=r"images01: expected values in \[0, 1\]"):
    ev.sample_quality(Dummy(), np.full((4, 8, 8, 1), 2.0))
  with pytest.raises(ValueError, match="images01: expected"):
    ev.sample_quality(Dummy(), np.zeros((4, 64)))


def test_logistic_autoregressive_baseline_fits_and_selects_c_on_validation():
  rng = np.random.default_rng(0)
  # A chain where each pixel copies the previous one with prob 0.9: the autoregressive model can learn it.
  n, d = 400, 6
  x = np.zeros((n, d), np.int32)
  x[:, 0] = rng.integers(0, 2, n)
  for i in range(1, d):
    flip = rng.uniform(size=n) < 0.1
    x[:, i] = np.where(flip, 1 - x[:, i - 1], x[:, i - 1])
  images = x.reshape(n, 2, 3, 1)
  model, variables = fit_logistic_autoregressive(images[:300], 2, c=10.0, iterations=100)
  nll = ar.nll_report(model, variables, images[300:])["nats"]
  optimum = np.log(2) + (d - 1) * -(0.9 * np.log(0.9) + 0.1 * np.log(0.1))  # the true entropy: 2.32 nats
  assert nll == pytest.approx(optimum, abs=0.15)
  assert abs(ar.total_probability(model, variables) - 1.0) < 1e-4
  _, _, c, table = select_logistic_autoregressive(images[:300], images[300:], 2, c_grid=(0.001, 10.0))
  assert c == 10.0 and table[0]["val_nats"] > table[1]["val_nats"]
  with pytest.raises(ValueError, match="c: expected a positive"):
    fit_logistic_autoregressive(images, 2, c=0.0)


class _PixelClass:
  """Scores an image as the class written in its first pixel (value class / 10), with certainty."""

  def probs(self, x):
    p = np.zeros((len(x), 10))
    p[np.arange(len(x)), np.rint(np.asarray(x)[:, 0, 0, 0] * 10).astype(int)] = 1.0
    return p


def _decode(z, ink_scale=0.05):
  images = np.clip(0.5 + ink_scale * z[:, 1], 0.0, 1.0)[:, None, None, None] * np.ones((len(z), 8, 8, 1))
  images[:, 0, 0, 0] = np.floor(z[:, 0]) / 10
  return images


@pytest.mark.parametrize("group", ev.VECTOR_GROUPS)
def test_vector_arithmetic_passes_on_an_additive_decoder_and_fails_without_the_attribute(group):
  rng = np.random.default_rng(0)
  z = np.stack([np.repeat(np.arange(10) + 0.5, 20), rng.standard_normal(200)], 1)  # class in z[0], ink in z[1]
  r = ev.vector_arithmetic_report(_decode, _PixelClass(), z, group=group)
  assert r["classes_with_groups"] == 10 and r["pairs"] == 90
  assert r["pass_fraction"] == r["right_class_fraction"] == r["more_ink_fraction"] == 1.0
  assert r["examples"].shape == (20, 8, 8, 1)
  # Ink that ignores the latent: thick - thin adds nothing, so no pair has more ink than thin(b).
  flat = ev.vector_arithmetic_report(lambda q: _decode(q, 0.0), _PixelClass(), z, group=group)
  assert flat["right_class_fraction"] == 1.0 and flat["more_ink_fraction"] == 0.0 and flat["pass_fraction"] == 0.0


def test_vector_arithmetic_groups_are_the_extremes_or_the_halves():
  # Classes 3 and 5, ink latent 0..9 in each: extremes (3 per group) average {7, 8, 9} and {0, 1, 2}; the
  # median split averages {5..9} and {0..4}. The decoded target thick(a) - thin(a) + thin(b) shows which.
  z = np.stack([np.repeat([3.5, 5.5], 10), np.tile(np.arange(10.0), 2)], 1)
  calls = []

  def decode(q):
    calls.append(np.asarray(q).copy())
    return _decode(q)

  for group, want in (("extremes", 8.0 - 1.0 + 1.0), ("median", 7.0 - 2.0 + 2.0)):
    calls.clear()
    r = ev.vector_arithmetic_report(decode, _PixelClass(), z, group=group)
    targets = calls[1]
    np.testing.assert_allclose(targets[:, 1], want)
    np.testing.assert_allclose(sorted(targets[:, 0]), [3.5, 5.5])
    assert r["pairs"] == 2 and r["pass_fraction"] == 1.0
  with pytest.raises(ValueError, match="group: expected one of"):
    ev.vector_arithmetic_report(decode, _PixelClass(), z, group="quartiles")
