"""The notes' 6-layer initialisation study under both readings of k (width 4,096), and mixup."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from cs231n_jax.techniques import init_readings as I
from cs231n_jax.techniques.mixup import mixup, mixup_cross_entropy


@pytest.fixture(scope="module")
def study():
  # Width 4,096 as the study needs (saturation at k = 0.05 disappears at 1,024); a batch of 64
  # inputs gives 262,144 activations per layer, plenty for a std.
  return I.study(jax.random.key(0), width=4096, batch=64)


def test_init_study_under_both_readings(study):
  for reading in I.READINGS:
    s = study[f"tanh_k0.01/{reading}"]
    assert np.all(np.diff(s["std"]) < 0) and s["ratio_6_to_1"] < 0.15
  # Linear-regime predictions: 0.64^5 ≈ 0.107 (Gaussian), (0.64/√3)^5 ≈ 0.007 (uniform).
  assert abs(study["tanh_k0.01/gaussian"]["ratio_6_to_1"] - I.linear_regime_ratio(0.01, 4096, "gaussian")) < 0.03
  assert study["tanh_k0.01/uniform"]["ratio_6_to_1"] < 0.02
  assert study["tanh_k0.05/gaussian"]["saturated_last"] >= 0.40  # "most neurons saturated"
  assert 0.4 <= study["tanh_xavier/gaussian"]["ratio_6_to_1"] <= 1.5
  assert study["relu_xavier/gaussian"]["ratio_6_to_1"] < 0.25
  assert 0.6 <= study["relu_kaiming/gaussian"]["ratio_6_to_1"] <= 1.6
  # The notes' literal uniform ±1/√D "Xavier" has Var 1/(3D): its activations shrink like the k = 0.01 case.
  assert study["tanh_xavier/uniform"]["ratio_6_to_1"] < 0.5 * study["tanh_xavier/gaussian"]["ratio_6_to_1"]


def test_draw_weights_variances():
  w = np.asarray(I.draw_weights(jax.random.key(0), (400, 400), 0.1, "uniform"))
  assert abs(w.var() - 0.01 / 3) < 2e-4 and np.abs(w).max() <= 0.1
  g = np.asarray(I.draw_weights(jax.random.key(0), (400, 400), 0.1, "gaussian"))
  assert abs(g.var() - 0.01) < 5e-4
  with pytest.raises(ValueError, match="reading"):
    I.draw_weights(jax.random.key(0), (2, 2), 0.1, "std")


def test_mixup_blends_images_and_labels():
  key = jax.random.key(0)
  images = jax.random.normal(key, (256, 4, 4, 1))
  labels = jnp.arange(256) % 10
  mixed, targets, lam, partner = mixup(jax.random.key(1), images, labels, 10, alpha=0.4)
  l4 = np.asarray(lam)[:, None, None, None]
  np.testing.assert_allclose(np.asarray(mixed), l4 * np.asarray(images) + (1 - l4) * np.asarray(images)[np.asarray(partner)],
                             atol=1e-6)
  np.testing.assert_allclose(np.asarray(targets).sum(1), 1.0, atol=1e-6)
  assert sorted(np.asarray(partner).tolist()) == list(range(256))  # a permutation
  # Beta(0.4, 0.4): mean 1/2, variance 1/(4(2α+1)) = 0.139; many λ near 0 or 1.
  assert abs(float(lam.mean()) - 0.5) < 0.06 and abs(float(lam.var()) - 0.25 / 1.8) < 0.03
  # CE against the mixed one-hot target = λ CE(y_i) + (1-λ) CE(y_j).
  logits = jax.random.normal(jax.random.key(2), (256, 10))
  np.testing.assert_allclose(np.asarray(optax.softmax_cross_entropy(logits, targets)),
                             np.asarray(mixup_cross_entropy(logits, labels, lam, partner)), rtol=1e-5)
  with pytest.raises(ValueError, match="mixup.alpha"):
    mixup(key, images, labels, 10, alpha=0.0)
