"""DeepDream as the lecture's code: roll / unroll are exact inverses and match the Caffe code's
np.roll on CHW; the L1-normalised step moves pixels by step_size on average; sum f^2 rises >= 10x
in 20 steps; octaves; a missing layer is named."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from cs231n_jax.vis import deepdream, style

KEY = jax.random.PRNGKey(0)


def test_roll_matches_the_caffe_code_and_unroll_inverts_it_exactly():
  x = np.random.default_rng(0).uniform(size=(1, 7, 9, 3)).astype(np.float32)
  for ox, oy in [(3, -2), (-32, 32), (0, 5)]:
    rolled = np.asarray(deepdream.roll(jnp.asarray(x), ox, oy))
    chw = x[0].transpose(2, 0, 1)
    caffe = np.roll(np.roll(chw, ox, -1), oy, -2)
    np.testing.assert_array_equal(rolled[0].transpose(2, 0, 1), caffe)
    np.testing.assert_array_equal(np.asarray(deepdream.unroll(jnp.asarray(rolled), ox, oy)), x)
  traced = jax.jit(lambda x, o: deepdream.unroll(deepdream.roll(x, o[0], o[1]), o[0], o[1]))
  np.testing.assert_array_equal(np.asarray(traced(jnp.asarray(x), jnp.array([4, -6]))), x)


def test_the_step_is_l1_normalised_to_step_size_pixels():
  features, params = style.random_conv_features(KEY, (8, 16), 16)
  x = jax.random.uniform(KEY, (1, 16, 16, 3))
  step = jax.jit(lambda x: deepdream.make_step(features, params, x, KEY, "conv2", step_size=1.5, jitter=0, clip=False))
  y = step(x)
  np.testing.assert_allclose(float(jnp.mean(jnp.abs(y - x))) * 255, 1.5, rtol=1e-4)


def test_twenty_steps_amplify_the_layer_tenfold_and_octaves_keep_the_size():
  features, params = style.random_conv_features(KEY, (8, 16), 24)
  image = 0.5 + 0.02 * jax.random.normal(KEY, (24, 24, 3))  # a dim, nearly flat start
  r = deepdream.deepdream(features, params, image, "conv2", num_steps=20, jitter=4)
  assert r["energy_after"] >= 10 * r["energy_before"], (r["energy_before"], r["energy_after"])
  assert float(r["image"].min()) >= 0 and float(r["image"].max()) <= 1
  o = deepdream.deepdream(features, params, image, "conv2", num_steps=5, jitter=4, octaves=2)
  assert o["image"].shape == (24, 24, 3) and o["energy_after"] > o["energy_before"]
  with pytest.raises(ValueError, match="layer: the feature extractor has no layer 'fc7'"):
    deepdream.deepdream(features, params, image, "fc7")
