"""Exact structural tests of the autoregressive pixel models: causality by gradients, the vanilla
PixelCNN's blind spot (and its absence in the gated PixelCNN), receptive fields of the PixelRNN
layers, and normalisation over every 3x3 binary image."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from cs231n_jax.generative import autoregressive as ar
from cs231n_jax.generative.baselines import IndependentPixels, LogisticAutoregressive
from cs231n_jax.generative.pixelcnn import GatedPixelCNN, PixelCNN
from cs231n_jax.generative.pixelrnn import DiagonalBiLSTM, PixelRNN, scan_lengths, skew, unskew


def dependency(model, shape, seed=0):
  """|d logits(position i, any level) / d input(position j)|, maximised over levels: (D, D) in raster order."""
  d = int(np.prod(shape))
  x = jnp.asarray(np.random.RandomState(seed).randint(0, model.num_levels, (1, *shape)))
  variables = jax.jit(model.init)(jax.random.key(seed), x)
  jac = jax.jit(jax.jacrev(lambda xf: model.apply(variables, xf)))(x.astype(jnp.float32))  # (1,H,W,C,L,1,H,W,C)
  jac = np.abs(np.asarray(jac))[0].max(axis=3).reshape(d, d)
  return jac


def future_mask(d):
  return np.triu(np.ones((d, d), bool))  # [i, j] with j >= i


SMALL = (6, 6, 1)
MODELS = {
    # Deep enough that the receptive-field radius (1 + 8) exceeds the image: only the blind spot is missed.
    "pixelcnn": PixelCNN(num_levels=3, image_shape=SMALL, features=8, num_layers=8, first_kernel=3, head_features=8),
    "gated_pixelcnn": GatedPixelCNN(num_levels=3, image_shape=SMALL, features=8, num_layers=6, first_kernel=3,
                                    head_features=8),
    "row_lstm": PixelRNN(num_levels=3, image_shape=SMALL, kind="row", hidden=4, num_layers=2, first_kernel=3,
                         head_features=8),
    "diagonal_bilstm": PixelRNN(num_levels=3, image_shape=SMALL, kind="diagonal", hidden=4, num_layers=2,
                                first_kernel=3, head_features=8),
    "logistic": LogisticAutoregressive(num_levels=3, image_shape=SMALL),
}


@functools.lru_cache(maxsize=None)
def model_dependency(name):
  return dependency(MODELS[name], SMALL)


@pytest.mark.parametrize("name", sorted(MODELS))
def test_no_output_depends_on_its_own_or_later_pixels(name):
  jac = model_dependency(name)
  assert np.all(jac[future_mask(jac.shape[0])] == 0.0)
  if name != "logistic":  # (zero-initialised weights have zero gradients everywhere)
    assert (jac[~future_mask(jac.shape[0])] > 0).mean() > 0.5  # and they do depend on the past


def test_colour_pixelcnn_orders_channels_within_a_pixel():
  shape = (3, 3, 3)
  model = PixelCNN(num_levels=2, image_shape=shape, features=9, num_layers=2, first_kernel=3, head_features=9)
  jac = dependency(model, shape)
  assert np.all(jac[future_mask(27)] == 0.0)
  # G of pixel 4 sees R of pixel 4; B sees R and G; R sees neither.
  r, g, b = 4 * 3, 4 * 3 + 1, 4 * 3 + 2
  assert jac[g, r] > 0 and jac[b, r] > 0 and jac[b, g] > 0
  assert jac[r, g] == 0 and jac[r, b] == 0 and jac[g, b] == 0


def test_vanilla_pixelcnn_has_exactly_the_blind_spot():
  jac = model_dependency("pixelcnn")
  h, w, _ = SMALL
  for i in range(h * w):
    r, c = divmod(i, w)
    for j in range(i):
      rr, cc = divmod(j, w)
      # Stacked 3x3 masks grow the field one column right per row up: (rr, cc) is missed iff it lies
      # further right than the row distance.
      blind = rr < r and cc - c > r - rr
      assert (jac[i, j] == 0) == blind, (divmod(i, w), (rr, cc))
  assert (jac == 0)[np.tril_indices(h * w, -1)].sum() > 0


def test_gated_pixelcnn_has_no_blind_spot():
  jac = model_dependency("gated_pixelcnn")
  past = ~future_mask(jac.shape[0])
  assert np.all(jac[past] > 0), "every earlier pixel reaches every later one"
  assert np.all(jac[~past] == 0)


def test_row_lstm_receptive_field_is_a_triangle():
  jac = model_dependency("row_lstm")
  w = SMALL[1]
  # Pixel (1, 0) cannot see (0, 5): the row above is seen through a kernel-3 window per row.
  assert jac[1 * w + 0, 0 * w + 5] == 0
  assert jac[1 * w + 0, 0 * w + 0] > 0


def test_diagonal_bilstm_layer_sees_the_whole_context_of_its_input_features():
  x = jnp.asarray(np.random.RandomState(1).randn(1, 5, 5, 2), jnp.float32)
  layer = DiagonalBiLSTM(hidden=3)
  variables = jax.jit(layer.init)(jax.random.key(0), x)
  jac = jax.jit(jax.jacrev(lambda v: layer.apply(variables, v)))(x)  # (1,5,5,3, 1,5,5,2)
  jac = np.abs(np.asarray(jac))[0].max(axis=(2, 6)).reshape(25, 25)
  incl_past = np.tril(np.ones((25, 25), bool))  # j <= i (the layer's 1x1 input kernel is mask B)
  assert np.all(jac[incl_past] > 0)
  assert np.all(jac[~incl_past] == 0)


def test_diagonal_bilstm_pixelrnn_misses_only_the_end_of_the_previous_row():
  # The mask-A first layer never puts pixel (r-1, W-1) into a feature of row r-1, and the right-to-left
  # LSTM only reaches row r after its one-row shift; so (r, c) sees (r-1, W-1) only through the first
  # layer's kernel (c >= W-1-k//2). This follows from the paper's architecture; measured exactly here.
  model = MODELS["diagonal_bilstm"]
  jac = model_dependency("diagonal_bilstm")
  h, w, _ = SMALL
  k = model.first_kernel
  for i in range(h * w):
    r, c = divmod(i, w)
    for j in range(i):
      missed = (j == (r - 1) * w + (w - 1)) and c < w - 1 - k // 2
      assert (jac[i, j] == 0) == missed, (divmod(i, w), divmod(j, w))


def top_level_scan_lengths(closed_jaxpr):
  """Lengths of the scans in a jaxpr, looking inside pjit / custom-call bodies but not inside scans."""
  out = []

  def visit(jaxpr):
    for eqn in jaxpr.eqns:
      if eqn.primitive.name == "scan":
        out.append(eqn.params["length"])
        continue
      for v in eqn.params.values():
        inner = getattr(v, "jaxpr", v)
        if hasattr(inner, "eqns"):
          visit(inner)

  visit(closed_jaxpr.jaxpr)
  return out


@pytest.mark.parametrize("kind,scans_per_layer", [("row", 1), ("diagonal", 2)])
def test_pixelrnn_recurrences_are_lax_scans_over_rows_or_diagonals(kind, scans_per_layer):
  # A non-square image tells rows (H = 5) from diagonals (H + W - 1 = 11) apart; the Diagonal BiLSTM
  # runs one scan per direction.
  shape = (5, 7, 1)
  model = PixelRNN(num_levels=2, image_shape=shape, kind=kind, hidden=3, num_layers=2, first_kernel=3,
                   head_features=4)
  x = jnp.zeros((2, *shape), jnp.int32)
  variables = jax.eval_shape(model.init, jax.random.key(0), x)  # shapes only: tracing needs no values
  lengths = top_level_scan_lengths(jax.make_jaxpr(lambda v: model.apply(v, x))(variables))
  want = 5 if kind == "row" else 5 + 7 - 1
  assert scan_lengths(model) == want
  assert lengths == [want] * (scans_per_layer * model.num_layers)


def test_skew_unskew_round_trip_and_layout():
  x = jnp.arange(2 * 3 * 4 * 1, dtype=jnp.float32).reshape(2, 3, 4, 1) + 1
  s = skew(x)
  assert s.shape == (2, 3, 6, 1)
  np.testing.assert_array_equal(np.asarray(s[0, 1, 1:5, 0]), np.asarray(x[0, 1, :, 0]))
  assert float(s[0, 1, 0, 0]) == 0.0 and float(s[0, 2, 1, 0]) == 0.0
  np.testing.assert_array_equal(np.asarray(unskew(s, 4)), np.asarray(x))


TINY = (3, 3, 1)


@pytest.mark.parametrize("make", [
    lambda: PixelCNN(num_levels=2, image_shape=TINY, features=6, num_layers=2, first_kernel=3, head_features=6),
    lambda: GatedPixelCNN(num_levels=2, image_shape=TINY, features=6, num_layers=2, first_kernel=3, head_features=6),
    lambda: PixelRNN(num_levels=2, image_shape=TINY, kind="row", hidden=4, num_layers=1, first_kernel=3, head_features=6),
    lambda: PixelRNN(num_levels=2, image_shape=TINY, kind="diagonal", hidden=4, num_layers=1, first_kernel=3,
                     head_features=6),
    lambda: IndependentPixels(num_levels=2, image_shape=TINY),
], ids=["pixelcnn", "gated", "row_lstm", "diagonal_bilstm", "independent"])
def test_probabilities_of_all_512_binary_3x3_images_sum_to_one(make):
  model = make()
  variables = jax.jit(model.init)(jax.random.key(3), jnp.zeros((1, *TINY), jnp.int32))
  # Perturb every parameter so the distribution is far from uniform.
  rng = np.random.default_rng(4)
  variables = jax.tree.map(lambda p: p + 0.5 * rng.standard_normal(p.shape).astype(np.float32), variables)
  images = ar.all_images(TINY, 2)
  assert images.shape == (512, 3, 3, 1)
  lp = ar.log_prob(model, variables, images)
  assert lp.std() > 0.1  # not the uniform distribution
  assert abs(ar.total_probability(model, variables) - 1.0) < 1e-4


def test_logistic_autoregressive_normalises_with_random_weights():
  model = LogisticAutoregressive(num_levels=3, image_shape=(2, 3, 1))
  variables = model.init(jax.random.key(0), jnp.zeros((1, 2, 3, 1), jnp.int32))
  rng = np.random.default_rng(1)
  variables = jax.tree.map(lambda p: rng.standard_normal(p.shape).astype(np.float32), variables)
  assert abs(ar.total_probability(model, variables) - 1.0) < 1e-4  # 3**6 = 729 images
