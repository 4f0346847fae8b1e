"""Flax recurrent cells and stacks: equal to the course layers, the scan equals the unrolled loop,
bidirectional and multi-layer wiring, truncated BPTT, clipping, bad input."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from cs231n_jax import layers as L
from cs231n_jax.errors import ConfigError
from cs231n_jax.nn import recurrent as rec
from cs231n_jax.tasks import char_lm

COURSE_FORWARD = {"rnn": L.rnn_forward, "lstm": L.lstm_forward, "gru": L.gru_forward}


@pytest.mark.parametrize("kind", rec.CELL_KINDS)
def test_flax_cell_equals_the_course_layer_with_the_same_parameters(kind):
  x = jax.random.normal(jax.random.key(0), (3, 6, 5))
  stack = rec.RecurrentStack(cell=kind, hidden_size=4)
  variables = stack.init(jax.random.key(1), x)
  p = variables["params"]["layer_0"]
  h0 = jax.random.normal(jax.random.key(2), (3, 4))
  init = [(jnp.zeros_like(h0), h0)] if kind == "lstm" else [h0]
  (carry,), out = stack.apply(variables, x, init)
  with jax.enable_x64(True):
    h, _ = COURSE_FORWARD[kind](*(np.asarray(a, np.float64) for a in (x, h0, p["Wx"], p["Wh"], p["b"])))
  np.testing.assert_allclose(out, h, atol=1e-5)
  np.testing.assert_allclose(rec.hidden_state(carry), h[:, -1], atol=1e-5)


@pytest.mark.parametrize("kind", rec.CELL_KINDS)
def test_scan_equals_the_unrolled_loop(kind):
  cell = rec.make_cell(kind, 6)
  x = jax.random.normal(jax.random.key(3), (2, 7, 4))
  carry = cell.initialize_carry(jax.random.key(0), (2, 4))
  variables = cell.init(jax.random.key(4), carry, x[:, 0])
  c, outs = carry, []
  for t in range(x.shape[1]):
    c, y = cell.apply(variables, c, x[:, t])
    outs.append(y)
  final, scanned = jax.jit(lambda v, x: __import__("flax").linen.RNN(cell, return_carry=True).apply(v, x))(
      {"params": {"cell": variables["params"]}}, x)
  np.testing.assert_allclose(scanned, jnp.stack(outs, axis=1), atol=1e-6)
  jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, atol=1e-6), final, c)


def test_lstm_starts_with_the_forget_gate_open_and_orthogonal_recurrent_blocks():
  cell = rec.make_cell("lstm", 5)
  variables = cell.init(jax.random.key(0), cell.initialize_carry(None, (1, 3)), jnp.zeros((1, 3)))
  b, Wh = variables["params"]["b"], variables["params"]["Wh"]
  np.testing.assert_array_equal(b[5:10], 1.0)
  np.testing.assert_array_equal(jnp.delete(b, jnp.arange(5, 10)), 0.0)
  for g in range(4):
    block = Wh[:, 5 * g:5 * (g + 1)]
    np.testing.assert_allclose(block.T @ block, np.eye(5), atol=1e-5)


def test_bidirectional_backward_half_is_the_reversed_sequence_and_respects_lengths():
  x = jax.random.normal(jax.random.key(5), (2, 6, 3))
  stack = rec.RecurrentStack(cell="gru", hidden_size=4, bidirectional=True)
  variables = stack.init(jax.random.key(6), x)
  one_way = rec.RecurrentStack(cell="gru", hidden_size=4)
  lengths = jnp.array([4, 6])
  noisy = x.at[0, 4:].set(100.0)

  @jax.jit
  def outputs(variables):
    out = stack.apply(variables, x)[1]
    direction = lambda name, seq: one_way.apply({"params": {"layer_0": variables["params"][name]}}, seq)[1]
    forward = direction("layer_0_forward", x)
    backward = direction("layer_0_backward", x[:, ::-1])[:, ::-1]
    padded = stack.apply(variables, x, seq_lengths=lengths)[1]
    padded_noisy = stack.apply(variables, noisy, seq_lengths=lengths)[1]
    own_end = direction("layer_0_backward", x[:1, :4][:, ::-1])[0, ::-1]
    return out, forward, backward, padded, padded_noisy, own_end

  out, forward, backward, padded, padded_noisy, own_end = outputs(variables)
  assert out.shape == (2, 6, 8)
  np.testing.assert_allclose(out[..., :4], forward, atol=1e-6)
  np.testing.assert_allclose(out[..., 4:], backward, atol=1e-6)
  # With seq_lengths, the backward direction starts at each sequence's own end: what lies in the
  # padding cannot change the valid outputs.
  np.testing.assert_allclose(padded[0, :4], padded_noisy[0, :4], atol=1e-6)
  np.testing.assert_allclose(padded[0, :4, 4:], own_end, atol=1e-6)
  np.testing.assert_allclose(padded[1], out[1], atol=1e-6)


def test_second_layer_reads_the_first_layers_outputs():
  x = jax.random.normal(jax.random.key(7), (2, 5, 3))
  stack = rec.RecurrentStack(cell="rnn", hidden_size=4, num_layers=2)
  variables = stack.init(jax.random.key(8), x)
  carries, out = stack.apply(variables, x)
  single = rec.RecurrentStack(cell="rnn", hidden_size=4)
  h1 = single.apply({"params": {"layer_0": variables["params"]["layer_0"]}}, x)[1]
  h2 = single.apply({"params": {"layer_0": variables["params"]["layer_1"]}}, h1)[1]
  np.testing.assert_allclose(out, h2, atol=1e-6)
  assert len(carries) == 2
  np.testing.assert_allclose(carries[0], h1[:, -1], atol=1e-6)


# ---------------------------------------------------------------------------------------------
# Truncated BPTT.
# ---------------------------------------------------------------------------------------------


def _toy_lm():
  """A tiny vanilla-RNN language model: (params, carry, chunk (N, T+1)) -> (loss, carry)."""
  vocab, hidden = 5, 8
  stack = rec.RecurrentStack(cell="rnn", hidden_size=hidden)
  keys = jax.random.split(jax.random.key(0), 2)
  params = {"rnn": stack.init(keys[0], jnp.zeros((1, 1, vocab)))["params"],
            "out": 0.3 * jax.random.normal(keys[1], (hidden, vocab))}

  def loss_fn(params, carry, chunk):
    inputs, targets = chunk[:, :-1], chunk[:, 1:]
    (carry,), h = stack.apply({"params": params["rnn"]}, jax.nn.one_hot(inputs, vocab), [carry])
    logits = h @ params["out"]
    return optax.softmax_cross_entropy_with_integer_labels(logits, targets).sum(), carry

  return loss_fn, params, vocab, hidden


def _overlapping_chunks(tokens, length):
  """Chunks whose last token is the next chunk's first (inputs and targets of each chunk)."""
  k = (tokens.shape[1] - 1) // length
  return jnp.stack([tokens[:, i * length:(i + 1) * length + 1] for i in range(k)])


