"""The four captioners and the decoders: teacher forcing equals stepping, greedy equals a
hand-written loop and stops at <END>, beam search beats greedy where it should and equals
exhaustive search, bad input."""

from __future__ import annotations

import itertools

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import cs231n_jax.captioning  # noqa: F401  (registers the captioners)
from cs231n_jax.captioning.decoding import make_beam_search, make_greedy_decoder
from cs231n_jax.captioning.vocab import END_ID, NULL_ID, START_ID
from cs231n_jax.errors import ConfigError
from cs231n_jax.models.registry import get_model, list_models

V, T = 9, 6


def _small(name):
  kwargs = {"transformer": dict(wordvec_dim=16, num_heads=2, num_layers=1, mlp_dim=32, dropout_rate=0.0, max_length=T)}
  return get_model(name, vocab_size=V, **kwargs.get(name, dict(wordvec_dim=8, hidden_dim=16,
                                                               **({"attention_dim": 8} if name == "attention_lstm" else {}))))


@pytest.mark.parametrize("name", list(list_models("caption")))
def test_teacher_forcing_equals_stepping_and_greedy_equals_a_python_loop(name):
  model = _small(name)
  feats = jax.random.normal(jax.random.key(0), (3, 4, 5))  # a (N, L, D) feature map: 4 locations
  captions = jax.random.randint(jax.random.key(1), (3, T), 0, V)

  @jax.jit
  def everything(key):
    variables = model.init(key, feats, captions)
    logits, attention = model.apply(variables, feats, captions)
    memory = model.apply(variables, feats, method=type(model).encode)
    carry = model.apply(variables, memory, method=type(model).initial_carry)
    stepped, prev = [], jnp.full((3,), START_ID, jnp.int32)
    greedy_carry, greedy = carry, []
    for t in range(T):  # by hand: teacher forcing word by word, and greedy feeding back
      step_logits, carry, _ = model.apply(variables, memory, carry, captions[:, t], t, method=type(model).step)
      stepped.append(step_logits)
      g_logits, greedy_carry, _ = model.apply(variables, memory, greedy_carry, prev, t, method=type(model).step)
      prev = jnp.argmax(g_logits, -1).astype(jnp.int32)
      greedy.append(prev)
    return variables, logits, attention, jnp.stack(stepped, 1), jnp.stack(greedy, 1)

  variables, logits, attention, stepped, greedy_by_hand = everything(jax.random.key(2))
  assert logits.shape == (3, T, V) and attention.shape == (3, T, 4)
  np.testing.assert_allclose(logits, stepped, atol=1e-4)
  if name == "attention_lstm":
    np.testing.assert_allclose(attention.sum(-1), 1.0, atol=1e-5)  # a distribution over locations
  words, _ = make_greedy_decoder(model, T)(variables, feats)
  # The decoder writes <NULL> after <END>; up to and including <END> it is the hand-written loop.
  for row, ref in zip(np.asarray(words), np.asarray(greedy_by_hand)):
    end = np.flatnonzero(ref == END_ID)
    stop = end[0] + 1 if len(end) else T
    np.testing.assert_array_equal(row[:stop], ref[:stop])
    assert np.all(row[stop:] == NULL_ID)
  beam1, _ = make_beam_search(model, T, 1)(variables, feats)
  np.testing.assert_array_equal(beam1, words)


class BigramLM(nn.Module):
  """A captioner whose next-word log-probabilities depend only on the previous word (a fixed
  table), so the best caption can be found by enumeration."""

  table: np.ndarray  # (V, V) log-probabilities, row = previous word

  def encode(self, inputs):
    return {"global": inputs, "spatial": inputs[:, None, :]}

  def initial_carry(self, memory):
    return jnp.zeros(memory["global"].shape[0], jnp.int32)

  def step(self, memory, carry, tokens, t):
    return jnp.asarray(self.table)[tokens], carry, jnp.zeros(memory["spatial"].shape[:2])

  def __call__(self, inputs):
    return inputs


def _table(probs: dict[int, dict[int, float]]) -> np.ndarray:
  logp = np.full((8, 8), -30.0)
  for prev, row in probs.items():
    for nxt, p in row.items():
      logp[prev, nxt] = np.log(p)
  return logp


A, B_, C, D = 4, 5, 6, 7


