"""Gram matrices, the Gram / content / TV losses against NumPy, and neural style transfer's trade-off
(more content weight: lower content loss, higher style loss) and style blending by averaged Grams."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from cs231n_jax.models.registry import get_model
from cs231n_jax.vis import style, texture

KEY = jax.random.PRNGKey(0)


def test_gram_is_the_average_of_outer_products():
  f = np.random.default_rng(0).normal(size=(2, 3, 4, 5)).astype(np.float32)
  g = np.asarray(style.gram_matrix(jnp.asarray(f)))
  for n in range(2):
    ref = sum(np.outer(v, v) for v in f[n].reshape(-1, 5)) / 12
    np.testing.assert_allclose(g[n], ref, rtol=1e-5, atol=1e-6)
    assert np.allclose(g[n], g[n].T) and np.linalg.eigvalsh(g[n]).min() > -1e-5  # symmetric, PSD
  with pytest.raises(ValueError, match="features: expected an NHWC activation"):
    style.gram_matrix(jnp.zeros((3, 4, 5)))


def test_layer_loss_is_gatys_on_unnormalised_grams():
  rng = np.random.default_rng(1)
  a, b = rng.normal(size=(1, 4, 6, 3)), rng.normal(size=(1, 4, 6, 3))
  fa, fb = a.reshape(-1, 3).T, b.reshape(-1, 3).T  # N_l x M_l
  n, m = fa.shape
  gatys = np.sum((fa @ fa.T - fb @ fb.T) ** 2) / (4 * n ** 2 * m ** 2)
  ours = style.gram_layer_loss(style.gram_matrix(jnp.asarray(a, jnp.float32)), style.gram_matrix(jnp.asarray(b, jnp.float32)))
  np.testing.assert_allclose(float(ours[0]), gatys, rtol=1e-4)


@pytest.mark.parametrize("beta", [2.0, 1.0])
def test_total_variation_against_loops(beta):
  x = np.random.default_rng(2).uniform(size=(2, 5, 6, 3))
  ref = np.zeros(2)
  for n in range(2):
    for i in range(4):
      for j in range(5):
        for c in range(3):
          ref[n] += ((x[n, i, j + 1, c] - x[n, i, j, c]) ** 2 + (x[n, i + 1, j, c] - x[n, i, j, c]) ** 2) ** (beta / 2)
  np.testing.assert_allclose(np.asarray(style.total_variation(jnp.asarray(x, jnp.float32), beta)), ref, rtol=1e-3)


def test_flax_features_reads_named_layers_and_names_a_missing_one():
  model = get_model("small_vgg", widths=(4, 8), num_classes=3)
  x = jnp.zeros((1, 8, 8, 3))
  variables = style.init_quickly(model.init, KEY, x)
  names = [k for k in variables["params"] if k.startswith("Conv")][:2]
  feats = jax.jit(style.flax_features(model, names, train=False))(variables, x)
  assert list(feats) == names and all(v.ndim == 4 for v in feats.values())
  with pytest.raises(ValueError, match="layers: the model has no layer 'conv9'"):
    style.flax_features(model, ["conv9"], train=False)(variables, x)


def test_blended_grams_are_the_weighted_average_and_bad_blends_are_named():
  features, params = style.random_conv_features(KEY, (4, 8), 16)
  a, b = (jnp.asarray(texture.bundled_texture(n, 16)) for n in ("brick", "grass"))
  ga, gb = (style.target_grams(features, params, [im], ["conv2"])["conv2"] for im in (a, b))
  mix = style.target_grams(features, params, [a, b], ["conv2"], blend=[0.25, 0.75])["conv2"]
  np.testing.assert_allclose(mix, 0.25 * ga + 0.75 * gb, rtol=1e-5, atol=1e-7)
  with pytest.raises(ValueError, match="blend: expected 2 non-negative weights summing to 1"):
    style.target_grams(features, params, [a, b], ["conv2"], blend=[0.5, 0.6])
  with pytest.raises(ValueError, match=r"style\[0\]: expected an RGB image"):
    style.target_grams(features, params, [a[..., 0]], ["conv2"])
  with pytest.raises(ValueError, match="content: expected at least 8x8 pixels"):
    style.check_image(jnp.zeros((4, 4, 3)), "content")


def test_more_content_weight_lowers_content_loss_and_raises_style_loss():
  features, params = style.random_conv_features(KEY, (8, 16), 16)
  content = jnp.asarray(texture.bundled_texture("brick", 16))
  styl = jnp.asarray(texture.bundled_texture("gravel", 16, (100, 100)))
  runs = [style.style_transfer(features, params, content, [styl], content_layers={"conv2": 1.0},
                               style_layers={"conv1": 1.0, "conv2": 1.0}, content_weight=w, style_weight=1e3,
                               num_steps=60, learning_rate=0.02, init="noise")
          for w in (1e-5, 1e-4, 1e-3)]
  c = [r["content_loss"] for r in runs]
  s = [r["style_loss"] for r in runs]
  assert c[0] > c[1] > c[2], c
  assert s[0] < s[1] < s[2], s
