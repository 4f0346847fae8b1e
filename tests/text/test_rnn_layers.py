"""The course's recurrent layers: the notebooks' expected values, three-way gradient checks in
float64, scan against a Python loop of steps, the temporal softmax loss sanity numbers, the
custom_vjp versions, and bad input."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from cs231n_jax import layers as L
from cs231n_jax.gradcheck import SMOOTH_THRESHOLD, max_error, rel_error, three_way_errors
from cs231n_jax.layers import rnn_layers as R

# ---------------------------------------------------------------------------------------------
# The values the course's notebooks print (RNN_Captioning.ipynb, LSTM_Captioning.ipynb).
# ---------------------------------------------------------------------------------------------


def test_rnn_step_forward_matches_the_course_notebook():
  N, D, H = 3, 10, 4
  x = np.linspace(-0.4, 0.7, num=N * D).reshape(N, D)
  prev_h = np.linspace(-0.2, 0.5, num=N * H).reshape(N, H)
  Wx = np.linspace(-0.1, 0.9, num=D * H).reshape(D, H)
  Wh = np.linspace(-0.3, 0.7, num=H * H).reshape(H, H)
  b = np.linspace(-0.2, 0.4, num=H)
  next_h, _ = L.rnn_step_forward(x, prev_h, Wx, Wh, b)
  expected = np.asarray([[-0.58172089, -0.50182032, -0.41232771, -0.31410098],
                         [0.66854692, 0.79562378, 0.87755553, 0.92795967],
                         [0.97934501, 0.99144213, 0.99646691, 0.99854353]])
  assert next_h.dtype == np.float64
  assert rel_error(expected, next_h) < 1e-8


def test_rnn_forward_matches_the_course_notebook():
  N, T, D, H = 2, 3, 4, 5
  x = np.linspace(-0.1, 0.3, num=N * T * D).reshape(N, T, D)
  h0 = np.linspace(-0.3, 0.1, num=N * H).reshape(N, H)
  Wx = np.linspace(-0.2, 0.4, num=D * H).reshape(D, H)
  Wh = np.linspace(-0.4, 0.1, num=H * H).reshape(H, H)
  b = np.linspace(-0.7, 0.1, num=H)
  h, _ = L.rnn_forward(x, h0, Wx, Wh, b)
  expected = np.asarray([
      [[-0.42070749, -0.27279261, -0.11074945, 0.05740409, 0.22236251],
       [-0.39525808, -0.22554661, -0.0409454, 0.14649412, 0.32397316],
       [-0.42305111, -0.24223728, -0.04287027, 0.15997045, 0.35014525]],
      [[-0.55857474, -0.39065825, -0.19198182, 0.02378408, 0.23735671],
       [-0.27150199, -0.07088804, 0.13562939, 0.33099728, 0.50158768],
       [-0.51014825, -0.30524429, -0.06755202, 0.17806392, 0.40333043]]])
  assert rel_error(expected, h) < 1e-7  # the notebook asks for "errors less than 1e-7"


def test_word_embedding_forward_matches_the_course_notebook():
  V, D = 5, 3
  x = np.asarray([[0, 3, 1, 2], [2, 1, 0, 3]])
  W = np.linspace(0, 1, num=V * D).reshape(V, D)
  out, _ = L.word_embedding_forward(x, W)
  expected = np.asarray([
      [[0., 0.07142857, 0.14285714], [0.64285714, 0.71428571, 0.78571429],
       [0.21428571, 0.28571429, 0.35714286], [0.42857143, 0.5, 0.57142857]],
      [[0.42857143, 0.5, 0.57142857], [0.21428571, 0.28571429, 0.35714286],
       [0., 0.07142857, 0.14285714], [0.64285714, 0.71428571, 0.78571429]]])
  assert rel_error(expected, out) < 1e-7


def test_lstm_step_forward_matches_the_course_notebook():
  N, D, H = 3, 4, 5
  x = np.linspace(-0.4, 1.2, num=N * D).reshape(N, D)
  prev_h = np.linspace(-0.3, 0.7, num=N * H).reshape(N, H)
  prev_c = np.linspace(-0.4, 0.9, num=N * H).reshape(N, H)
  Wx = np.linspace(-2.1, 1.3, num=4 * D * H).reshape(D, 4 * H)
  Wh = np.linspace(-0.7, 2.2, num=4 * H * H).reshape(H, 4 * H)
  b = np.linspace(0.3, 0.7, num=4 * H)
  next_h, next_c, _ = L.lstm_step_forward(x, prev_h, prev_c, Wx, Wh, b)
  expected_h = np.asarray([[0.24635157, 0.28610883, 0.32240467, 0.35525807, 0.38474904],
                           [0.49223563, 0.55611431, 0.61507696, 0.66844003, 0.7159181],
                           [0.56735664, 0.66310127, 0.74419266, 0.80889665, 0.858299]])
  expected_c = np.asarray([[0.32986176, 0.39145139, 0.451556, 0.51014116, 0.56717407],
                           [0.66382255, 0.76674007, 0.87195994, 0.97902709, 1.08751345],
                           [0.74192008, 0.90592151, 1.07717006, 1.25120233, 1.42395676]])
  assert rel_error(expected_h, next_h) < 1e-7
  assert rel_error(expected_c, next_c) < 1e-7


def test_lstm_forward_matches_the_course_notebook():
  N, D, H, T = 2, 5, 4, 3
  x = np.linspace(-0.4, 0.6, num=N * T * D).reshape(N, T, D)
  h0 = np.linspace(-0.4, 0.8, num=N * H).reshape(N, H)
  Wx = np.linspace(-0.2, 0.9, num=4 * D * H).reshape(D, 4 * H)
  Wh = np.linspace(-0.3, 0.6, num=4 * H * H).reshape(H, 4 * H)
  b = np.linspace(0.2, 0.7, num=4 * H)
  h, _ = L.lstm_forward(x, h0, Wx, Wh, b)
  expected = np.asarray([
      [[0.01764008, 0.01823233, 0.01882671, 0.0194232],
       [0.11287491, 0.12146228, 0.13018446, 0.13902939],
       [0.31358768, 0.33338627, 0.35304453, 0.37250975]],
      [[0.45767879, 0.4761092, 0.4936887, 0.51041945],
       [0.6704845, 0.69350089, 0.71486014, 0.7346449],
       [0.81733511, 0.83677871, 0.85403753, 0.86935314]]])
  assert rel_error(expected, h) < 1e-7


@pytest.mark.parametrize("T,p,low,high", [(1, 1.0, 2.25, 2.35), (10, 1.0, 22.5, 23.5), (10, 0.1, 2.2, 2.4)])
def test_temporal_softmax_loss_course_sanity_numbers(T, p, low, high):
  # check_loss(100, 1, 10, 1.0) "about 2.3"; check_loss(100, 10, 10, 1.0) "about 23";
  # check_loss(5000, 10, 10, 0.1) "within 2.2-2.4".
  rng = np.random.default_rng(231)
  N = 5000 if p < 1 else 100
  x = 0.001 * rng.standard_normal((N, T, 10))
  y = rng.integers(10, size=(N, T))
  mask = rng.random((N, T)) <= p
  loss, _ = L.temporal_softmax_loss(x, y, mask)
  assert low < float(loss) < high
  # Near-zero scores: every counted step costs ln 10, so the loss is ln 10 x (counted steps / N).
  assert float(loss) == pytest.approx(np.log(10) * mask.sum() / N, rel=1e-4)


# ---------------------------------------------------------------------------------------------
# Three-way gradient checks (hand-written vs jax.vjp vs centred differences), float64.
# ---------------------------------------------------------------------------------------------


def _sequence_inputs(gates, rng, N=2, T=4, D=3, H=4):
  return (rng.standard_normal((N, T, D)), rng.standard_normal((N, H)), 0.5 * rng.standard_normal((D, gates * H)),
          0.5 * rng.standard_normal((H, gates * H)), rng.standard_normal(gates * H))


def _step_inputs(gates, rng, N=4, D=5, H=6):
  return (rng.standard_normal((N, D)), rng.standard_normal((N, H)), rng.standard_normal((D, gates * H)),
          rng.standard_normal((H, gates * H)), rng.standard_normal(gates * H))


CASES = {
    "rnn_step": (lambda r: _step_inputs(1, r), L.rnn_step_forward, L.rnn_step_backward),
    "rnn": (lambda r: _sequence_inputs(1, r), L.rnn_forward, L.rnn_backward),
    "gru_step": (lambda r: _step_inputs(3, r), L.gru_step_forward, L.gru_step_backward),
    "gru": (lambda r: _sequence_inputs(3, r), L.gru_forward, L.gru_backward),
    "lstm": (lambda r: _sequence_inputs(4, r), L.lstm_forward, L.lstm_backward),
    "temporal_affine": (lambda r: (r.standard_normal((2, 3, 4)), r.standard_normal((4, 5)), r.standard_normal(5)),
                        L.temporal_affine_forward, L.temporal_affine_backward),
}


@pytest.mark.parametrize("name", list(CASES))
def test_three_way_gradient_check(name):
  make, forward, backward = CASES[name]
  rng = np.random.default_rng(7)
  inputs = make(rng)
  with jax.enable_x64(True):
    out, cache = forward(*inputs)
    dout = rng.standard_normal(np.shape(out))
    grads = backward(dout, cache)
  assert all(np.asarray(g).dtype == np.float64 for g in grads)
  results = three_way_errors(lambda *a: forward(*a)[0], inputs, dout, grads)
  assert max_error(results) < SMOOTH_THRESHOLD, results


def test_lstm_step_three_way_with_both_outputs():
  rng = np.random.default_rng(231)
  x, h, Wx, Wh, b = _step_inputs(4, rng)
  c = rng.standard_normal(h.shape)
  inputs = (x, h, c, Wx, Wh, b)
  with jax.enable_x64(True):
    next_h, next_c, cache = L.lstm_step_forward(*inputs)
    dh, dc = rng.standard_normal(next_h.shape), rng.standard_normal(next_c.shape)
    grads = L.lstm_step_backward(dh, dc, cache)

  def both(*a):
    nh, nc, _ = L.lstm_step_forward(*a)
    return jnp.concatenate([nh, nc], axis=1)

  results = three_way_errors(both, inputs, np.concatenate([dh, dc], axis=1), grads)
  assert max_error(results) < SMOOTH_THRESHOLD, results


def test_lstm_initial_cell_gradient():
  rng = np.random.default_rng(3)
  x, h0, Wx, Wh, b = _sequence_inputs(4, rng)
  c0 = rng.standard_normal(h0.shape)
  with jax.enable_x64(True):
    h, cache = L.lstm_forward(x, h0, Wx, Wh, b, c0=c0)
    dh = rng.standard_normal(h.shape)
    dc0 = R.lstm_backward_with_c0(dh, cache)[-1]
  results = three_way_errors(lambda c: L.lstm_forward(x, h0, Wx, Wh, b, c0=c)[0], (c0,), dh, (dc0,))
  assert max_error(results) < SMOOTH_THRESHOLD, results


def test_word_embedding_gradient_accumulates_repeated_words():
  rng = np.random.default_rng(0)
  x = rng.integers(5, size=(50, 3))
  W = rng.standard_normal((5, 6))
  with jax.enable_x64(True):
    out, cache = L.word_embedding_forward(x, W)
    dout = rng.standard_normal(out.shape)
    dW = L.word_embedding_backward(dout, cache)
  expected = np.zeros_like(W)
  np.add.at(expected, x, dout)  # the course's reference
  assert rel_error(dW, expected) < 1e-12
  results = three_way_errors(lambda w: L.word_embedding_forward(x, w)[0], (W,), dout, (dW,))
  assert max_error(results) < SMOOTH_THRESHOLD, results


def test_temporal_softmax_loss_gradient_three_way():
  rng = np.random.default_rng(1)
  x = rng.standard_normal((7, 8, 9))
  y = rng.integers(9, size=(7, 8))
  mask = rng.random((7, 8)) > 0.5
  with jax.enable_x64(True):
    _, dx = L.temporal_softmax_loss(x, y, mask)
  results = three_way_errors(lambda s: L.temporal_softmax_loss(s, jnp.asarray(y), jnp.asarray(mask))[0], (x,), 1.0, (dx,))
  assert max_error(results) < SMOOTH_THRESHOLD, results
  assert np.all(np.asarray(dx)[~mask] == 0)  # padding steps get no gradient


# ---------------------------------------------------------------------------------------------
# Structure: the scan is the loop of steps; the LSTM's cell path; the GRU's gates.
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("cell", ["rnn", "gru", "lstm"])
def test_scan_equals_a_python_loop_of_steps_forward_and_backward(cell):
  gates = {"rnn": 1, "gru": 3, "lstm": 4}[cell]
  rng = np.random.default_rng(11)
  x, h0, Wx, Wh, b = _sequence_inputs(gates, rng, T=5)
  forward = {"rnn": L.rnn_forward, "gru": L.gru_forward, "lstm": L.lstm_forward}[cell]
  backward = {"rnn": L.rnn_backward, "gru": L.gru_backward, "lstm": L.lstm_backward}[cell]
  with jax.enable_x64(True):
    h, cache = forward(x, h0, Wx, Wh, b)
    dh = rng.standard_normal(h.shape)
    grads = backward(dh, cache)
    # The course's way: a Python loop over rnn_step_forward, then over rnn_step_backward in reverse.
    states, caches, prev_h, prev_c = [], [], h0, np.zeros_like(h0)
    for t in range(x.shape[1]):
      if cell == "lstm":
        prev_h, prev_c, c = L.lstm_step_forward(x[:, t], prev_h, prev_c, Wx, Wh, b)
      elif cell == "gru":
        prev_h, c = L.gru_step_forward(x[:, t], prev_h, Wx, Wh, b)
      else:
        prev_h, c = L.rnn_step_forward(x[:, t], prev_h, Wx, Wh, b)
      states.append(prev_h)
      caches.append(c)
    dx = np.zeros_like(x)
    dWx, dWh, db = np.zeros_like(Wx), np.zeros_like(Wh), np.zeros_like(b)
    dnext, dnext_c = np.zeros_like(h0), np.zeros_like(h0)
    for t in reversed(range(x.shape[1])):
      if cell == "lstm":
        dx[:, t], dnext, dnext_c, gx, gh, gb = L.lstm_step_backward(dh[:, t] + dnext, dnext_c, caches[t])
      else:
        step_backward = L.gru_step_backward if cell == "gru" else L.rnn_step_backward
        dx[:, t], dnext, gx, gh, gb = step_backward(dh[:, t] + dnext, caches[t])
      dWx, dWh, db = dWx + gx, dWh + gh, db + gb
  assert rel_error(h, np.stack(states, axis=1)) < 1e-12
  for got, want in zip(grads, (dx, dnext, dWx, dWh, db)):
    assert rel_error(got, want) < 1e-10


def test_lstm_cell_gradient_flows_through_the_forget_gate_only():
  # "Backpropagation from c_t to c_{t-1} only elementwise multiplication by f, no matrix multiply
  # by W": with no gradient on h, dprev_c is exactly dnext_c * f.
  rng = np.random.default_rng(5)
  x, h, Wx, Wh, b = _step_inputs(4, rng)
  c = rng.standard_normal(h.shape)
  with jax.enable_x64(True):
    _, _, cache = L.lstm_step_forward(x, h, c, Wx, Wh, b)
    dnext_c = rng.standard_normal(h.shape)
    _, dprev_h, dprev_c, *_ = L.lstm_step_backward(np.zeros_like(h), dnext_c, cache)
  f = np.asarray(cache[6])  # gates i, f, o, g follow x, prev_h, prev_c, Wx, Wh in the cache
  np.testing.assert_allclose(dprev_c, dnext_c * f, rtol=1e-12)
  assert np.abs(np.asarray(dprev_h)).max() > 0  # h still gets a gradient, through the gates


def test_gru_update_gate_saturated_copies_the_state():
  rng = np.random.default_rng(2)
  x, h0, Wx, Wh, b = _sequence_inputs(3, rng)
  H = h0.shape[1]
  b = b.copy()
  b[H:2 * H] = 50.0  # z = σ(50) = 1: h_t = z h_{t-1} + (1 - z) n = h_{t-1}
  h, _ = L.gru_forward(x, h0, Wx, Wh, b)
  np.testing.assert_allclose(h[:, -1], h0, atol=1e-12)
  b[H:2 * H] = -50.0  # z = 0: h_t = n, the candidate alone
  h, _ = L.gru_forward(x, h0, Wx, Wh, b)
  n_first = np.tanh(x[:, 0] @ Wx[:, 2 * H:] + b[2 * H:]
                    + (1 / (1 + np.exp(-(x[:, 0] @ Wx[:, :H] + h0 @ Wh[:, :H] + b[:H]))) * h0) @ Wh[:, 2 * H:])
  np.testing.assert_allclose(h[:, 0], n_first, atol=1e-12)


# ---------------------------------------------------------------------------------------------
# custom_vjp versions and precision.
# ---------------------------------------------------------------------------------------------


def test_differentiable_captioning_pipeline_grad_equals_hand_written_chain():
  rng = np.random.default_rng(9)
  N, T, V, Dw, H = 3, 5, 7, 4, 6
  tokens = rng.integers(V, size=(N, T))
  y = rng.integers(V, size=(N, T))
  mask = rng.random((N, T)) > 0.3
  W_embed = rng.standard_normal((V, Dw))
  h0 = rng.standard_normal((N, H))
  Wx, Wh, b = 0.5 * rng.standard_normal((Dw, 4 * H)), 0.5 * rng.standard_normal((H, 4 * H)), rng.standard_normal(4 * H)
  W_out, b_out = rng.standard_normal((H, V)), rng.standard_normal(V)
  params = (W_embed, h0, Wx, Wh, b, W_out, b_out)

  def loss(W_embed, h0, Wx, Wh, b, W_out, b_out):
    h = R.lstm(R.word_embedding(tokens, W_embed), h0, Wx, Wh, b)
    return R.temporal_softmax_loss_value(R.temporal_affine(h, W_out, b_out), y, mask)

  with jax.enable_x64(True):
    grads = jax.jit(jax.grad(loss, argnums=range(7)))(*params)
    emb, ce = L.word_embedding_forward(tokens, W_embed)
    h, ch = L.lstm_forward(emb, h0, Wx, Wh, b)
    scores, ca = L.temporal_affine_forward(h, W_out, b_out)
    _, dscores = L.temporal_softmax_loss(scores, y, mask)
    dh, dW_out, db_out = L.temporal_affine_backward(dscores, ca)
    demb, dh0, dWx, dWh, db = L.lstm_backward(dh, ch)
    dW_embed = L.word_embedding_backward(demb, ce)
  for got, want in zip(grads, (dW_embed, dh0, dWx, dWh, db, dW_out, db_out)):
    assert rel_error(got, want) < 1e-12


@pytest.mark.parametrize("fn,nargs", [(R.rnn, 5), (R.gru, 5), (R.gru_step, 5)], ids=["rnn", "gru", "gru_step"])
def test_differentiable_recurrences_match_autodiff(fn, nargs):
  rng = np.random.default_rng(4)
  gates = 3 if fn in (R.gru, R.gru_step) else 1
  inputs = _sequence_inputs(gates, rng) if fn in (R.rnn, R.gru) else _step_inputs(gates, rng)
  forward = {R.rnn: L.rnn_forward, R.gru: L.gru_forward, R.rnn_step: L.rnn_step_forward, R.gru_step: L.gru_step_forward}[fn]
  with jax.enable_x64(True):
    got = jax.jit(jax.grad(lambda *a: jnp.sum(jnp.sin(fn(*a))), argnums=range(nargs)))(*inputs)
    want = jax.jit(jax.grad(lambda *a: jnp.sum(jnp.sin(forward(*a)[0])), argnums=range(nargs)))(*inputs)
  for g, w in zip(got, want):
    assert rel_error(g, w) < 1e-10


def test_differentiable_lstm_step_and_jit():
  rng = np.random.default_rng(6)
  x, h, Wx, Wh, b = _step_inputs(4, rng)
  c = rng.standard_normal(h.shape)
  f32 = [a.astype(np.float32) for a in (x, h, c, Wx, Wh, b)]
  loss = jax.jit(jax.grad(lambda *a: jnp.sum(R.lstm_step(*a)[0] * R.lstm_step(*a)[1]), argnums=(3, 4)))
  gWx, gWh = loss(*f32)
  want = jax.jit(jax.grad(lambda *a: jnp.sum(L.lstm_step_forward(*a)[0] * L.lstm_step_forward(*a)[1]), argnums=(3, 4)))(*f32)
  assert gWx.dtype == jnp.float32
  np.testing.assert_allclose(gWx, want[0], rtol=2e-4, atol=1e-5)
  np.testing.assert_allclose(gWh, want[1], rtol=2e-4, atol=1e-5)


# ---------------------------------------------------------------------------------------------
# Bad input.
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("call,pattern", [
    (lambda: L.rnn_forward(np.zeros((2, 3, 4)), np.zeros((2, 5)), np.zeros((3, 5)), np.zeros((5, 5)), np.zeros(5)),
     r"rnn_forward: Wx must be \(D, H\) = \(4, 5\) for x \(2, 3, 4\)"),
    (lambda: L.rnn_forward(np.zeros((2, 3, 4)), np.zeros((3, 5)), np.zeros((4, 5)), np.zeros((5, 5)), np.zeros(5)),
     r"h0 \(3, 5\) must have N = 2 rows to match x \(2, 3, 4\)"),
    (lambda: L.rnn_forward(np.zeros((2, 4)), np.zeros((2, 5)), np.zeros((4, 5)), np.zeros((5, 5)), np.zeros(5)),
     r"x must be \(N, T, D\)"),
    (lambda: L.lstm_forward(np.zeros((2, 3, 4)), np.zeros((2, 5)), np.zeros((4, 5)), np.zeros((5, 5)), np.zeros(5)),
     r"lstm_forward: Wx must be \(D, 4H\) = \(4, 20\)"),
    (lambda: L.lstm_step_forward(np.zeros((2, 4)), np.zeros((2, 5)), np.zeros((2, 4)), np.zeros((4, 20)), np.zeros((5, 20)), np.zeros(20)),
     r"prev_c \(2, 4\) must have the shape of prev_h \(2, 5\)"),
    (lambda: L.gru_step_forward(np.zeros((2, 4)), np.zeros((2, 5)), np.zeros((4, 15)), np.zeros((5, 15)), np.zeros(5)),
     r"gru_step_forward: b must be \(3H,\) = \(15,\)"),
    (lambda: L.word_embedding_forward(np.array([[0, 5]]), np.zeros((5, 3))), r"\[0, 5\)"),
    (lambda: L.word_embedding_forward(np.array([[0.0, 1.0]]), np.zeros((5, 3))), "integers"),
    (lambda: L.temporal_softmax_loss(np.zeros((2, 3, 4)), np.zeros((2, 3), int), np.ones((3, 2), bool)),
     r"mask must have shape \(2, 3\) to match x \(2, 3, 4\), got \(3, 2\)"),
    (lambda: L.temporal_softmax_loss(np.zeros((2, 3, 4)), np.full((2, 3), 4), np.ones((2, 3), bool)), r"\[0, 4\)"),
    (lambda: L.temporal_affine_forward(np.zeros((2, 3, 4)), np.zeros((5, 6)), np.zeros(6)), r"D = 4 but w \(5, 6\) expects 5"),
])
def test_bad_input_is_a_one_line_value_error(call, pattern):
  with pytest.raises(ValueError, match=pattern) as info:
    call()
  assert "\n" not in str(info.value)
