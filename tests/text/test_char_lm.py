"""The character language model: corpus and vocabulary, n-gram baselines, the min-char-rnn port,
the temperature sampler, the char-LM task (stream windows, the gist's data pointer, one-stream
evaluation, the runner: resume, vocabulary mismatch, evaluation from checkpoints) and bad input.
The engine-versus-reference-loop checks are in test_char_lm_task.py."""

from __future__ import annotations

import math
from collections import Counter

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from cs231n_jax.errors import CheckpointError, ConfigError, DataError
from cs231n_jax.gradcheck import grad_check_sparse, rel_error
from cs231n_jax.tasks import char_lm as L
from cs231n_jax.text import corpus as C
from cs231n_jax.text import min_char_rnn as M
from cs231n_jax.text import ngram as G
from cs231n_jax.text.model import CharLM
from cs231n_jax.text.sample import make_sampler, pick
from cs231n_jax.train.metrics import read_jsonl


@pytest.fixture(scope="module")
def pydoc():
  return C.load_pydoc_corpus()


# ---------------------------------------------------------------------------------------------
# Corpus and vocabulary.
# ---------------------------------------------------------------------------------------------


def test_pydoc_corpus_splits_and_vocabulary(pydoc):
  text = C.pydoc_text()
  assert len(pydoc.train) + len(pydoc.val) + len(pydoc.test) == len(text)
  assert abs(len(pydoc.test) / len(text) - 0.10) < 1e-4 and abs(len(pydoc.val) / len(text) - 0.05) < 1e-4
  # Contiguous, in order: the held-out text is the end of the corpus.
  assert pydoc.vocab.decode(pydoc.test[-50:]) == text[-50:]
  assert pydoc.vocab.chars == tuple(sorted(set(text[:len(pydoc.train)])))  # from training text only
  assert pydoc.vocab.size == len(pydoc.vocab.chars) + 1


def test_unknown_characters_and_round_trip():
  corpus = C.corpus_from_text("abcabcabcabcabcabcabXY", val_fraction=0.1, test_fraction=0.1)
  assert corpus.vocab.chars == ("a", "b", "c")
  assert corpus.vocab.decode(corpus.val) == "ab" and corpus.vocab.decode(corpus.test) == C.UNKNOWN_CHAR * 2
  assert corpus.unknown_counts() == {"train": 0, "val": 0, "test": 2}
  v = corpus.vocab
  assert v.decode(v.encode("cab")) == "cab"
  assert C.CharVocab.from_json(v.to_json()) == v and v.fingerprint() != C.CharVocab(("a", "b", "d")).fingerprint()


@pytest.mark.parametrize("call,pattern", [
    (lambda: C.corpus_from_text(""), "the text is empty"),
    (lambda: C.corpus_from_text("abcd"), r"the val split has 0 characters .* the text has only 4"),
    (lambda: C.split_text("abc", val_fraction=0.6, test_fraction=0.5), "must leave training text"),
    (lambda: C.load_corpus({"name": "file", "path": "/nonexistent.txt"}), "data.path: no such text file"),
    (lambda: C.load_corpus({"name": "shakespeare"}), "data.name: expected one of"),
])
def test_bad_corpus_is_a_one_line_data_error(call, pattern):
  with pytest.raises(DataError, match=pattern) as info:
    call()
  assert "\n" not in str(info.value)


# ---------------------------------------------------------------------------------------------
# n-gram baselines.
# ---------------------------------------------------------------------------------------------


def _brute_force_bits(train, test, order, vocab_size, k):
  """A dictionary n-gram, written the slow obvious way."""
  bos = vocab_size
  pad = lambda ids: [bos] * (order - 1) + list(ids)
  ctx_counts, pair_counts = Counter(), Counter()
  padded = pad(train)
  for t in range(len(train)):
    ctx = tuple(padded[t:t + order - 1])
    ctx_counts[ctx] += 1
    pair_counts[ctx + (train[t],)] += 1
  padded = pad(test)
  total = 0.0
  for t in range(1, len(test)):
    ctx = tuple(padded[t:t + order - 1])
    total -= math.log2((pair_counts[ctx + (test[t],)] + k) / (ctx_counts[ctx] + k * vocab_size))
  return total / (len(test) - 1)


