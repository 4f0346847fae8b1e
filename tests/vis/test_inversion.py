"""Feature inversion: the feature loss falls >= 100x from several depths, the TV prior lowers the
reconstruction's total variation, and the reconstruction gets the source's class."""

import jax
import jax.numpy as jnp
import pytest

from cs231n_jax.vis import inversion, style, texture

KEY = jax.random.PRNGKey(0)


def test_inversion_from_two_depths_cuts_the_feature_loss_100x_and_keeps_the_class():
  features, params = style.random_conv_features(KEY, (8, 16), 16)
  image = jnp.asarray(texture.bundled_texture("brick", 16))
  head = jax.random.normal(jax.random.PRNGKey(1), (16, 5))

  @jax.jit
  def classify(x):
    return jnp.mean(features(params, x)["conv2"], axis=(1, 2)) @ head

  out = inversion.invert_depths(features, params, image, ["conv1", "conv2"], classify=classify, num_steps=150,
                                tv_weight=1e-4)
  for layer, r in out.items():
    assert r["reduction"] >= 100, (layer, r["reduction"])
    assert r["same_class"], (layer, r["class"], r["source_class"])


def test_the_tv_prior_smooths_the_reconstruction():
  features, params = style.random_conv_features(KEY, (8, 16), 16)
  image = jnp.asarray(texture.bundled_texture("gravel", 16))
  plain = inversion.invert(features, params, image, "conv2", tv_weight=0.0, num_steps=80)
  smooth = inversion.invert(features, params, image, "conv2", tv_weight=1.0, num_steps=80)
  assert smooth["tv"] < plain["tv"], (smooth["tv"], plain["tv"])
  with pytest.raises(ValueError, match="layer: the feature extractor has no layer 'conv5'"):
    inversion.invert(features, params, image, "conv5")
