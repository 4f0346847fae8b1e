"""Layer outputs by name, receptive fields (checked against where gradients reach in the input),
maximally activating patches, nearest neighbours (against scikit-learn) and filter grids."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from cs231n_jax.errors import ConfigError
from cs231n_jax.models.registry import count_params
from cs231n_jax.vis import digits_cnn, features


@pytest.fixture(scope="module")
def net():
  model = digits_cnn.VisDigitsCNN(features=(4, 4, 4))
  variables = model.init(jax.random.PRNGKey(0), jnp.zeros((1, 24, 24, 1)))
  return model, variables


def test_layer_outputs_by_name(net):
  model, variables = net
  x = jnp.ones((2, 24, 24, 1))
  names = features.layer_names(model, variables, x)
  assert {"conv1", "conv2", "conv3", "head", "features"} <= set(names)
  assert features.layer_output(model, variables, x, "conv2").shape == (2, 12, 12, 4)
  assert features.penultimate_features(model, variables, x).shape == (2, 4)
  with pytest.raises(ConfigError, match="layer: VisDigitsCNN has no layer 'conv9'; expected one of"):
    features.layer_output(model, variables, x, "conv9")


def test_receptive_field_formula():
  assert features.receptive_field([(3, 1, 1)]) == (3, 1, 0.0)
  assert features.receptive_field([(3, 1, 1), (2, 2, 0), (3, 1, 1)]) == (8, 2, 0.5)
  assert features.receptive_field([(11, 4, 2), (3, 2, 0)]) == (19, 8, 7.0)  # AlexNet conv1 + pool1


@pytest.mark.parametrize("layer,row,col", [(2, 5, 6), (3, 3, 2)])
def test_receptive_field_is_where_the_gradient_reaches(net, layer, row, col):
  model, variables = net
  geometry = digits_cnn.layer_geometry((4, 4, 4), layer)
  top, left, bottom, right = features.unit_box(geometry, row, col, (24, 24))

  def unit(x):
    return jnp.sum(features.layer_output(model, variables, x[None], f"conv{layer}")[0, row, col])

  xs = jax.random.normal(jax.random.PRNGKey(1), (64, 24, 24, 1))
  support = np.asarray(jnp.any(jax.vmap(jax.grad(unit))(xs) != 0, axis=(0, 3)))
  expected = np.zeros((24, 24), bool)
  expected[top:bottom, left:right] = True
  np.testing.assert_array_equal(support, expected)


def test_max_activating_patches_are_the_receptive_fields(net):
  model, variables = net
  images = np.asarray(jax.random.uniform(jax.random.PRNGKey(2), (6, 24, 24, 1)))
  acts = np.asarray(features.layer_output(model, variables, jnp.asarray(images), "conv2"))
  geometry = digits_cnn.layer_geometry((4, 4, 4), 2)
  patches, where = features.max_activating_patches(acts, images, channel=1, layers=geometry, k=3)
  values = [w[3] for w in where]
  assert values == sorted(values, reverse=True) and values[0] == pytest.approx(acts[..., 1].max())
  for patch, (i, row, col, value) in zip(patches, where):
    assert acts[i, row, col, 1] == pytest.approx(value)
    top, left, bottom, right = features.unit_box(geometry, row, col)
    assert patch.shape == (8, 8, 1)
    y0, x0 = max(top, 0), max(left, 0)
    np.testing.assert_array_equal(patch[y0 - top:min(bottom, 24) - top, x0 - left:min(right, 24) - left],
                                  images[i, y0:min(bottom, 24), x0:min(right, 24)])


def test_nearest_neighbours_match_scikit_learn():
  from sklearn.neighbors import NearestNeighbors

  rng = np.random.default_rng(0)
  bank, queries = rng.normal(size=(50, 7)), rng.normal(size=(5, 7))
  ours = features.nearest_neighbours(queries, bank, k=4)
  theirs = NearestNeighbors(n_neighbors=4).fit(bank).kneighbors(queries, return_distance=False)
  np.testing.assert_array_equal(ours, theirs)


def test_embeddings_and_grids():
  x = np.random.default_rng(0).normal(size=(30, 5))
  assert features.embed_2d(x, "pca").shape == (30, 2)
  assert features.embed_2d(x, "tsne").shape == (30, 2)
  with pytest.raises(ConfigError, match="method: expected 'pca' or 'tsne'"):
    features.embed_2d(x, "umap")
  grid = features.first_layer_filters(np.random.default_rng(1).normal(size=(3, 3, 3, 6)), cols=3)
  assert grid.shape == (7, 11, 3) and grid.min() >= 0 and grid.max() <= 1
  assert features.activation_maps(np.ones((4, 4, 5))).shape == (9, 14, 1)


def test_the_digits_cnn_is_registered():
  assert count_params("vis_digits_cnn") == (3 * 3 * 1 * 32 + 32) + (3 * 3 * 32 * 64 + 64) + (64 * 10 + 10)