@pytest.mark.parametrize("order", [1, 2, 3, 4])
def test_ngram_counts_equal_a_brute_force_model(order):
  rng = np.random.default_rng(order)
  train, test = rng.integers(0, 5, 300), rng.integers(0, 5, 60)
  model = G.NGramModel.fit(train, order, 6)
  assert model.bits_per_char(test, 0.1) == pytest.approx(_brute_force_bits(train, test, order, 6, 0.1), rel=1e-10)


def test_ngram_by_hand():
  # Train "abab" (a=0, b=1), V = 2, bigram, k = 1. Contexts: BOS->a, a->b, b->a, a->b.
  model = G.NGramModel.fit(np.array([0, 1, 0, 1]), 2, 2)
  # Scoring "ab": position 1 predicts b after a: (2 + 1) / (2 + 2) = 3/4.
  assert model.bits_per_char(np.array([0, 1]), 1.0) == pytest.approx(-math.log2(0.75))
  # "ba": a after b: (1 + 1) / (1 + 2) = 2/3.
  assert model.bits_per_char(np.array([1, 0]), 1.0) == pytest.approx(-math.log2(2 / 3))


def test_pydoc_baselines_improve_with_order_up_to_four(pydoc):
  b = G.ngram_baselines(pydoc, orders=(1, 2, 3, 4))
  tests = [b[n]["test_bits"] for n in ("uniform", "1-gram", "2-gram", "3-gram", "4-gram")]
  assert tests == sorted(tests, reverse=True)
  assert b["uniform"]["test_bits"] == pytest.approx(math.log2(pydoc.vocab.size))
  assert all(b[f"{n}-gram"]["k"] in G.SMOOTHING_GRID for n in (1, 2, 3, 4))
  assert "| 4-gram |" in G.baseline_table(b)


# ---------------------------------------------------------------------------------------------
# min-char-rnn.
# ---------------------------------------------------------------------------------------------


def _perturbed_params(vocab, hidden, dtype):
  p = M.init_params(jax.random.key(0), vocab, hidden, dtype)
  keys = iter(jax.random.split(jax.random.key(1), 5))
  return jax.tree.map(lambda a: a + 0.3 * jax.random.normal(next(keys), a.shape, a.dtype), p)


def test_min_char_rnn_hand_written_backward_equals_autodiff_and_numerical():
  inputs, targets = jnp.array([1, 2, 3, 4, 5, 6, 0, 1, 1]), jnp.array([2, 3, 4, 5, 6, 0, 1, 1, 2])
  with jax.enable_x64(True):
    params = _perturbed_params(7, 5, jnp.float64)
    h = jnp.linspace(-0.5, 0.5, 5)
    loss, grads, h_last = jax.jit(lambda p: M.loss_fun(p, inputs, targets, h, clip=None))(params)
    auto = jax.jit(jax.grad(lambda p: M.forward_loss(p, inputs, targets, h)[0]))(params)
    f_loss = jax.jit(lambda p: M.forward_loss(p, inputs, targets, h)[0])
    for name in M.PARAM_NAMES:
      assert rel_error(grads[name], auto[name]) < 1e-10, name
      value = np.array(params[name])
      f = lambda v, name=name: f_loss({**params, name: jnp.asarray(v)})
      errors = grad_check_sparse(f, value, np.asarray(grads[name]), num_checks=5, seed=0, verbose=False)
      assert max(errors) < 1e-7, name
    assert float(loss) == pytest.approx(float(M.forward_loss(params, inputs, targets, h)[0]))


