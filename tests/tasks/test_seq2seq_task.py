"""The seq2seq encoder-decoder (fixed context / additive attention) and its task."""

import functools

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax
import pytest

from cs231n_jax.errors import ConfigError
from cs231n_jax.tasks import seq2seq as S
from cs231n_jax.text.seq2seq import Seq2Seq, additive_attention, make_batch


def test_batches_are_reversals_and_sorts():
  src, tgt = make_batch(jax.random.key(0), 8, 7, 5, "reverse")
  np.testing.assert_array_equal(np.asarray(tgt), np.asarray(src)[:, ::-1])
  src, tgt = make_batch(jax.random.key(0), 8, 7, 5, "sort")
  np.testing.assert_array_equal(np.asarray(tgt), np.sort(np.asarray(src), axis=1))
  with pytest.raises(ConfigError, match="task.kind"):
    make_batch(jax.random.key(0), 2, 3, 5, "copy")


def test_additive_attention_matches_numpy():
  rng = np.random.default_rng(0)
  q, k, vals, v = rng.normal(size=(2, 4)), rng.normal(size=(2, 5, 4)), rng.normal(size=(2, 5, 3)), rng.normal(size=4)
  ctx, w = additive_attention(jnp.asarray(q), jnp.asarray(k), jnp.asarray(vals), jnp.asarray(v))
  e = np.tanh(q[:, None, :] + k) @ v
  a = np.exp(e - e.max(1, keepdims=True))
  a /= a.sum(1, keepdims=True)
  np.testing.assert_allclose(np.asarray(w), a, atol=1e-6)
  np.testing.assert_allclose(np.asarray(ctx), np.einsum("nt,nth->nh", a, vals), atol=1e-6)


def jitted_apply(model):
  """``model.apply`` compiled once per test (eager, every scan step's ops compile one by one)."""
  return jax.jit(model.apply, static_argnames=("greedy",))


@functools.cache
def _pair(**kw):
  """(jitted apply, variables, source, target, target with y^3 changed) of a small reversal model; cached, so the
  tests that read the same model share its compiled apply."""
  src, tgt = make_batch(jax.random.key(1), 3, 6, 7, "reverse")
  model = Seq2Seq(num_symbols=7, hidden_size=16, embed_dim=8, attention_dim=8, **kw)
  v = model.init(jax.random.key(2), src, tgt)
  return jitted_apply(model), v, src, tgt, tgt.at[:, 3].set((tgt[:, 3] + 1) % 7)


@pytest.mark.parametrize("attention", [True, False])
def test_teacher_forcing_reads_y_before_t_and_greedy_reads_no_target(attention):
  apply, v, src, tgt, changed = _pair(attention=attention)
  logits, w = apply(v, src, tgt)
  logits2, _ = apply(v, src, changed)
  np.testing.assert_array_equal(np.asarray(logits[:, :4]), np.asarray(logits2[:, :4]))  # y^3 feeds step 4 only
  assert float(jnp.abs(logits[:, 4:] - logits2[:, 4:]).max()) > 0
  g1, _ = apply(v, src, tgt, greedy=True)
  g2, _ = apply(v, src, changed, greedy=True)
  np.testing.assert_array_equal(np.asarray(g1), np.asarray(g2))  # greedy decoding feeds o, never y
  if attention:
    np.testing.assert_allclose(np.asarray(w).sum(-1), 1.0, atol=1e-5)


def _config():
  c = S.base_config()
  c.task.length = 5
  c.task.eval_examples = 64
  c.model.hidden_size = 16
  c.model.embed_dim = 8
  c.model.attention_dim = 8
  c.train.batch_size = 16
  c.train.num_steps = 6
  c.train.eval_every = 6
  c.train.log_every = 3
  return c


def test_first_step_loss_and_runner(tmp_path):
  config = _config()
  task, data, model = S.build(config)
  state = task.init(jax.random.key(0), data.example)
  key = jax.random.key(5)
  _, metrics = jax.jit(task.train_step)(state, next(data.train), key)
  src, tgt = make_batch(key, 16, 5, 10, "reverse")
  logits, _ = jitted_apply(model)({"params": state["params"]}, src, tgt)
  ref = optax.softmax_cross_entropy_with_integer_labels(logits, tgt).mean()
  np.testing.assert_allclose(float(metrics["loss"]), float(ref), rtol=1e-6)
  results = S.run(config, str(tmp_path))
  assert results["steps"] == 6 and 0 <= results["test_token_accuracy"] <= 1
  assert results["test_sequence_accuracy"] <= results["test_token_accuracy"]
  config.task.kind = "shuffle"
  with pytest.raises(ConfigError, match="task.kind"):
    S.build(config)


