"""studies/understanding.py: its measurements against NumPy / scikit-learn loops, and the digits part's
bookkeeping on a small random CNN (the measured runs themselves are in docs/results.md)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import pytest

from cs231n_jax.studies import understanding
from cs231n_jax.vis import digits_cnn, occlusion


def test_mass_ratio_against_a_loop():
  rng = np.random.default_rng(0)
  maps = rng.random((4, 9, 7))
  masks = rng.random((4, 9, 7)) < 0.2
  masks[:, 0, 0] = True  # no empty mask
  expected = [maps[i][masks[i]].sum() / maps[i].sum() / masks[i].mean() for i in range(4)]
  np.testing.assert_allclose(understanding.mass_ratio(maps, masks), expected, rtol=1e-12)
  # A uniform map scores 1; all the mass inside the object scores 1 / (area share).
  np.testing.assert_allclose(understanding.mass_ratio(np.ones((4, 9, 7)), masks), 1.0, rtol=1e-12)
  np.testing.assert_allclose(understanding.mass_ratio(masks.astype(float), masks), 1.0 / masks.reshape(4, -1).mean(1))


def test_occlusion_on_off_against_a_loop():
  rng = np.random.default_rng(1)
  mask = np.zeros((20, 20), bool)
  mask[5:11, 8:15] = True
  heat = rng.random((5, 5))  # patch 6, stride 3: positions 0, 3, ..., 12 -> centres 3, 6, ..., 15
  on, off = [], []
  for i, y in enumerate(occlusion.positions(20, 6, 3)):
    for j, x in enumerate(occlusion.positions(20, 6, 3)):
      (on if mask[y + 3, x + 3] else off).append(heat[i, j])
  got = understanding.occlusion_on_off(heat, mask, 6, 3)
  assert got == pytest.approx((np.mean(on), np.mean(off)))
  assert np.isnan(understanding.occlusion_on_off(heat, np.zeros((20, 20), bool), 6, 3)[0])


def test_neighbour_agreements_match_scikit_learn():
  from sklearn.neighbors import NearestNeighbors

  rng = np.random.default_rng(2)
  bank, queries = rng.normal(size=(60, 5)), rng.normal(size=(12, 5))
  bank_labels, query_labels = rng.integers(0, 3, 60), rng.integers(0, 3, 12)
  idx = NearestNeighbors(n_neighbors=4).fit(bank).kneighbors(queries, return_distance=False)
  assert understanding.neighbour_agreement(queries, query_labels, bank, bank_labels, 4) == pytest.approx(
      np.mean(bank_labels[idx] == query_labels[:, None]))
  # Leave-one-out inside one set: the k nearest OTHER points.
  idx = NearestNeighbors(n_neighbors=4).fit(bank).kneighbors(bank, return_distance=False)[:, 1:]
  assert understanding.leave_one_out_agreement(bank, bank_labels, 3) == pytest.approx(
      np.mean(bank_labels[idx] == bank_labels[:, None]))


def test_digits_measurements_bookkeeping():
  from sklearn.datasets import load_digits

  digits = load_digits()
  x = jnp.asarray(digits.images[:24, :, :, None] / 16.0, jnp.float32)
  y = jnp.asarray(digits.target[:24], jnp.int32)
  model = digits_cnn.VisDigitsCNN(features=(4, 8))
  variables = model.init(jax.random.PRNGKey(0), x[:1])
  fn = lambda z: model.apply(variables, z)  # noqa: E731
  c = ml_collections.ConfigDict({
      "epsilons": (0.0, 0.1), "pgd_steps": 2, "pgd_step_size": 0.05, "classvis_steps": 5, "classvis_lr": 0.1,
      "classvis_l2": 1e-4, "classvis_objectives": ("log_softmax",), "fool_lr": 0.5, "fool_steps": 5,
      "fool_images": 8})
  out = understanding.digits_measurements(fn, x, y, c, seed=0)
  assert "classvis_target_softmax" not in out  # only the objectives asked for
  assert len(out["classvis_target_softmax_log_softmax"]) == 10
  images = out["classvis_images_log_softmax"]
  assert images.shape == (10, 8, 8, 1) and images.min() >= 0 and images.max() <= 1
  probs = np.asarray(jax.nn.softmax(fn(jnp.asarray(images))))
  np.testing.assert_allclose(out["classvis_target_softmax_log_softmax"], np.diag(probs), rtol=1e-5)
  # Accuracy at epsilon 0 is the clean accuracy; PGD at 0.1 cannot raise it above 1 or make it negative.
  clean = float(np.mean(np.asarray(jnp.argmax(fn(x), -1)) == np.asarray(y)))
  curves = out["accuracy_vs_epsilon"]
  assert curves["epsilons"] == [0.0, 0.1] and curves["clean"][0] == pytest.approx(clean) and len(curves["clean"]) == 2
  assert out["fool"]["images"] == 8 and 0.0 <= out["fool"]["success"] <= 1.0


def test_fooling_summary_counts_only_successes():
  images = jnp.zeros((4, 2, 2, 1))
  adv = images.at[:, 0, 0, 0].set(jnp.array([0.1, 0.2, 0.3, 0.4])).at[:, 1, 1, 0].set(0.3)
  out = understanding.fooling_summary(adv, images, jnp.array([True, False, True, True]))
  assert out["success"] == 0.75 and out["images"] == 4
  assert out["median_linf"] == pytest.approx(0.3)  # of 0.3 (0.1 vs 0.3), 0.3, 0.4
  assert out["median_l2"] == pytest.approx(np.median([np.hypot(0.1, 0.3), np.hypot(0.3, 0.3), np.hypot(0.4, 0.3)]))
  assert understanding.fooling_summary(adv, images, jnp.zeros(4, bool))["median_linf"] is None


def test_an_unknown_part_is_named(tmp_path):
  config = understanding.get_base_config()
  config.parts = ("digits_typo",)
  with pytest.raises(ValueError, match="parts: unknown part 'digits_typo'; expected one of"):
    understanding.run(config, str(tmp_path))


@pytest.mark.parametrize("field,value,message", [
    ("size", 16, "imagenet_classvis.size: expected at least 32 pixels, got 16"),
    ("classes", ("goldfish", "not a class"), "class: unknown ImageNet class name 'not a class'"),
    ("classes", (1000,), "class: index 1000 out of range"),
    ("objectives", ("score", "softmax"), "imagenet_classvis.objectives: expected a subset of"),
])
def test_imagenet_classvis_bad_config_is_named_before_loading_a_network(field, value, message):
  from cs231n_jax.errors import ConfigError

  c = understanding.get_base_config().imagenet_classvis
  setattr(c, field, value)
  with pytest.raises(ConfigError, match=message):
    understanding.imagenet_classvis_part(c, seed=0)



def test_fooling_targets_explicit_drawn_and_bad():
  c = understanding.get_base_config().pretrained_fooling
  # The default lists the earlier runs' draws: each group of four photos drew these from default_rng(0) in order.
  rng = np.random.default_rng(0)
  drawn = [[int(t) for t in rng.choice(1000, 10, replace=False)] for _ in range(4)]
  assert understanding.fooling_targets(c, seed=0) == drawn + drawn
  c.targets = ()
  c.photos = ("coffee", "retina")
  assert understanding.fooling_targets(c, seed=0) == drawn[:2]
  c.targets = ((1, 2), (3, 1000))
  with pytest.raises(ValueError, match="pretrained_fooling.targets: expected one tuple of class indices 0..999 per photo"):
    understanding.fooling_targets(c, seed=0)