def test_min_char_rnn_clips_every_entry_and_adagrad_is_the_gists():
  inputs, targets = jnp.arange(6) % 4, (jnp.arange(6) + 1) % 4
  params = jax.tree.map(lambda a: 40.0 * a, _perturbed_params(4, 3, jnp.float32))  # saturate: big gradients
  _, raw, _ = M.loss_fun(params, inputs, targets, jnp.zeros(3), clip=None)
  _, clipped, _ = M.loss_fun(params, inputs, targets, jnp.zeros(3))
  assert max(float(jnp.abs(g).max()) for g in jax.tree.leaves(raw)) > M.CLIP
  assert max(float(jnp.abs(g).max()) for g in jax.tree.leaves(clipped)) <= M.CLIP
  # One Adagrad step against numpy: mem += g²; p += -lr g / sqrt(mem + 1e-8).
  memory = jax.tree.map(lambda a: jnp.full_like(a, 0.5), params)
  new, new_mem = M.adagrad_update(params, clipped, memory)
  for name in M.PARAM_NAMES:
    p, g, m = (np.asarray(x[name], np.float64) for x in (params, clipped, memory))
    np.testing.assert_allclose(new_mem[name], m + g * g, rtol=1e-6)
    np.testing.assert_allclose(new[name], p - 0.1 * g / np.sqrt(m + g * g + 1e-8), rtol=1e-5, atol=1e-6)


def test_min_char_rnn_initial_loss_is_seq_length_log_vocab(pydoc):
  # smooth_loss starts at -log(1/V) * seq_length: with weights of 0.01 every character is ~uniform.
  state = M.initial_state(jax.random.key(0), pydoc.vocab.size)
  loss, _, _ = jax.jit(M.loss_fun)(state["params"], jnp.asarray(pydoc.train[:25]), jnp.asarray(pydoc.train[1:26]),
                                   state["hprev"])
  expected = 25 * math.log(pydoc.vocab.size)
  assert abs(float(loss) - expected) / expected < 0.02
  assert float(state["smooth_loss"]) == pytest.approx(expected, rel=1e-6)


def test_hello_toy_needs_the_hidden_state():
  # Lecture 10: vocabulary [h, e, l, o], training sequence "hello". After 'l' the next letter is 'l'
  # once and 'o' once — only the hidden state can tell them apart.
  chars = "helo"
  data = np.array([chars.index(c) for c in "hello"], np.int32)
  step = jax.jit(L.min_char_rnn_task(4, seq_length=4).train_step)  # 600 iterations per step, compiled once
  for seed in range(5):
    state = M.initial_state(jax.random.key(seed), 4, seq_length=4)
    state, _ = step(state, next(L.GistBatcher(data, seq_length=4, chunks_per_step=600)), jax.random.key(0))
    greedy = M.sample(state["params"], jnp.zeros(M.HIDDEN_SIZE), chars.index("h"), 4, jax.random.key(0), temperature=0.0)
    assert "".join(chars[int(i)] for i in greedy) == "ello", seed
    loss, _ = M.forward_loss(state["params"], data[:-1], data[1:], jnp.zeros(M.HIDDEN_SIZE))
    assert float(loss) < 0.05


# ---------------------------------------------------------------------------------------------
# Sampling with temperature.
# ---------------------------------------------------------------------------------------------


def test_pick_follows_the_tempered_distribution_and_zero_is_argmax():
  logits = jnp.array([2.0, 1.0, 0.0, -1.0])
  keys = jax.random.split(jax.random.key(0), 20000)
  for temperature in (0.5, 1.0, 2.0):
    draws = jax.vmap(lambda k: pick(logits, k, jnp.float32(temperature)))(keys)
    freq = np.bincount(np.asarray(draws), minlength=4) / len(keys)
    np.testing.assert_allclose(freq, jax.nn.softmax(logits / temperature), atol=0.015)
  assert int(pick(logits, keys[0], jnp.float32(0.0))) == 0


