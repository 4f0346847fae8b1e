"""Attention and transformer blocks: against jax/flax references, masks, permutation equivariance,
positional-encoding identities, pre/post-norm wiring, decoder causality, bad input."""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from cs231n_jax.errors import ConfigError
from cs231n_jax.nn import attention as A
from cs231n_jax.nn.attention_memory import memory_scaling


def _normal(seed, shape):
  return jax.random.normal(jax.random.key(seed), shape)


def test_scaled_dot_product_attention_matches_jax_with_a_mask():
  q, k, v = _normal(0, (2, 4, 5, 6)), _normal(1, (2, 4, 7, 6)), _normal(2, (2, 4, 7, 6))
  mask = jax.random.bernoulli(jax.random.key(3), 0.6, (2, 1, 5, 7)).at[..., 0].set(True)  # >= 1 key per row
  out, weights = A.scaled_dot_product_attention(q, k, v, mask)
  t = lambda a: a.transpose(0, 2, 1, 3)  # jax.nn wants (N, T, heads, d)
  ref = jax.nn.dot_product_attention(t(q), t(k), t(v), mask=mask)
  np.testing.assert_allclose(out, t(ref), atol=1e-5)
  np.testing.assert_allclose(weights.sum(-1), 1.0, atol=1e-6)
  assert float(jnp.abs(jnp.where(mask, 0, weights)).max()) == 0.0
  # By hand for one row: softmax of the masked, 1/sqrt(d)-scaled dot products.
  s = np.asarray(q[0, 0, 0] @ k[0, 0].T) / np.sqrt(6)
  s = np.where(np.asarray(mask[0, 0, 0]), s, -np.inf)
  np.testing.assert_allclose(weights[0, 0, 0], np.exp(s - s.max()) / np.exp(s - s.max()).sum(), atol=1e-6)


def test_fully_masked_row_gives_zeros_not_nan():
  q, k, v = _normal(0, (1, 2, 3)), _normal(1, (1, 4, 3)), _normal(2, (1, 4, 3))
  mask = jnp.array([[[True, True, False, False], [False, False, False, False]]])
  out, weights = A.scaled_dot_product_attention(q, k, v, mask)
  assert np.all(np.isfinite(out))
  np.testing.assert_array_equal(weights[0, 1], 0.0)
  np.testing.assert_array_equal(out[0, 1], 0.0)


def test_self_attention_is_permutation_equivariant_without_positions():
  # "Self-attention layer doesn't care about the orders of the inputs!"
  x = _normal(4, (2, 6, 8))
  mha = A.MultiHeadAttention(8, num_heads=2)
  variables = mha.init(jax.random.key(5), x)
  perm = jnp.array([3, 0, 5, 1, 4, 2])
  f = jax.jit(lambda x: mha.apply(variables, x))
  np.testing.assert_allclose(f(x[:, perm]), f(x)[:, perm], atol=1e-5)


def test_multi_head_attention_equals_flax_with_the_same_weights():
  x, mem = _normal(6, (2, 5, 12)), _normal(7, (2, 3, 12))
  mha = A.MultiHeadAttention(12, num_heads=3)
  ours = mha.init(jax.random.key(8), x, mem)["params"]
  ref = nn.MultiHeadDotProductAttention(num_heads=3, qkv_features=12, out_features=12)
  heads = lambda p: {"kernel": p["kernel"].reshape(12, 3, 4), "bias": p["bias"].reshape(3, 4)}
  ref_params = {"query": heads(ours["query"]), "key": heads(ours["key"]), "value": heads(ours["value"]),
                "out": {"kernel": ours["out"]["kernel"].reshape(3, 4, 12), "bias": ours["out"]["bias"]}}
  mask = jnp.ones((2, 1, 5, 3), bool).at[0, :, :, 2].set(False)

  @jax.jit
  def both():
    return (mha.apply({"params": ours}, x, mem, mask=mask),
            ref.apply({"params": ref_params}, x, mem, mask=mask))

  a, b = both()
  assert a.shape == (2, 5, 12)  # cross-attention: one output per query
  np.testing.assert_allclose(a, b, atol=1e-5)