def test_beam_search_finds_what_greedy_misses():
  # From <START>: A 0.6, B 0.4. After A: C or D, 0.5 each. After B: <END>. After C, D: <END>.
  # Greedy: A C <END> with probability 0.3; the best caption is B <END> with 0.4.
  lm = BigramLM(_table({START_ID: {A: 0.6, B_: 0.4}, A: {C: 0.5, D: 0.5}, B_: {END_ID: 1.0}, C: {END_ID: 1.0}, D: {END_ID: 1.0}}))
  x = jnp.zeros((2, 1))
  greedy, _ = make_greedy_decoder(lm, 4)({}, x)
  np.testing.assert_array_equal(greedy[0], [A, C, END_ID, NULL_ID])
  best, score = make_beam_search(lm, 4, 2)({}, x)
  np.testing.assert_array_equal(best[0], [B_, END_ID, NULL_ID, NULL_ID])
  assert float(score[0]) == pytest.approx(np.log(0.4), abs=1e-5)


def test_wide_beam_equals_exhaustive_search():
  rng = np.random.default_rng(0)
  logits = rng.standard_normal((8, 8)) * 2
  logits[:, NULL_ID] = logits[:, START_ID] = logits[:, 3] = -30.0  # never emitted mid-caption
  table = logits - np.log(np.exp(logits).sum(1, keepdims=True))
  lm = BigramLM(table)
  length = 3
  best, score = make_beam_search(lm, length, 8 ** 2)({}, jnp.zeros((1, 1)))
  # Enumerate every caption of at most `length` words (a caption ends at <END> or at the limit).
  candidates = []
  words = [w for w in range(8) if w not in (NULL_ID, START_ID, 3)]
  for n in range(1, length + 1):
    for seq in itertools.product(words, repeat=n):
      if END_ID in seq[:-1]:
        continue
      prev, lp = START_ID, 0.0
      for w in seq:
        lp, prev = lp + table[prev, w], w
      candidates.append((lp, seq))
  finished = [(lp, s) for lp, s in candidates if s[-1] == END_ID or len(s) == length]
  lp, seq = max(finished)
  assert float(score[0]) == pytest.approx(lp, abs=1e-4)
  np.testing.assert_array_equal(best[0][:len(seq)], seq)


def test_length_penalty_prefers_longer_captions():
  # START -> END 0.5 (one word) or -> A 0.5 then END 0.9 (two words: 0.45 in total).
  lm = BigramLM(_table({START_ID: {END_ID: 0.5, A: 0.5}, A: {END_ID: 0.9, C: 0.1}, C: {END_ID: 1.0}}))
  x = jnp.zeros((1, 1))
  plain, _ = make_beam_search(lm, 3, 3)({}, x)
  assert int(plain[0, 0]) == END_ID
  normalised, _ = make_beam_search(lm, 3, 3, length_penalty=1.0)({}, x)  # log p / length
  np.testing.assert_array_equal(normalised[0], [A, END_ID, NULL_ID])


def test_images_go_through_the_cnn_and_shapes():
  model = get_model("attention_lstm", vocab_size=V, wordvec_dim=8, hidden_dim=8, attention_dim=8,
                    encoder_channels=(4, 8), feature_dim=8, global_dim=16)
  images = jax.random.uniform(jax.random.key(0), (2, 16, 16, 3))
  captions = jnp.ones((2, 5), jnp.int32)
  variables = jax.eval_shape(model.init, jax.random.key(1), images, captions)  # shapes only
  assert variables["params"]["encoder"]["locations"].shape == (16, 8)  # 16x16 -> 4x4 map
  assert variables["params"]["encoder"]["fc"]["kernel"].shape == (4 * 4 * 8, 16)


@pytest.mark.parametrize("call,exc,pattern", [
    (lambda: get_model("gru_captioner", vocab_size=V), ValueError, "model.name: unknown model"),
    (lambda: get_model("rnn", vocab_size=V, attention_dim=3), ValueError, "model.attention_dim: rnn has no such argument"),
    (lambda: _small("lstm").init(jax.random.key(0), jnp.zeros((2, 3, 4, 5, 6)), jnp.zeros((2, 3), jnp.int32)),
     ValueError, r"expected images \(N, H, W, C\), features \(N, D\) or \(N, L, D\)"),
    (lambda: _small("lstm").init(jax.random.key(0), jnp.zeros((2, 4)), jnp.zeros((2,), jnp.int32)),
     ValueError, r"captions_in: expected \(N, T\)"),
    (lambda: _small("transformer").init(jax.random.key(0), jnp.zeros((2, 4)), jnp.zeros((2, T + 1), jnp.int32)),
     ValueError, "exceed the model's max_length 6"),
    (lambda: get_model("attention_lstm", vocab_size=V, attention="additive").init(
        jax.random.key(0), jnp.zeros((2, 4)), jnp.zeros((2, 3), jnp.int32)), ConfigError, "model.attention"),
    (lambda: make_beam_search(_small("rnn"), 5, 0), ValueError, "beam_size"),
])
def test_bad_input(call, exc, pattern):
  with pytest.raises(exc, match=pattern):
    call()