def test_truncated_bptt_forward_equals_one_long_pass_and_gradients_are_truncated():
  loss_fn, params, vocab, hidden = _toy_lm()
  tokens = jax.random.randint(jax.random.key(1), (3, 13), 0, vocab)
  h0 = jnp.zeros((3, hidden))
  chunks = _overlapping_chunks(tokens, 4)
  chunk_grad = jax.grad(lambda p, c, ch: loss_fn(p, c, ch)[0])

  @jax.jit
  def everything(params):
    full_loss, full_carry = loss_fn(params, h0, tokens)
    full_grads = jax.grad(lambda p: loss_fn(p, h0, tokens)[0])(params)
    one = rec.truncated_bptt_grads(loss_fn, params, h0, tokens[None])
    three = rec.truncated_bptt_grads(loss_fn, params, h0, chunks)
    # By hand: each chunk's gradient at its incoming state (a constant), states carried forward.
    manual, carry = None, h0
    for chunk in chunks:
      g = chunk_grad(params, carry, chunk)
      carry = loss_fn(params, carry, chunk)[1]
      manual = g if manual is None else jax.tree.map(jnp.add, manual, g)
    return full_loss, full_carry, full_grads, one, three, manual

  full_loss, full_carry, full_grads, (loss1, grads1, _), (loss3, grads3, carry3), manual = everything(params)
  close = lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
  # One chunk: exactly full BPTT.
  np.testing.assert_allclose(loss1, full_loss, rtol=1e-6)
  jax.tree.map(close, grads1, full_grads)
  # Three chunks of four steps: the same loss and final state, but a different (truncated)
  # gradient, equal to the sum of each chunk's gradient with its incoming state held constant.
  np.testing.assert_allclose(loss3, full_loss, rtol=1e-5)
  np.testing.assert_allclose(carry3, full_carry, atol=1e-6)
  jax.tree.map(close, grads3, manual)
  diff = max(float(jnp.abs(a - b).max()) for a, b in zip(jax.tree.leaves(grads3), jax.tree.leaves(full_grads)))
  assert diff > 1e-3  # truncation really dropped the cross-chunk terms