def test_causal_and_padding_masks():
  np.testing.assert_array_equal(A.causal_mask(3), [[1, 0, 0], [1, 1, 0], [1, 1, 1]])
  tokens = jnp.array([[5, 6, 0, 0], [5, 0, 0, 0]])
  pad = A.padding_mask(tokens != 0)
  assert pad.shape == (2, 1, 1, 4)
  both = A.combine_masks(A.causal_mask(4), pad)
  assert both.shape == (2, 1, 4, 4)
  np.testing.assert_array_equal(both[0, 0, 3], [1, 1, 0, 0])
  np.testing.assert_array_equal(A.lengths_mask(jnp.array([1, 3]), 4), [[1, 0, 0, 0], [1, 1, 1, 0]])
  assert A.combine_masks(None, None) is None
  # Values behind a padding mask cannot influence the output.
  x = _normal(9, (2, 4, 8))
  mha = A.MultiHeadAttention(8, num_heads=2)
  variables = mha.init(jax.random.key(0), x)
  f = jax.jit(lambda k: mha.apply(variables, x, k, mask=pad))
  np.testing.assert_allclose(f(x), f(x.at[0, 2:].set(50.0)), atol=1e-5)


# ---------------------------------------------------------------------------------------------
# Positional encodings.
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("convention", A.PE_CONVENTIONS)
def test_sinusoidal_inner_product_between_i_and_i_plus_k_does_not_depend_on_i(convention):
  d = 32
  pe = A.sinusoidal_positional_encoding(200, d, convention).astype(np.float64)
  omega = A.sinusoidal_frequencies(d, convention)
  for k in (1, 5, 17):
    dots = np.einsum("td,td->t", pe[:-k], pe[k:])
    np.testing.assert_allclose(dots, np.sum(np.cos(omega * k)), atol=1e-4)
    # The notes' equidistance: ||P(i+k) - P(i)||² = Σ_j (2 - 2 cos(ω_j k)), the same for every i.
    dist = np.sum((pe[k:] - pe[:-k]) ** 2, axis=1)
    np.testing.assert_allclose(dist, np.sum(2 - 2 * np.cos(omega * k)), atol=1e-4)
  assert np.abs(pe).max() <= 1.0  # bounded
  assert len({tuple(np.round(r, 5)) for r in pe}) == len(pe)  # unique


def test_sinusoidal_conventions_differ_as_documented():
  vas = A.sinusoidal_positional_encoding(10, 8, "vaswani")
  notes = A.sinusoidal_positional_encoding(10, 8, "course_notes")
  np.testing.assert_allclose(vas[:, 0], np.sin(np.arange(10)), atol=1e-6)  # ω = 1 first
  np.testing.assert_allclose(notes[:, 0], np.sin(np.arange(10) / 10000 ** (2 / 8)), atol=1e-6)
  np.testing.assert_allclose(A.sinusoidal_frequencies(8, "course_notes")[-1], 1 / 10000.0)  # "last 1/10000^1"


def test_positional_encoding_modules():
  x = jnp.zeros((2, 6, 8))
  sin = A.positional_encoding("sinusoidal", max_len=16)
  np.testing.assert_allclose(sin.apply({}, x)[0], A.sinusoidal_positional_encoding(6, 8), atol=1e-7)
  np.testing.assert_allclose(sin.apply({}, x[:, :2], offset=3)[0], A.sinusoidal_positional_encoding(6, 8)[3:5], atol=1e-7)
  learned = A.positional_encoding("learned", max_len=16)
  variables = learned.init(jax.random.key(0), x)
  assert variables["params"]["embedding"].shape == (16, 8)
  np.testing.assert_allclose(learned.apply(variables, x)[1], variables["params"]["embedding"][:6])
  with pytest.raises(ValueError, match="exceeds max_len 4"):
    A.SinusoidalPositionalEncoding(max_len=4).apply({}, x)


# ---------------------------------------------------------------------------------------------
# Blocks.
# ---------------------------------------------------------------------------------------------


def _zero_sublayer_outputs(params):
  """Zero the output projection of every attention and MLP: each sublayer then returns 0."""
  def visit(path, leaf):
    names = [getattr(k, "key", "") for k in path]
    return jnp.zeros_like(leaf) if ("out" in names or "output" in names) else leaf
  return jax.tree_util.tree_map_with_path(visit, params)