def test_sampler_feeds_back_and_greedy_matches_a_step_loop():
  model = CharLM(vocab_size=6, cell="gru", hidden_size=8, embed_dim=4)
  params = model.init(jax.random.key(0), jnp.zeros((1, 1), jnp.int32))["params"]
  sampler = make_sampler(model, 5)
  prime = jnp.array([[1, 2, 3], [4, 0, 5]])
  greedy = sampler(params, prime, jax.random.key(1), 0.0)
  assert greedy.shape == (2, 5)
  np.testing.assert_array_equal(greedy, sampler(params, prime, jax.random.key(2), 0.0))
  # The same by hand: the whole sequence so far through the model, argmax of the scores at its last character.
  # The model is causal, so the scores at position p of a zero-padded (2, 8) sequence are those of its first p + 1
  # characters: one compiled shape for the five steps.
  scores = jax.jit(lambda seq: model.apply({"params": params}, seq, model.initial_carries(2))[1])
  seq = jnp.concatenate([prime, jnp.zeros((2, 5), jnp.int32)], axis=1)
  for p in range(3, 8):
    seq = seq.at[:, p].set(jnp.argmax(scores(seq)[:, p - 1], -1).astype(jnp.int32))
  np.testing.assert_array_equal(greedy, seq[:, 3:])
  hot = sampler(params, prime, jax.random.key(3), 5.0)
  assert hot.min() >= 0 and hot.max() < 6


# ---------------------------------------------------------------------------------------------
# The char-LM task: data, evaluation, runners.
# ---------------------------------------------------------------------------------------------


def test_stream_batcher_windows_overlap_by_one_and_reset_each_epoch():
  b = L.StreamBatcher(np.arange(40), batch_size=2, seq_length=4, chunks_per_step=3)  # streams 0..19 and 20..39
  assert b.windows_per_epoch == 4 and b.steps_per_epoch == 1
  first, second = next(b), next(b)
  assert first["tokens"].shape == (2, 3, 5) and first["reset"].shape == (2, 3)  # streams first
  np.testing.assert_array_equal(first["tokens"][:, 0], [[0, 1, 2, 3, 4], [20, 21, 22, 23, 24]])
  np.testing.assert_array_equal(first["tokens"][0, 1], [4, 5, 6, 7, 8])  # starts where the last ended
  np.testing.assert_array_equal(first["reset"], [[True, False, False]] * 2)
  np.testing.assert_array_equal(second["reset"], [[False, True, False]] * 2)  # window 4, then a new epoch
  np.testing.assert_array_equal(second["tokens"][:, 1], first["tokens"][:, 0])
  state = b.state()
  b2 = L.StreamBatcher(np.arange(40), 2, 4, 3)
  b2.restore(state)
  np.testing.assert_array_equal(next(b2)["tokens"], next(b)["tokens"])
  # Two processes: each reads its own stream.
  mine = L.StreamBatcher(np.arange(40), 2, 4, 1, process_index=1, process_count=2)
  np.testing.assert_array_equal(next(mine)["tokens"], [[[20, 21, 22, 23, 24]]])
  with pytest.raises(ConfigError, match="need 12 training characters, the corpus has 10"):
    L.StreamBatcher(np.arange(10), 2, 5)


def test_gist_batcher_moves_the_pointer_and_restarts_as_the_gist_does():
  b = L.GistBatcher(np.arange(12), seq_length=4, chunks_per_step=3)
  batch = next(b)
  # n = 0 restarts; p = 4 fits (4 + 5 < 12); p = 8 does not (8 + 5 >= 12): back to 0, hprev reset.
  np.testing.assert_array_equal(batch["window"][0], [[0, 1, 2, 3, 4], [4, 5, 6, 7, 8], [0, 1, 2, 3, 4]])
  np.testing.assert_array_equal(batch["restart"], [[True, False, True]])
  assert b.state()["pointer"] == 4 and b.state()["iteration"] == 3


