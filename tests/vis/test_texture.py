"""Texture synthesis: the nearest-neighbour scanline method copies input pixels (equal to a NumPy
loop's choices), and Gram synthesis on scikit-image's textures cuts the Gram loss >= 100x, ending
below an unrelated texture crop's loss."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from cs231n_jax.vis import style, texture

KEY = jax.random.PRNGKey(0)


def test_nearest_neighbour_output_pixels_are_input_pixels_chosen_as_the_numpy_loop_chooses():
  tex = np.random.default_rng(0).uniform(size=(8, 9, 3)).astype(np.float32)
  radius, shape = 1, (5, 6)
  image, source = texture.nearest_neighbour_texture(jnp.asarray(tex), shape, radius=radius, key=KEY)
  flat = tex.reshape(-1, 3)
  assert image.shape == (5, 6, 3)
  np.testing.assert_array_equal(np.asarray(image), flat[np.asarray(source)])  # every pixel copied from the input
  border = np.asarray(jax.random.randint(KEY, (shape[0] + radius, shape[1] + 2 * radius), 0, 72))
  np.testing.assert_array_equal(np.asarray(source), texture.nearest_neighbour_texture_reference(tex, shape, radius, border))


def test_nearest_neighbour_on_brick_copies_pixels_and_rejects_bad_input():
  tex = jnp.asarray(texture.bundled_texture("brick", 16))
  image, _ = texture.nearest_neighbour_texture(tex, (20, 20), radius=2)
  pixels = {tuple(p) for p in np.asarray(tex).reshape(-1, 3)}
  assert all(tuple(p) in pixels for p in np.asarray(image).reshape(-1, 3))
  with pytest.raises(ValueError, match="texture: expected at least 6x6 pixels"):
    texture.nearest_neighbour_texture(tex[:4, :4], (5, 5), radius=2)
  with pytest.raises(ValueError, match="texture: expected one of"):
    texture.bundled_texture("marble")


def test_gram_synthesis_cuts_the_loss_100x_and_beats_an_unrelated_crop():
  features, params = style.random_conv_features(KEY, (8, 16, 32), 24)
  layers = {"conv1": 1.0, "conv2": 1.0, "conv3": 1.0}
  r = texture.gram_texture(features, params, texture.bundled_texture("brick", 24), layers, (24, 24), num_steps=150)
  assert r["initial_loss"] / r["loss"] >= 100, (r["initial_loss"], r["loss"])
  unrelated = texture.texture_loss(features, params, texture.bundled_texture("grass", 24), r["grams"], layers)
  assert r["loss"] < unrelated, (r["loss"], unrelated)
