"""Why the course's LSTM captioner lost to the vanilla RNN on the scenes: with the forget-gate bias at
0 the image, read once as h0, fades from the cell at each step; with b_f = 1 it lasts as in the RNN."""

from __future__ import annotations

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
  return image_influence(model, model.init(jax.random.key(0), inputs, words), inputs, words)


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