def test_one_stream_evaluation_equals_one_pass_over_the_sequence():
  model = CharLM(vocab_size=5, cell="lstm", hidden_size=6)
  task = L.char_lm_task(model, optax.sgd(0.1), batch_size=1)
  state = task.init(jax.random.key(0), None)
  ids = np.asarray(jax.random.randint(jax.random.key(1), (23,), 0, 5))
  # 22 predictions in 5 windows of 5, padded to 7 windows and to a second (empty) row.
  batch = L.stream_eval_batch(ids, chunk=5, num_windows=7, rows=2)
  sums = jax.jit(task.eval_step)(state, batch)
  _, logits = jax.jit(model.apply)({"params": state["params"]}, ids[None, :-1], model.initial_carries(1))
  direct = -jnp.sum(jax.nn.log_softmax(logits[0])[jnp.arange(22), ids[1:]])
  assert float(sums["count"]) == 22
  assert float(sums["nats_sum"]) == pytest.approx(float(direct), rel=1e-5)
  assert L.bits_summary(sums)["bits_per_char"] == pytest.approx(float(direct) / 22 / math.log(2), rel=1e-5)
  # The gist's model, the same way.
  gist = L.min_char_rnn_task(5, hidden_size=6)
  gstate = gist.init(jax.random.key(2), None)
  sums = jax.jit(gist.eval_step)(gstate, batch)
  loss, _ = M.forward_loss(gstate["params"], ids[:-1], ids[1:], jnp.zeros(6))
  assert float(sums["nats_sum"]) == pytest.approx(float(loss), rel=1e-5)


def _tiny_config():
  c = L.base_config()
  c.model.update(cell="gru", hidden_size=16, embed_dim=8)  # (the LSTM-only cells figure is tested in colab/07)
  c.train.update(batch_size=4, seq_length=16, num_steps=4, chunks_per_step=2, eval_every=2, log_every=2,
                 checkpoint_every=2, eval_chunk=256, progress=False)
  c.sample.length = 20
  c.ngram_orders = (1, 2)
  return c


@pytest.mark.slow
def test_char_lm_runner_trains_resumes_and_refuses_another_vocabulary(tmp_path):
  c = _tiny_config()
  text = (C.pydoc_text()[:6000])
  path = tmp_path / "text.txt"
  path.write_text(text)
  c.data.name, c.data.path = "file", str(path)
  results = L.run(c, str(tmp_path / "run"))
  assert results["steps"] == 4 and results["updates"] == 8
  assert results["test_bits_per_char"] < math.log2(results["corpus"]["vocab_size"])
  assert set(results["samples"]) == {"0.5", "1.0"} and results["samples"]["0.5"].startswith("The ")
  assert results["best_ngram"] == "2-gram" and "train_sample_bits_per_char" in results
  for name in ("results.json", "samples.txt", "bits_per_char.png", "metrics.jsonl"):
    assert (tmp_path / "run" / name).exists(), name
  # `eval` reads the best parameters back from the checkpoints.
  again = L.evaluate(c, str(tmp_path / "run"), "test")
  assert again["bits_per_char"] == pytest.approx(results["test_bits_per_char"], rel=1e-6)
  model, params, corpus = L.load_run(str(tmp_path / "run"))
  assert corpus.vocab.size == results["corpus"]["vocab_size"] and model.cell == "gru"
  # Restarting with more steps continues from the checkpoint at step 4.
  c.train.num_steps = 6
  resumed = L.run(c, str(tmp_path / "run"))
  assert resumed["steps"] == 6
  steps = [r["step"] for r in read_jsonl(tmp_path / "run" / "metrics.jsonl") if r["split"] == "train"]
  assert steps == [2, 4, 6]  # the resumed run logged only its own steps
  # The same workdir with another text (another vocabulary) is refused in one line.
  path.write_text("".join(sorted(set(text)))[::-1] * 3 + "ZZZ\u00e9\u00e8" * 500)
  for call in (lambda: L.run(c, str(tmp_path / "run")), lambda: L.evaluate(c, str(tmp_path / "run"))):
    with pytest.raises(CheckpointError, match="different character vocabulary") as info:
      call()
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("field,value,pattern", [
    ("chunks_per_step", 0, "train.chunks_per_step: expected a positive integer"),
    ("batch_size", 0, "train.batch_size: expected a positive integer"),
    ("clip", "squared", "train.clip"),
])
def test_bad_trainer_config(field, value, pattern, tmp_path):
  c = _tiny_config()
  c.train[field] = value
  with pytest.raises(ConfigError, match=pattern):
    L.run(c, str(tmp_path))


