"""Occlusion maps and deletion curves against plain NumPy loops over a random network's probabilities."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from cs231n_jax.vis import digits_cnn, occlusion


@pytest.fixture(scope="module")
def prob_fn():
  model = digits_cnn.VisDigitsCNN(features=(4, 8))
  variables = model.init(jax.random.PRNGKey(0), jnp.zeros((1, 12, 12, 1)))
  return jax.jit(lambda x: jax.nn.softmax(model.apply(variables, x)))


def test_occlusion_map_equals_a_loop(prob_fn):
  image = np.random.default_rng(0).random((12, 12, 1)).astype(np.float32)
  heat = np.asarray(occlusion.occlusion_map(prob_fn, jnp.asarray(image), 3, patch=4, stride=3, fill=0.5, batch_size=4))
  base = float(prob_fn(image[None])[0, 3])
  expected = np.zeros((3, 3))
  for i, y in enumerate(range(0, 9, 3)):
    for j, x in enumerate(range(0, 9, 3)):
      occluded = image.copy()
      occluded[y:y + 4, x:x + 4] = 0.5
      expected[i, j] = base - float(prob_fn(occluded[None])[0, 3])
  np.testing.assert_allclose(heat, expected, atol=1e-6)
  pixels = np.asarray(occlusion.upsample_to_pixels(jnp.asarray(heat), (12, 12), 4, 3))
  total, count = np.zeros((12, 12)), np.zeros((12, 12))
  for i, y in enumerate(range(0, 9, 3)):
    for j, x in enumerate(range(0, 9, 3)):
      total[y:y + 4, x:x + 4] += heat[i, j]
      count[y:y + 4, x:x + 4] += 1
  np.testing.assert_allclose(pixels, total / np.maximum(count, 1), atol=1e-6)
  with pytest.raises(ValueError, match="patch/stride"):
    occlusion.occlusion_map(prob_fn, jnp.asarray(image), 3, patch=20, stride=1)


def test_deletion_curve_deletes_the_most_salient_first(prob_fn):
  image = np.random.default_rng(1).random((12, 12, 1)).astype(np.float32)
  saliency = np.random.default_rng(2).random((12, 12)).astype(np.float32)
  fractions, probs = occlusion.deletion_curve(prob_fn, jnp.asarray(image), 5, jnp.asarray(saliency), steps=4)
  np.testing.assert_allclose(fractions, [0, 0.25, 0.5, 0.75, 1.0])
  order = np.argsort(-saliency.ravel(), kind="stable")
  for f, p in zip(fractions, np.asarray(probs)):
    deleted = image.copy().reshape(-1)
    deleted[order[:round(f * 144)]] = 0.0
    assert p == pytest.approx(float(prob_fn(deleted.reshape(1, 12, 12, 1))[0, 5]), abs=1e-6)
  assert occlusion.curve_area(np.array([0, 0.5, 1.0]), np.array([1.0, 0.5, 0.0])) == pytest.approx(0.5)