@pytest.mark.parametrize("attention", [True, False])
def test_output_recurrence_reads_only_the_previous_symbol(attention):
  """Teacher-forced output recurrence: y^3 reaches step 4 and nothing after it (no state recurs)."""
  apply, v, src, tgt, changed = _pair(attention=attention, recurrence="output")
  a, _ = apply(v, src, tgt)
  b, _ = apply(v, src, changed)
  np.testing.assert_array_equal(np.asarray(a[:, :4]), np.asarray(b[:, :4]))
  assert float(jnp.abs(a[:, 4] - b[:, 4]).max()) > 0
  np.testing.assert_array_equal(np.asarray(a[:, 5:]), np.asarray(b[:, 5:]))
  hidden, vh, *_ = _pair(attention=attention)  # output forwarding: the state carries y^3 on to step 5
  a, _ = hidden(vh, src, tgt)
  b, _ = hidden(vh, src, changed)
  assert float(jnp.abs(a[:, 5] - b[:, 5]).max()) > 0


@pytest.mark.parametrize("recurrence", ["hidden", "output"])
def test_free_running_training_reads_its_own_softmax_output(recurrence):
  apply, v, src, tgt, changed = _pair(attention=False, recurrence=recurrence, train_feed="output")
  a, _ = apply(v, src, tgt)
  b, _ = apply(v, src, changed)
  np.testing.assert_array_equal(np.asarray(a), np.asarray(b))  # the target is never read

  def step1_grad(apply_fn, variables):
    def f(table):
      p = {**variables["params"], "decoder": {**variables["params"]["decoder"], "embed": {"embedding": table}}}
      return apply_fn({"params": p}, src, tgt)[0][:, 1].sum()
    return np.abs(np.asarray(jax.jit(jax.grad(f))(variables["params"]["decoder"]["embed"]["embedding"]))).sum(-1)

  # Step 1 reads R o^0 = Σ_k softmax(o^0)_k R_k: every symbol's row of R gets a gradient ...
  assert (step1_grad(apply, v)[:7] > 0).all()
  # ... while teacher forcing reads R y^0: only the rows of the symbols y^0 (and BOS, through step 0).
  forced = Seq2Seq(num_symbols=7, hidden_size=16, embed_dim=8, attention=False, attention_dim=8, recurrence=recurrence)
  g = step1_grad(jitted_apply(forced), v)
  used = set(np.asarray(tgt[:, 0]).tolist()) | ({7} if recurrence == "hidden" else set())
  assert set(np.flatnonzero(g > 0).tolist()) == used
  with pytest.raises(ConfigError, match="model.train_feed"):
    Seq2Seq(num_symbols=7, train_feed="y").init(jax.random.key(0), src, tgt)


def _numpy_lstm(p, x):
  """Lecture 10's LSTM (gate blocks i, f, o, g) over x (N, T, D) from zero state: h (N, T, H)."""
  sig = lambda a: 1 / (1 + np.exp(-a))
  Wx, Wh, b = (np.asarray(p[k], np.float64) for k in ("Wx", "Wh", "b"))
  c = h = np.zeros((x.shape[0], Wh.shape[0]))
  out = []
  for t in range(x.shape[1]):
    i, f, o, g = np.split(x[:, t] @ Wx + h @ Wh + b, 4, axis=-1)
    c = sig(f) * c + sig(i) * np.tanh(g)
    h = sig(o) * np.tanh(c)
    out.append(h)
  return np.stack(out, 1)


def test_bidirectional_annotations_are_forward_and_backward_lstms_at_each_position():
  """``bidirectional=True``: annotation j = [→h_j, ←h_j], each a NumPy LSTM with that direction's weights (the
  backward one run on the reversed source, flipped back), and the attention keys read all 2H features."""
  src, tgt = make_batch(jax.random.key(1), 3, 6, 7, "reverse")
  model = Seq2Seq(num_symbols=7, hidden_size=16, embed_dim=8, attention=True, attention_dim=8, bidirectional=True)
  (logits, _), v = model.init_with_output(jax.random.key(2), src, tgt, capture_intermediates=lambda m, _: m.name == "encoder")
  (_, enc), = v["intermediates"]["encoder"]["__call__"]
  p = v["params"]
  emb = np.asarray(p["src_embed"]["embedding"], np.float64)[np.asarray(src)]
  assert enc.shape == (3, 6, 32) and p["W_h"]["kernel"].shape == (32, 8) and logits.shape == (3, 6, 7)
  np.testing.assert_allclose(np.asarray(enc[..., :16]), _numpy_lstm(p["encoder"]["layer_0_forward"], emb), atol=1e-5)
  np.testing.assert_allclose(np.asarray(enc[..., 16:]), _numpy_lstm(p["encoder"]["layer_0_backward"], emb[:, ::-1])[:, ::-1],
                             atol=1e-5)
  c = _config()
  c.model = ml_collections.ConfigDict({**c.model.to_dict(), "bidirectional": 1})
  with pytest.raises(ConfigError, match="model.bidirectional"):
    S.check_config(c)