def test_min_char_rnn_runs_on_one_device_only(tmp_path):
  c = L.min_char_rnn_config()
  c.train.step = "pmap"
  with pytest.raises(ConfigError, match="train.step: min-char-rnn reads one stream"):
    L.run_min_char_rnn(c, str(tmp_path))


def test_char_lstm_variants_are_one_recipe_with_a_larger_regularised_model():
  from pathlib import Path

  from cs231n_jax.config import load_config

  path = Path(__file__).parents[2] / "experiments" / "configs" / "text" / "char_lstm.py"
  plain, base, large = (load_config(f"{path}{v}") for v in ("", ":base", ":large"))
  assert plain.to_dict() == base.to_dict()  # the file alone is the base variant (the re-run number)
  for c in (base, large):
    L.check_config(c)
  assert (base.model.hidden_size, base.model.dropout_rate) == (256, 0.0)
  assert (large.model.hidden_size, large.model.dropout_rate) == (512, 0.3)
  # Everything but the model size, dropout, step count and the samples' temperatures is the base recipe.
  b, g = base.to_dict(), large.to_dict()
  for d in (b, g):
    for key in ("hidden_size", "dropout_rate"):
      d["model"].pop(key)
    for key in ("num_steps", "eval_every", "checkpoint_every"):
      d["train"].pop(key)
    d["sample"].pop("temperatures")
  assert b == g
  assert tuple(large.sample.temperatures) == (0.5, 0.8, 1.0)
  # :regularised is :large with dropout on the input, the recurrent path and more before the output, and weight decay.
  reg = load_config(f"{path}:regularised")
  L.check_config(reg)
  assert (reg.model.dropout_rate, reg.model.embed_dropout_rate, reg.model.recurrent_dropout_rate) == (0.4, 0.1, 0.25)
  assert reg.optimizer.weight_decay == 0.1 and large.optimizer.weight_decay == 0.0
  r, g = reg.to_dict(), large.to_dict()
  for d in (r, g):
    for key in ("dropout_rate", "embed_dropout_rate", "recurrent_dropout_rate"):
      d["model"].pop(key)
    d["optimizer"].pop("weight_decay")
  assert r == g
  # :regularised_long is :regularised with 7.5x the steps (the cosine schedule follows num_steps).
  long = load_config(f"{path}:regularised_long")
  assert (long.train.num_steps, long.train.eval_every, long.train.checkpoint_every) == (15000, 1500, 1500)
  r, g = reg.to_dict(), long.to_dict()
  for d in (r, g):
    for key in ("num_steps", "eval_every", "checkpoint_every"):
      d["train"].pop(key)
  assert r == g
  with pytest.raises(ConfigError, match="unknown variant 'huge'"):
    load_config(f"{path}:huge")


# ---------------------------------------------------------------------------------------------
# Regularisation: dropout on the input, variational dropout on the recurrent path.
# ---------------------------------------------------------------------------------------------


def _numpy_lstm_logits(p, tokens, masks):
  """An independent NumPy char LSTM: embedding, gates from x Wx + (m ⊙ h_{t-1}) Wh + b with one mask per
  stream for every step, head. masks (N, H) or None."""
  p = jax.tree.map(lambda a: np.asarray(a, np.float64), p)
  sig = lambda a: 1.0 / (1.0 + np.exp(-a))
  x = p["embed"]["embedding"][np.asarray(tokens)]
  cell = p["rnn"]["layer_0"]
  n, t = tokens.shape
  hdim = cell["Wh"].shape[0]
  c, h = np.zeros((n, hdim)), np.zeros((n, hdim))
  m = np.ones((n, hdim)) if masks is None else np.asarray(masks, np.float64)
  out = []
  for s in range(t):
    a = x[:, s] @ cell["Wx"] + (m * h) @ cell["Wh"] + cell["b"]
    i, f, o, g = np.split(a, 4, axis=-1)
    c = sig(f) * c + sig(i) * np.tanh(g)
    h = sig(o) * np.tanh(c)
    out.append(h @ p["head"]["kernel"] + p["head"]["bias"])
  return np.stack(out, axis=1)


