"""Caption vocabulary (specials, <UNK>, overflow), BLEU against hand-computed cases, and the
course's CaptioningRNN contract (the notebooks' fixed-parameter losses, gradient checks)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from cs231n_jax.captioning import bleu as B
from cs231n_jax.captioning.course_model import CaptioningRNN
from cs231n_jax.captioning.vocab import END_ID, NULL_ID, SPECIALS, START_ID, UNK_ID, Vocabulary, tokenize
from cs231n_jax.errors import ConfigError, DataError
from cs231n_jax.gradcheck import eval_numerical_gradient, rel_error

# ---------------------------------------------------------------------------------------------
# Vocabulary.
# ---------------------------------------------------------------------------------------------


def test_vocabulary_specials_unknown_words_and_padding():
  v = Vocabulary.build(["a red circle", "a blue square", "A red square."])
  assert v.idx_to_word[:4] == SPECIALS == ("<NULL>", "<START>", "<END>", "<UNK>")
  assert v.idx_to_word[4] == "a"  # most frequent first
  ids = v.encode("a purple circle", max_length=7)
  np.testing.assert_array_equal(ids, [START_ID, v.word_to_idx["a"], UNK_ID, v.word_to_idx["circle"], END_ID, NULL_ID, NULL_ID])
  assert v.decode(ids) == "a <UNK> circle"
  assert v.decode([START_ID, v.word_to_idx["red"], END_ID, v.word_to_idx["blue"]]) == "red"  # stops at <END>
  assert tokenize("A red, circle!") == ["a", "red", "circle"]
  assert Vocabulary.from_json(v.to_json()) == v
  assert Vocabulary.build(["x y", "x"], min_count=2).encode("x y", 4)[2] == UNK_ID


def test_caption_longer_than_max_length_is_rejected_or_truncated_as_documented():
  v = Vocabulary.build(["a red circle above a blue square"])
  with pytest.raises(DataError, match=r"has 7 words but max_length 6 allows 4 \(plus <START> and <END>\)") as info:
    v.encode("a red circle above a blue square", max_length=6)
  assert "\n" not in str(info.value)
  cut = v.encode("a red circle above a blue square", max_length=6, overflow="truncate")
  assert v.decode(cut) == "a red circle above" and cut[-1] == END_ID
  with pytest.raises(ValueError, match="overflow"):
    v.encode("a", 5, overflow="drop")


@pytest.mark.parametrize("words,pattern", [
    (("<START>", "<NULL>", "<END>", "<UNK>", "a"), "first four words"),
    (SPECIALS + ("a", "a"), "distinct"),
])
def test_bad_vocabulary(words, pattern):
  with pytest.raises(DataError, match=pattern):
    Vocabulary(words)


def test_vocabulary_json_maps_must_agree():
  with pytest.raises(DataError, match="disagree"):
    Vocabulary.from_json({"idx_to_word": list(SPECIALS) + ["a"], "word_to_idx": {"a": 5}})


# ---------------------------------------------------------------------------------------------
# BLEU.
# ---------------------------------------------------------------------------------------------


def _w(s):
  return s.split()


def test_bleu_papineni_modified_precision_example():
  # Papineni et al. 2002, section 2.1: "the" x 7 against two references -> modified unigram
  # precision 2/7 (clipped to "the"'s maximum count in one reference).
  refs = [_w("the cat is on the mat"), _w("there is a cat on the mat")]
  out = B.corpus_bleu([_w("the the the the the the the")], [refs])
  assert out["precision1"] == pytest.approx(2 / 7)
  assert out["brevity_penalty"] == 1.0  # c = 7 > r = 6
  assert out["bleu1"] == pytest.approx(2 / 7)
  assert out["bleu2"] == 0.0  # no bigram matches


def test_bleu_by_hand_with_two_references():
  hyp = _w("a red circle below a blue square")
  refs = [_w("a red circle above a blue square"), _w("a blue square below a red circle")]
  out = B.corpus_bleu([hyp], [refs])
  # unigrams: a x2 (twice in each reference), red, circle, below (in ref 2), blue, square -> 7/7.
  assert out["precision1"] == pytest.approx(7 / 7)
  # bigrams: a red, red circle, [circle below], below a (ref 2), a blue, blue square -> 5/6.
  assert out["precision2"] == pytest.approx(5 / 6)
  # trigrams: a red circle, [red circle below], [circle below a], [below a blue], a blue square -> 2/5.
  assert out["precision3"] == pytest.approx(2 / 5)
  assert out["precision4"] == 0.0  # none of the four 4-grams occurs in either reference
  assert out["bleu2"] == pytest.approx(math.sqrt(5 / 6))
  assert out["bleu3"] == pytest.approx((5 / 6 * 2 / 5) ** (1 / 3))
  assert out["bleu4"] == 0.0
  assert B.corpus_bleu([refs[0]], [refs])["bleu4"] == pytest.approx(1.0)


def test_bleu_brevity_penalty_and_corpus_pooling():
  refs = [[_w("the cat is on the mat")]]
  out = B.corpus_bleu([_w("the cat")], refs)
  assert out["brevity_penalty"] == pytest.approx(math.exp(1 - 6 / 2))
  assert out["bleu2"] == pytest.approx(math.exp(-2))  # p1 = p2 = 1
  assert out["bleu3"] == 0.0  # a two-word hypothesis has no trigram
  # Corpus BLEU pools counts over sentences (it is not the mean of sentence scores).
  hyps = [_w("a b c d"), _w("a x")]
  refs2 = [[_w("a b c d")], [_w("a y")]]
  out = B.corpus_bleu(hyps, refs2)
  assert out["precision1"] == pytest.approx(5 / 6) and out["precision2"] == pytest.approx(3 / 4)
  assert out["precision3"] == pytest.approx(2 / 2) and out["precision4"] == pytest.approx(1 / 1)
  assert out["bleu4"] == pytest.approx((5 / 6 * 3 / 4) ** 0.25)
  # The closest reference length counts (ties: the shorter).
  assert B.closest_reference_length(5, [3, 7, 4, 6]) == 4
  with pytest.raises(ValueError, match="2 hypotheses but 1 reference lists"):
    B.corpus_bleu(hyps, refs2[:1])


# ---------------------------------------------------------------------------------------------
# The course's CaptioningRNN.
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("cell,features,expected", [
    ("rnn", (-1.5, 0.3), 9.83235591003),  # RNN_Captioning.ipynb
    ("lstm", (-0.5, 1.7), 9.82445935443),  # LSTM_Captioning.ipynb
])
def test_course_captioning_loss_with_fixed_parameters(cell, features, expected):
  N, D, W, H = 10, 20, 30, 40
  word_to_idx = {"<NULL>": 0, "cat": 2, "dog": 3}
  V, T = len(word_to_idx), 13
  model = CaptioningRNN(word_to_idx, input_dim=D, wordvec_dim=W, hidden_dim=H, cell_type=cell, dtype=np.float64)
  for k, v in model.params.items():
    model.params[k] = np.linspace(-1.4, 1.3, num=v.size).reshape(*v.shape)
  feats = np.linspace(*features, num=N * D).reshape(N, D)
  captions = (np.arange(N * T) % V).reshape(N, T)
  loss, grads = model.loss(feats, captions)
  assert abs(float(loss) - expected) < 1e-10
  assert set(grads) == set(model.params)


@pytest.mark.parametrize("cell", ["rnn", "lstm"])
def test_course_captioning_gradients_match_numerical(cell):
  # The notebooks' check: batch 2, 3 steps, input 4, word vectors 5, hidden 6, errors ~1e-7 or less.
  rng = np.random.default_rng(231)
  word_to_idx = {"<NULL>": 0, "cat": 2, "dog": 3}
  captions = rng.integers(len(word_to_idx), size=(2, 3))
  features = rng.standard_normal((2, 4))
  model = CaptioningRNN(word_to_idx, input_dim=4, wordvec_dim=5, hidden_dim=6, cell_type=cell, dtype=np.float64, seed=1)
  _, grads = model.loss(features, captions)
  for name in sorted(model.params):
    f = lambda _: float(model.loss(features, captions)[0])
    numerical = eval_numerical_gradient(f, model.params[name], verbose=False)
    assert rel_error(numerical, grads[name]) < 5e-6, name


def test_course_sample_is_greedy_from_start():
  word_to_idx = {"<NULL>": 0, "<START>": 1, "<END>": 2, "a": 3, "b": 4}
  model = CaptioningRNN(word_to_idx, input_dim=3, wordvec_dim=4, hidden_dim=5, cell_type="lstm", seed=0)
  feats = np.random.default_rng(0).standard_normal((2, 3)).astype(np.float32)
  out = model.sample(feats, max_length=6)
  assert out.shape == (2, 6) and out.dtype == np.int32
  # The first word by hand: h0 = f W_proj + b_proj, one LSTM step on <START>'s vector, argmax.
  from cs231n_jax import layers as L

  p = model.params
  h0 = feats @ p["W_proj"] + p["b_proj"]
  h1, _, _ = L.lstm_step_forward(p["W_embed"][[1, 1]], h0, np.zeros_like(h0), p["Wx"], p["Wh"], p["b"])
  np.testing.assert_array_equal(out[:, 0], np.argmax(np.asarray(h1) @ p["W_vocab"] + p["b_vocab"], axis=1))
  with pytest.raises(ConfigError, match="cell_type"):
    CaptioningRNN(word_to_idx, cell_type="gru")
