"""Why the course's LSTM captioner lost to the vanilla RNN on the scenes: with the forget-gate bias at
0 the image, read once as h0, fades from the cell at each step; with b_f = 1 it lasts as in the RNN."""

from __future__ import annotations

import functools

import jax
import numpy as np
import pytest

import cs231n_jax.captioning  # noqa: F401  (registers the captioners)
from cs231n_jax.captioning.evaluation import image_influence
from cs231n_jax.errors import ConfigError
from cs231n_jax.models.registry import get_model

V, D, N, T = 20, 32, 8, 8


def _influence(name, **kw):
  inputs = jax.random.normal(jax.random.key(0), (N, D))
  words = jax.random.randint(jax.random.key(1), (N, T), 0, V)
  model = get_model(name, vocab_size=V, wordvec_dim=16, hidden_dim=64, **kw)
  return image_influence(model, jax.jit(model.init)(jax.random.key(0), inputs, words), inputs, words)


def test_forget_bias_keeps_the_image_as_long_as_the_rnn():
  course = _influence("lstm", forget_bias=0.0)
  opened = _influence("lstm", forget_bias=1.0)
  rnn = _influence("rnn")
  assert course[0] == opened[0] == 1.0
  # At the 7th word (t = 6): b_f = 0 keeps several times less of the image than the RNN; b_f = 1 as much.
  assert course[6] < 0.3 * rnn[6]
  assert opened[6] > 0.6 * rnn[6] and opened[6] > 3 * course[6]


def test_projected_initial_cell_and_bad_value():
  model = get_model("lstm", vocab_size=V, wordvec_dim=8, hidden_dim=16, initial_cell="projected")
  inputs, words = np.ones((2, D), np.float32), np.zeros((2, 3), np.int32)
  variables = model.init(jax.random.key(0), inputs, words)
  assert "W_proj_c" in variables["params"]
  c0, h0 = model.apply(variables, inputs, method=lambda m, x: m.initial_carry(m.encode(x)))
  assert float(np.abs(c0).sum()) > 0 and c0.shape == h0.shape == (2, 16)
  with pytest.raises(ConfigError, match="model.initial_cell: expected one of"):
    get_model("lstm", vocab_size=V, initial_cell="image").init(jax.random.key(0), inputs, words)



@functools.cache
def _attention_lstm(query):
  """An attention LSTM (``attention_query=query``), (N, L, D) annotation vectors and its variables."""
  model = get_model("attention_lstm", vocab_size=V, wordvec_dim=8, hidden_dim=16, attention_dim=8, attention_query=query)
  feats = jax.random.normal(jax.random.key(0), (3, 4, D))
  return model, feats, jax.jit(model.init)(jax.random.key(1), feats, np.zeros((3, 2), np.int32))


def test_attention_lstm_starts_as_show_attend_and_tell():
  """The attention captioner already has both fixes: b_f = 1 in its LSTM cell, and (c0, h0) =
  tanh of two Dense layers of the mean annotation vector (Xu et al. 2015)."""
  model, feats, variables = _attention_lstm("state")  # the default query
  p, H = variables["params"], model.hidden_dim
  b = np.asarray(p["lstm"]["b"])  # gate blocks i, f, o, g
  np.testing.assert_array_equal(b[H:2 * H], 1.0)
  np.testing.assert_array_equal(np.delete(b, np.s_[H:2 * H]), 0.0)
  c0, h0 = model.apply(variables, feats, method=lambda m, x: m.initial_carry(m.encode(x)))
  mean = np.asarray(feats).mean(axis=1)
  dense = lambda q: np.tanh(mean @ np.asarray(q["kernel"]) + np.asarray(q["bias"]))
  np.testing.assert_allclose(c0, dense(p["init_c"]), atol=1e-5)
  np.testing.assert_allclose(h0, dense(p["init_h"]), atol=1e-5)
  assert float(np.abs(c0[0] - c0[1]).max()) > 1e-2  # the cell starts from the image, not from 0


@pytest.mark.parametrize("query", ["state", "state_word"])
def test_attention_query_reads_the_word_just_written_only_with_state_word(query):
  model, feats, variables = _attention_lstm(query)
  assert ("word_query" in variables["params"]) == (query == "state_word")

  def weights(m, x, tokens):
    memory = m.encode(x)
    return m.step(memory, m.initial_carry(memory), tokens, 0)[2]

  # Same image, same state: only the word just read differs.
  p1, p2 = (model.apply(variables, feats, np.full((3,), w, np.int32), method=weights) for w in (3, 7))
  np.testing.assert_allclose(p1.sum(-1), 1.0, atol=1e-5)
  if query == "state":
    np.testing.assert_array_equal(p1, p2)  # Xu et al.: z_t from h_{t-1} alone
    with pytest.raises(ConfigError, match="model.attention_query: expected one of"):
      get_model("attention_lstm", vocab_size=V, attention_query="word").init(jax.random.key(0), feats, np.zeros((3, 2), np.int32))
  else:
    assert float(np.abs(p1 - p2).max()) > 1e-4