def test_variational_recurrent_dropout_is_one_mask_per_stream_at_every_step():
  tokens = jax.random.randint(jax.random.key(1), (64, 6), 0, 7)
  model = CharLM(vocab_size=7, hidden_size=16, embed_dim=5, recurrent_dropout_rate=0.25)
  params = model.init(jax.random.key(0), tokens[:1])["params"]
  # The plain LSTM's parameters (names and shapes: checkpoints and the interpretable-cells code read them), and
  # at test time its function (the NumPy loop with no mask).
  assert jax.tree.map(jnp.shape, params) == {
      "embed": {"embedding": (7, 5)}, "rnn": {"layer_0": {"Wx": (5, 64), "Wh": (16, 64), "b": (64,)}},
      "head": {"kernel": (16, 7), "bias": (7,)}}
  reference = _numpy_lstm_logits(params, tokens, None)
  np.testing.assert_allclose(model.apply({"params": params}, tokens)[1], reference, atol=1e-5)
  # Training: one Bernoulli(0.75) / 0.75 mask per stream, the same at every step (the NumPy loop reuses it).
  (_, logits), inter = model.apply({"params": params}, tokens, train=True, rngs={"dropout": jax.random.key(2)},
                                   mutable=["intermediates"])
  (mask,) = inter["intermediates"]["rnn"]["recurrent_mask_0"]
  assert mask.shape == (64, 16)
  np.testing.assert_allclose(np.unique(np.asarray(mask, np.float64)), [0.0, 1 / 0.75], rtol=1e-6)
  assert abs(float(np.mean(np.asarray(mask) == 0)) - 0.25) < 0.05  # 1,024 draws: 4 standard deviations
  np.testing.assert_allclose(logits, _numpy_lstm_logits(params, tokens, mask), atol=1e-5)
  assert np.abs(np.asarray(logits) - reference).max() > 1e-2  # the mask mattered


def test_input_dropout_acts_only_in_training_and_bad_rates_are_config_errors():
  tokens = jax.random.randint(jax.random.key(1), (4, 5), 0, 7)
  model = CharLM(vocab_size=7, hidden_size=8, embed_dim=32, embed_dropout_rate=0.5)
  params = model.init(jax.random.key(0), tokens)["params"]
  reference = _numpy_lstm_logits(params, tokens, None)
  np.testing.assert_allclose(model.apply({"params": params}, tokens)[1], reference, atol=1e-5)
  # In training, with the output dropout off, only the input changed: the first step's scores depend on x_1 alone.
  train = model.apply({"params": params}, tokens, train=True, rngs={"dropout": jax.random.key(3)})[1]
  assert np.abs(np.asarray(train) - reference)[:, 0].max() > 1e-3
  for field, kwargs in (("embed_dropout_rate", {"embed_dropout_rate": 1.0}), ("recurrent_dropout_rate", {"recurrent_dropout_rate": -0.1})):
    with pytest.raises(ConfigError, match=f"model.{field}: expected a drop probability"):
      CharLM(vocab_size=7, hidden_size=8, embed_dim=4, **kwargs).init(jax.random.key(0), tokens)
  with pytest.raises(ConfigError, match="model.recurrent_dropout_rate: variational recurrent dropout needs cell 'lstm', got cell 'gru'"):
    CharLM(vocab_size=7, cell="gru", hidden_size=8, embed_dim=4, recurrent_dropout_rate=0.2).init(jax.random.key(0), tokens)