def test_pre_and_post_norm_wiring():
  x = 3.0 * _normal(1, (2, 5, 8)) + 1.0
  for norm in ("pre", "post"):
    block = A.TransformerEncoderBlock(8, 2, 16, norm=norm)
    params = _zero_sublayer_outputs(block.init(jax.random.key(2), x)["params"])
    y = block.apply({"params": params}, x)
    if norm == "pre":  # x + sublayer(LN(x)) with sublayer = 0: the identity
      np.testing.assert_allclose(y, x, atol=1e-6)
    else:  # LN(x + 0) twice, with the initial scale 1 and bias 0
      ln = lambda a: (a - a.mean(-1, keepdims=True)) / jnp.sqrt(a.var(-1, keepdims=True) + A.LAYER_NORM_EPS)
      np.testing.assert_allclose(y, ln(ln(x)), atol=1e-5)


def test_decoder_is_causal_and_reads_the_memory():
  x, mem = _normal(3, (2, 6, 8)), _normal(4, (2, 3, 8))
  for norm in ("pre", "post"):
    dec = A.TransformerDecoder(2, 8, 2, 16, norm=norm)
    variables = dec.init(jax.random.key(5), x, mem)
    f = jax.jit(lambda x, m: dec.apply(variables, x, m))
    base = f(x, mem)
    later_changed = f(x.at[:, 4:].set(9.0), mem)
    np.testing.assert_allclose(base[:, :4], later_changed[:, :4], atol=1e-5)  # positions < 4 never see 4, 5
    assert float(jnp.abs(base[:, 4:] - later_changed[:, 4:]).max()) > 1e-3
    assert float(jnp.abs(f(x, mem + 1.0) - base).max()) > 1e-3  # cross-attention reads the memory


def test_dropout_only_in_training():
  x = _normal(6, (2, 5, 8))
  enc = A.TransformerEncoder(1, 8, 2, 16, dropout_rate=0.5, attention_dropout_rate=0.5)
  variables = enc.init(jax.random.key(0), x)
  f = jax.jit(lambda train, key: enc.apply(variables, x, train=train, rngs={"dropout": key}), static_argnums=0)
  np.testing.assert_array_equal(f(False, jax.random.key(1)), f(False, jax.random.key(2)))
  assert float(jnp.abs(f(True, jax.random.key(1)) - f(True, jax.random.key(2))).max()) > 1e-3


def test_attention_weights_are_sown_and_memory_claim():
  x = _normal(7, (1, 4, 8))
  mha = A.MultiHeadAttention(8, num_heads=2)
  variables = mha.init(jax.random.key(0), x)
  _, state = mha.apply(variables, x, mutable=["intermediates"])
  (weights,) = state["intermediates"]["attention_weights"]
  assert weights.shape == (1, 2, 4, 4)
  # "N×M alignment and attention scalars ... for a single self-attention head", measured: the
  # compiled program's temporary bytes as N = M doubles from 256 to 2048 (nothing runs).
  measured = memory_scaling((256, 512, 1024, 2048))
  for n in (256, 512, 1024):
    assert measured[2 * n] / measured[n] >= 3.5  # quadratic, not linear
  for n, temp in measured.items():
    # At least the (N, N) float32 weights the formula counts; not several copies of them.
    assert A.attention_memory_bytes(n, n) <= temp <= 3 * A.attention_memory_bytes(n, n)


@pytest.mark.parametrize("call,exc,pattern", [
    (lambda: A.MultiHeadAttention(10, num_heads=3).init(jax.random.key(0), jnp.zeros((1, 2, 10))), ConfigError,
     "embed_dim 10 must be divisible by num_heads 3"),
    (lambda: A.scaled_dot_product_attention(jnp.zeros((2, 3)), jnp.zeros((4, 5)), jnp.zeros((4, 5))), ValueError,
     "must share the last"),
    (lambda: A.scaled_dot_product_attention(jnp.zeros((2, 3)), jnp.zeros((4, 3)), jnp.zeros((4, 3)), jnp.ones((3, 4), bool)),
     ValueError, r"mask \(3, 4\) does not broadcast to the scores \(2, 4\)"),
    (lambda: A.sinusoidal_positional_encoding(4, 7), ConfigError, "positive even number"),
    (lambda: A.sinusoidal_positional_encoding(4, 8, "bert"), ConfigError, "convention"),
    (lambda: A.TransformerEncoderBlock(8, 2, 16, norm="sandwich").init(jax.random.key(0), jnp.zeros((1, 2, 8))), ConfigError,
     r"model.norm: expected one of \('pre', 'post'\)"),
    (lambda: A.positional_encoding("rotary", 8), ConfigError, "model.positional"),
])
def test_bad_input(call, exc, pattern):
  with pytest.raises(exc, match=pattern):
    call()