def test_truncated_bptt_training_carries_the_state_and_learns():
  loss_fn, params, vocab, hidden = _toy_lm()
  # A periodic sequence 0 1 2 3 4 0 1 ...: predictable only from the previous token.
  tokens = jnp.tile(jnp.arange(vocab), 9)[None].repeat(2, axis=0)
  tx = optax.adam(0.05)
  run = jax.jit(char_lm.truncated_bptt(loss_fn, tx))
  chunks = _overlapping_chunks(tokens, 4)
  p, opt_state, carry = params, tx.init(params), jnp.zeros((2, hidden))
  first = None
  for _ in range(10):
    p, opt_state, carry, losses = run(p, opt_state, carry, chunks)
    first = losses[0] if first is None else first
  assert losses.shape == (chunks.shape[0],)
  assert float(losses[-1]) < 0.05 * float(first)
  assert run._cache_size() == 1  # one compiled program, reused with the carried state


# ---------------------------------------------------------------------------------------------
# Clipping.
# ---------------------------------------------------------------------------------------------


def test_clip_by_norm_uses_the_true_norm_and_keeps_the_direction():
  grads = {"a": jnp.array([3.0, 4.0]), "b": jnp.array([[12.0]])}  # global norm 13
  clip = rec.gradient_clipping("norm", 5.0)
  clipped, _ = clip.update(grads, clip.init(grads))
  norm = float(optax.tree.norm(clipped))
  assert norm == pytest.approx(5.0, rel=1e-6)
  np.testing.assert_allclose(clipped["a"], np.array([3.0, 4.0]) * 5 / 13, rtol=1e-6)
  small = {"a": jnp.array([0.3, 0.4])}
  same, _ = clip.update(small, clip.init(small))
  np.testing.assert_array_equal(same["a"], small["a"])
  # The lecture's snippet divides by the *squared* norm (169 here): its result has norm 5/13, not 5.
  lecture_norm = 13.0 * (5.0 / 169.0)
  assert abs(lecture_norm - norm) > 4


def test_clip_by_value_is_min_char_rnns_elementwise_clip():
  grads = {"w": jnp.array([-9.0, -2.0, 0.5, 7.0])}
  clip = rec.gradient_clipping("value", 5.0)
  clipped, _ = clip.update(grads, clip.init(grads))
  np.testing.assert_array_equal(clipped["w"], [-5.0, -2.0, 0.5, 5.0])
  ident = rec.gradient_clipping("none", 0.0)
  np.testing.assert_array_equal(ident.update(grads, ident.init(grads))[0]["w"], grads["w"])


@pytest.mark.parametrize("call,exc,pattern", [
    (lambda: rec.make_cell("elman", 4), ConfigError, r"model.cell: expected one of \('rnn', 'lstm', 'gru'\)"),
    (lambda: rec.make_cell("lstm", 0), ConfigError, "model.hidden_size"),
    (lambda: rec.gradient_clipping("global", 1.0), ConfigError, "train.clip"),
    (lambda: rec.gradient_clipping("norm", 0.0), ConfigError, "train.clip_threshold"),
    (lambda: rec.RecurrentStack().init(jax.random.key(0), jnp.zeros((2, 3))), ValueError, r"\(N, T, D\), got shape \(2, 3\)"),
    (lambda: rec.chunk_sequence(jnp.zeros((2, 5)), 6), ValueError, r"chunk_length must be in \[1, 5\]"),
])
def test_bad_input(call, exc, pattern):
  with pytest.raises(exc, match=pattern):
    call()


def test_chunk_sequence_layout():
  tokens = jnp.arange(14).reshape(2, 7)
  chunks = rec.chunk_sequence(tokens, 3)
  assert chunks.shape == (2, 2, 3)
  np.testing.assert_array_equal(chunks[1, 0], [3, 4, 5])
  np.testing.assert_array_equal(chunks[0, 1], [7, 8, 9])
