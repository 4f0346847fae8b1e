"""The interpolated Kneser-Ney n-gram (a hand computation, normalisation, against add-k on pydoc) and
the character-level causal transformer (causality, the carried window, one engine run)."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from cs231n_jax.tasks import char_lm as L
from cs231n_jax.text import corpus as C
from cs231n_jax.text import ngram as G
from cs231n_jax.text.transformer import CharTransformer, window_positions

# ---------------------------------------------------------------------------------------------
# Kneser-Ney.
# ---------------------------------------------------------------------------------------------


def test_kneser_ney_bigram_by_hand():
  # Train "abab" (a=0, b=1, c=2 never seen; V = 3), order 2; histories begin-padded (BOS).
  # Unigram level, continuation counts N1+(• w) over the bigrams {BOS a, a b, b a}: a 2, b 1, c 0;
  # A = 3, N1+ = 2 types, D1 = n1 / (n1 + 2 n2) = 1 / 3, then interpolated with 1/3 uniform:
  # P1(a) = (2 - 1/3)/3 + (1/3)(2/3)(1/3) = 17/27, P1(b) = 8/27, P1(c) = 2/27.
  # Bigram level, raw counts: (BOS a) 1, (a b) 2, (b a) 1: D2 = 2 / (2 + 2) = 1/2;
  # after "a": A = 2, one type: P(b|a) = (2 - 1/2)/2 + (1/2)(1/2) P1(b), P(w|a) = (1/4) P1(w) otherwise.
  model = G.KneserNeyModel(np.array([0, 1, 0, 1]), 2, 3)
  assert model.discounts == pytest.approx((1 / 3, 1 / 2))
  p1 = np.array([17, 8, 2]) / 27
  np.testing.assert_allclose(model.distribution([2]), p1, rtol=1e-12)  # unseen history: the unigram level
  np.testing.assert_allclose(model.distribution([0]), [p1[0] / 4, 0.75 + p1[1] / 4, p1[2] / 4], rtol=1e-12)
  # Scoring "ab": b after a.
  assert model.bits_per_char(np.array([0, 1])) == pytest.approx(-math.log2(0.75 + p1[1] / 4))


@pytest.mark.parametrize("order", [1, 3, 5])
def test_kneser_ney_distributions_sum_to_one(order):
  rng = np.random.default_rng(order)
  vocab = 7  # symbol 6 never occurs in training
  model = G.KneserNeyModel(rng.integers(0, 6, 500), order, vocab)
  for _ in range(20):
    p = model.distribution(rng.integers(0, vocab, rng.integers(0, 8)))
    assert p.shape == (vocab,) and np.all(p > 0) and p.sum() == pytest.approx(1.0, abs=1e-12)
  # Scoring a text equals reading its characters' probabilities off the distributions.
  text = rng.integers(0, vocab, 12)
  direct = [math.log2(model.distribution(text[:t])[text[t]]) for t in range(1, len(text))]
  np.testing.assert_allclose(model.log2_probs(text), direct, rtol=1e-12)


def test_kneser_ney_beats_add_k_on_pydoc():
  corpus = C.load_pydoc_corpus()
  add_k = G.ngram_baselines(corpus, orders=(5,))["5-gram"]["test_bits"]
  kn = G.kneser_ney_baselines(corpus, orders=(5,))["KN 5-gram"]["test_bits"]
  assert kn < add_k - 0.2  # measured: 1.837 vs 2.276


def test_bad_kneser_ney_input():
  with pytest.raises(ValueError, match="order must be at least 1"):
    G.KneserNeyModel(np.array([0, 1]), 0, 2)
  with pytest.raises(ValueError, match="no training text"):
    G.KneserNeyModel(np.array([], np.int64), 2, 2)


# ---------------------------------------------------------------------------------------------
# The character transformer.
# ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tiny_transformer():
  model = CharTransformer(vocab_size=11, embed_dim=16, num_layers=2, num_heads=2, mlp_dim=32, memory=16)
  params = model.init(jax.random.key(0), jnp.zeros((1, 1), jnp.int32))["params"]
  return model, params, jax.jit(model.apply)


def test_char_transformer_is_causal(tiny_transformer):
  _, params, apply = tiny_transformer
  tokens = jax.random.randint(jax.random.key(1), (3, 12), 0, 11)
  _, logits = apply({"params": params}, tokens)
  changed = tokens.at[:, 6].set((tokens[:, 6] + 1) % 11)
  _, logits2 = apply({"params": params}, changed)
  np.testing.assert_allclose(logits[:, :6], logits2[:, :6], atol=1e-6)  # the past does not see the future
  assert float(jnp.max(jnp.abs(logits[:, 6:] - logits2[:, 6:]))) > 1e-3


def test_char_transformer_carried_window_equals_one_pass(tiny_transformer):
  # With a memory as long as the text, reading it in chunks (the window carried) is reading it at once,
  # and the positions count from the text's first character in both.
  model, params, apply = tiny_transformer
  tokens = jax.random.randint(jax.random.key(2), (3, 12), 0, 11)
  _, whole = apply({"params": params}, tokens)  # (the causality test's compiled shape)
  carry, first = apply({"params": params}, tokens[:, :6], model.initial_carries(3))
  carry, second = apply({"params": params}, tokens[:, 6:], carry)
  np.testing.assert_allclose(jnp.concatenate([first, second], axis=1), whole, atol=2e-5)
  np.testing.assert_array_equal(carry["tokens"][:, -12:], tokens)
  assert int(carry["valid"].sum()) == 3 * 12
  np.testing.assert_array_equal(window_positions(jnp.array([[0, 0, 1, 1, 1]])), [[0, 0, 0, 1, 2]])


@pytest.mark.slow
def test_char_transformer_trains_through_the_char_lm_task(tmp_path):
  c = L.base_config()
  c.model = L.ml_collections.ConfigDict({"name": "char_transformer", "embed_dim": 16, "num_layers": 1, "num_heads": 2,
                                         "mlp_dim": 32, "memory": 8, "dropout_rate": 0.0})
  c.optimizer.learning_rate = 3e-3
  c.train.update(batch_size=4, seq_length=8, num_steps=6, eval_every=6, log_every=3, checkpoint_every=6,
                 eval_chunk=8, progress=False)
  c.sample.update(length=10, temperatures=(0.5, 1.0, 1.5))
  c.ngram_orders, c.kneser_ney_orders = (1, 2), (2, 3)
  c.cells.enabled = False
  path = tmp_path / "text.txt"
  path.write_text(C.pydoc_text()[:3000])
  c.data.name, c.data.path = "file", str(path)
  results = L.run(c, str(tmp_path / "run"))
  assert results["steps"] == 6 and results["test_bits_per_char"] < math.log2(results["corpus"]["vocab_size"])
  assert set(results["samples"]) == {"0.5", "1.0", "1.5"}
  assert results["best_kneser_ney"] in ("KN 2-gram", "KN 3-gram") and "KN 3-gram" in results["ngram"]
  with pytest.raises(L.ConfigError, match="model.name: expected 'char_lm' or 'char_transformer'"):
    L.build_model(L.ml_collections.ConfigDict({"name": "gpt"}), 10)
