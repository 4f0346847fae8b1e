"""Recurrent layers of lecture 10, forward and hand-written backward, with the course's API.

The names, argument orders and shapes are those of the course's ``rnn_layers.py`` (assignment 3):
the batch comes first, then time, then features:

    x (N, T, D) · h0 / prev_h (N, H) · Wx (D, H) · Wh (H, H) · b (H,)      vanilla RNN
    Wx (D, 4H) · Wh (H, 4H) · b (4H,), gate blocks in the order i, f, o, g  LSTM
    Wx (D, 3H) · Wh (H, 3H) · b (3H,), gate blocks in the order r, z, n     GRU

Every ``*_forward`` returns ``(out, cache)`` and every ``*_backward(dout, cache)`` the gradients of
the forward's array inputs, written by hand from the local derivatives (nothing here calls
``jax.grad``; the tests compare each backward pass with ``jax.vjp`` and with centred differences in
float64). The time loops are ``lax.scan`` in both directions: the backward pass of a sequence is a
*reverse* scan that carries ``dh`` from step t+1 into step t — backpropagation through time
(lecture 10, "forward through entire sequence ... then backward through entire sequence").

Equations (lecture 10 and the course notes; biases as in the assignment):

* vanilla RNN: ``h_t = tanh(x_t Wx + h_{t-1} Wh + b)``.
* LSTM: ``a = x_t Wx + h_{t-1} Wh + b``; ``i, f, o = σ(a_i), σ(a_f), σ(a_o)``, ``g = tanh(a_g)``;
  ``c_t = f ⊙ c_{t-1} + i ⊙ g``; ``h_t = o ⊙ tanh(c_t)``. As in the course, ``lstm_forward``
  starts from ``c_0 = 0``.
* GRU, in lecture 10's form (Cho et al. 2014): ``r = σ(x Wx_r + h Wh_r + b_r)``,
  ``z = σ(x Wx_z + h Wh_z + b_z)``, ``n = tanh(x Wx_n + (r ⊙ h) Wh_n + b_n)``,
  ``h_t = z ⊙ h_{t-1} + (1 - z) ⊙ n``. The video lecture writes the same cell with z and 1 - z
  swapped (``h_t = (1 - z) h_{t-1} + z h̃``): the two are the same model with z relabelled 1 - z.
  PyTorch/cuDNN apply r *after* the recurrent matrix (``r ⊙ (h Wh_n + b_hn)``), a different cell;
  the one here follows the lecture.

The min-char-rnn listing printed in the lecture has transcription errors in its backward pass
(``- by``, ``(i - hs[t].T)``, ``dhnext = np.dot(why.T, ...)`` and others, tabulated in the
curriculum); none of them is copied — these backward passes are derived from the equations above,
and :mod:`cs231n_jax.text.min_char_rnn` ports the gist from the same equations.

Float64 numpy inputs compute in float64 and return numpy (``precision``), so the course's
notebook checks (relative errors ~1e-9) reproduce. The sequence kernels are jitted once per shape,
so the numerical gradient checks (thousands of forward calls) do not retrace the scan each time.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from cs231n_jax.layers.checks import check_ndim, shape_of
from cs231n_jax.layers.differentiable import hand_written_vjp
from cs231n_jax.layers.losses import check_label_values
from cs231n_jax.layers.precision import follows_input_precision

LSTM_GATES = 4  # i, f, o, g
GRU_GATES = 3  # r, z, n

# ---------------------------------------------------------------------------------------------
# Argument checks: one line naming the argument and both shapes.
# ---------------------------------------------------------------------------------------------


def _check_step(fn: str, x, prev_h, Wx, Wh, b, gates: int = 1) -> None:
  check_ndim(fn, "x", x, 2, "(N, D)")
  check_ndim(fn, "prev_h", prev_h, 2, "(N, H)")
  n, d = shape_of(x)
  h = shape_of(prev_h)[1]
  if shape_of(prev_h)[0] != n:
    raise ValueError(f"{fn}: prev_h {shape_of(prev_h)} must have N = {n} rows to match x {shape_of(x)}")
  _check_weights(fn, d, h, Wx, Wh, b, gates, f"x {shape_of(x)}", f"prev_h {shape_of(prev_h)}")


def _check_sequence(fn: str, x, h0, Wx, Wh, b, gates: int = 1) -> None:
  check_ndim(fn, "x", x, 3, "(N, T, D)")
  check_ndim(fn, "h0", h0, 2, "(N, H)")
  n, _, d = shape_of(x)
  h = shape_of(h0)[1]
  if shape_of(h0)[0] != n:
    raise ValueError(f"{fn}: h0 {shape_of(h0)} must have N = {n} rows to match x {shape_of(x)}")
  _check_weights(fn, d, h, Wx, Wh, b, gates, f"x {shape_of(x)}", f"h0 {shape_of(h0)}")


def _check_weights(fn: str, d: int, h: int, Wx, Wh, b, gates: int, x_desc: str, h_desc: str) -> None:
  width = f"{gates}H" if gates > 1 else "H"
  if shape_of(Wx) != (d, gates * h):
    raise ValueError(f"{fn}: Wx must be (D, {width}) = {(d, gates * h)} for {x_desc} and {h_desc}, got {shape_of(Wx)}")
  if shape_of(Wh) != (h, gates * h):
    raise ValueError(f"{fn}: Wh must be (H, {width}) = {(h, gates * h)} for {h_desc}, got {shape_of(Wh)}")
  if shape_of(b) != (gates * h,):
    raise ValueError(f"{fn}: b must be ({width},) = {(gates * h,)} for {h_desc}, got {shape_of(b)}")


def _time_major(a):
  return jnp.swapaxes(a, 0, 1)


# ---------------------------------------------------------------------------------------------
# Vanilla RNN.
# ---------------------------------------------------------------------------------------------


def _rnn_step(x, prev_h, Wx, Wh, b):
  return jnp.tanh(x @ Wx + prev_h @ Wh + b)


def _rnn_step_grads(dnext_h, x, prev_h, Wx, Wh, next_h):
  """Through tanh (1 - h²), then the affine map: the add gate hands da to every term."""
  da = dnext_h * (1 - next_h * next_h)
  return da @ Wx.T, da @ Wh.T, x.T @ da, prev_h.T @ da, jnp.sum(da, axis=0)


@follows_input_precision
def rnn_step_forward(x, prev_h, Wx, Wh, b):
  """One step of the vanilla RNN, ``next_h = tanh(x Wx + prev_h Wh + b)``.

  Args:
    x: (N, D) inputs at this step; prev_h: (N, H) previous hidden state;
    Wx: (D, H), Wh: (H, H), b: (H,).

  Returns:
    next_h (N, H) and the cache for ``rnn_step_backward``.
  """
  _check_step("rnn_step_forward", x, prev_h, Wx, Wh, b)
  next_h = _rnn_step(x, prev_h, Wx, Wh, b)
  return next_h, (x, prev_h, Wx, Wh, next_h)


@follows_input_precision
def rnn_step_backward(dnext_h, cache):
  """Backward pass of one RNN step -> (dx, dprev_h, dWx, dWh, db)."""
  x, prev_h, Wx, Wh, next_h = cache
  return _rnn_step_grads(dnext_h, x, prev_h, Wx, Wh, next_h)


@jax.jit
def _rnn_scan(x, h0, Wx, Wh, b):
  def step(prev_h, x_t):
    next_h = _rnn_step(x_t, prev_h, Wx, Wh, b)
    return next_h, next_h

  _, hs = jax.lax.scan(step, h0, _time_major(x))
  return _time_major(hs)


@jax.jit
def _rnn_scan_backward(dh, x, h0, Wx, Wh, h):
  prev_hs = jnp.concatenate([h0[:, None], h[:, :-1]], axis=1)

  def step(carry, inputs):
    dprev_from_later, dWx, dWh, db = carry
    dh_t, x_t, prev_h_t, h_t = inputs
    # h_t feeds both the output at t (dh_t) and the next step (the carried gradient).
    dx_t, dprev_h, dWx_t, dWh_t, db_t = _rnn_step_grads(dh_t + dprev_from_later, x_t, prev_h_t, Wx, Wh, h_t)
    return (dprev_h, dWx + dWx_t, dWh + dWh_t, db + db_t), dx_t

  init = (jnp.zeros_like(h0), jnp.zeros_like(Wx), jnp.zeros_like(Wh), jnp.zeros(Wh.shape[1], Wh.dtype))
  (dh0, dWx, dWh, db), dxs = jax.lax.scan(
      step, init, (_time_major(dh), _time_major(x), _time_major(prev_hs), _time_major(h)), reverse=True
  )
  return _time_major(dxs), dh0, dWx, dWh, db


@follows_input_precision
def rnn_forward(x, h0, Wx, Wh, b):
  """The vanilla RNN over a whole sequence (one ``lax.scan`` over time).

  Args:
    x: (N, T, D) input sequences; h0: (N, H) initial hidden state; Wx (D, H), Wh (H, H), b (H,).

  Returns:
    h (N, T, H), the hidden state at every step, and the cache for ``rnn_backward``.
  """
  _check_sequence("rnn_forward", x, h0, Wx, Wh, b)
  h = _rnn_scan(x, h0, Wx, Wh, b)
  return h, (x, h0, Wx, Wh, h)


@follows_input_precision
def rnn_backward(dh, cache):
  """Backpropagation through time -> (dx, dh0, dWx, dWh, db).

  ``dh`` (N, T, H) is the upstream gradient of every hidden state (from the outputs only); the
  reverse scan adds the gradient that flows back from step t+1 through ``Wh`` — the repeated
  multiplication by ``Whᵀ`` that makes gradients explode or vanish (lecture 10).
  """
  x, h0, Wx, Wh, h = cache
  return _rnn_scan_backward(dh, x, h0, Wx, Wh, h)


# ---------------------------------------------------------------------------------------------
# LSTM.
# ---------------------------------------------------------------------------------------------


def _lstm_gates(a, hidden: int):
  i = jax.nn.sigmoid(a[:, :hidden])
  f = jax.nn.sigmoid(a[:, hidden:2 * hidden])
  o = jax.nn.sigmoid(a[:, 2 * hidden:3 * hidden])
  g = jnp.tanh(a[:, 3 * hidden:])
  return i, f, o, g


def _lstm_step(x, prev_h, prev_c, Wx, Wh, b):
  hidden = prev_h.shape[1]
  i, f, o, g = _lstm_gates(x @ Wx + prev_h @ Wh + b, hidden)
  next_c = f * prev_c + i * g
  tanh_c = jnp.tanh(next_c)
  next_h = o * tanh_c
  return next_h, next_c, (i, f, o, g, tanh_c)


def _lstm_step_grads(dnext_h, dnext_c, x, prev_h, prev_c, Wx, Wh, i, f, o, g, tanh_c):
  # h = o tanh(c): the cell receives dnext_c plus what flows back through tanh from h.
  dc = dnext_c + dnext_h * o * (1 - tanh_c * tanh_c)
  do = dnext_h * tanh_c
  # c = f c_prev + i g: "backpropagation from c_t to c_{t-1} is only elementwise multiplication by f".
  dprev_c = dc * f
  di, df, dg = dc * g, dc * prev_c, dc * i
  da = jnp.concatenate([di * i * (1 - i), df * f * (1 - f), do * o * (1 - o), dg * (1 - g * g)], axis=1)
  return da @ Wx.T, da @ Wh.T, dprev_c, x.T @ da, prev_h.T @ da, jnp.sum(da, axis=0)


@follows_input_precision
def lstm_step_forward(x, prev_h, prev_c, Wx, Wh, b):
  """One LSTM step.

  Args:
    x: (N, D); prev_h, prev_c: (N, H); Wx: (D, 4H); Wh: (H, 4H); b: (4H,), gate blocks i, f, o, g.

  Returns:
    (next_h, next_c, cache), as the course's ``lstm_step_forward``.
  """
  _check_step("lstm_step_forward", x, prev_h, Wx, Wh, b, LSTM_GATES)
  if shape_of(prev_c) != shape_of(prev_h):
    raise ValueError(f"lstm_step_forward: prev_c {shape_of(prev_c)} must have the shape of prev_h {shape_of(prev_h)}")
  next_h, next_c, gates = _lstm_step(x, prev_h, prev_c, Wx, Wh, b)
  return next_h, next_c, (x, prev_h, prev_c, Wx, Wh, *gates)


@follows_input_precision
def lstm_step_backward(dnext_h, dnext_c, cache):
  """Backward pass of one LSTM step -> (dx, dprev_h, dprev_c, dWx, dWh, db)."""
  return _lstm_step_grads(dnext_h, dnext_c, *cache)


@jax.jit
def _lstm_scan(x, h0, c0, Wx, Wh, b):
  def step(carry, x_t):
    prev_h, prev_c = carry
    next_h, next_c, gates = _lstm_step(x_t, prev_h, prev_c, Wx, Wh, b)
    return (next_h, next_c), (next_h, next_c, *gates)

  _, outs = jax.lax.scan(step, (h0, c0), _time_major(x))
  return tuple(_time_major(o) for o in outs)  # h, c, i, f, o, g, tanh_c: each (N, T, H)


@jax.jit
def _lstm_scan_backward(dh, x, h0, c0, Wx, Wh, h, c, i, f, o, g, tanh_c):
  prev_hs = jnp.concatenate([h0[:, None], h[:, :-1]], axis=1)
  prev_cs = jnp.concatenate([c0[:, None], c[:, :-1]], axis=1)

  def step(carry, inputs):
    dh_later, dc_later, dWx, dWh, db = carry
    dh_t, x_t, ph, pc, i_t, f_t, o_t, g_t, tc_t = inputs
    dx_t, dprev_h, dprev_c, dWx_t, dWh_t, db_t = _lstm_step_grads(
        dh_t + dh_later, dc_later, x_t, ph, pc, Wx, Wh, i_t, f_t, o_t, g_t, tc_t
    )
    return (dprev_h, dprev_c, dWx + dWx_t, dWh + dWh_t, db + db_t), dx_t

  init = (jnp.zeros_like(h0), jnp.zeros_like(c0), jnp.zeros_like(Wx), jnp.zeros_like(Wh),
          jnp.zeros(Wh.shape[1], Wh.dtype))
  seq = tuple(_time_major(a) for a in (dh, x, prev_hs, prev_cs, i, f, o, g, tanh_c))
  (dh0, dc0, dWx, dWh, db), dxs = jax.lax.scan(step, init, seq, reverse=True)
  return _time_major(dxs), dh0, dc0, dWx, dWh, db


@follows_input_precision
def lstm_forward(x, h0, Wx, Wh, b, c0=None):
  """The LSTM over a whole sequence (one ``lax.scan``); the cell starts at ``c0`` (default 0, as in
  the course, whose ``lstm_forward`` takes no initial cell state).

  Args:
    x: (N, T, D); h0: (N, H); Wx: (D, 4H); Wh: (H, 4H); b: (4H,); c0: optional (N, H).

  Returns:
    h (N, T, H) and the cache for ``lstm_backward``.
  """
  _check_sequence("lstm_forward", x, h0, Wx, Wh, b, LSTM_GATES)
  if c0 is None:
    c0 = jnp.zeros_like(h0)
  elif shape_of(c0) != shape_of(h0):
    raise ValueError(f"lstm_forward: c0 {shape_of(c0)} must have the shape of h0 {shape_of(h0)}")
  h, c, i, f, o, g, tanh_c = _lstm_scan(x, h0, c0, Wx, Wh, b)
  return h, (x, h0, c0, Wx, Wh, h, c, i, f, o, g, tanh_c)


@follows_input_precision
def lstm_backward(dh, cache):
  """Backpropagation through time for the LSTM -> (dx, dh0, dWx, dWh, db), as the course's.

  (The gradient of ``c0`` is computed too; ``lstm_backward_with_c0`` returns it.)
  """
  dx, dh0, _, dWx, dWh, db = _lstm_scan_backward(dh, *cache)
  return dx, dh0, dWx, dWh, db


@follows_input_precision
def lstm_backward_with_c0(dh, cache):
  """Like ``lstm_backward`` but also returns dc0: (dx, dh0, dWx, dWh, db, dc0)."""
  dx, dh0, dc0, dWx, dWh, db = _lstm_scan_backward(dh, *cache)
  return dx, dh0, dWx, dWh, db, dc0


# ---------------------------------------------------------------------------------------------
# GRU (lecture 10's equations).
# ---------------------------------------------------------------------------------------------


def _gru_step(x, prev_h, Wx, Wh, b):
  hidden = prev_h.shape[1]
  ax = x @ Wx + b
  a_rz = ax[:, :2 * hidden] + prev_h @ Wh[:, :2 * hidden]
  r = jax.nn.sigmoid(a_rz[:, :hidden])
  z = jax.nn.sigmoid(a_rz[:, hidden:])
  rh = r * prev_h
  n = jnp.tanh(ax[:, 2 * hidden:] + rh @ Wh[:, 2 * hidden:])
  next_h = z * prev_h + (1 - z) * n
  return next_h, (r, z, n)


def _gru_step_grads(dnext_h, x, prev_h, Wx, Wh, r, z, n):
  hidden = prev_h.shape[1]
  dz = dnext_h * (prev_h - n)
  dn = dnext_h * (1 - z)
  dan = dn * (1 - n * n)
  drh = dan @ Wh[:, 2 * hidden:].T
  dr = drh * prev_h
  da_rz = jnp.concatenate([dr * r * (1 - r), dz * z * (1 - z)], axis=1)
  da = jnp.concatenate([da_rz, dan], axis=1)
  # prev_h reaches next_h directly (through z), through r ⊙ h, and through the r and z gates.
  dprev_h = dnext_h * z + drh * r + da_rz @ Wh[:, :2 * hidden].T
  dWh = jnp.concatenate([prev_h.T @ da_rz, (r * prev_h).T @ dan], axis=1)
  return da @ Wx.T, dprev_h, x.T @ da, dWh, jnp.sum(da, axis=0)


@follows_input_precision
def gru_step_forward(x, prev_h, Wx, Wh, b):
  """One GRU step (lecture 10's form).

  Args:
    x: (N, D); prev_h: (N, H); Wx: (D, 3H); Wh: (H, 3H); b: (3H,), gate blocks r, z, n.

  Returns:
    next_h (N, H) and the cache.
  """
  _check_step("gru_step_forward", x, prev_h, Wx, Wh, b, GRU_GATES)
  next_h, gates = _gru_step(x, prev_h, Wx, Wh, b)
  return next_h, (x, prev_h, Wx, Wh, *gates)


@follows_input_precision
def gru_step_backward(dnext_h, cache):
  """Backward pass of one GRU step -> (dx, dprev_h, dWx, dWh, db)."""
  return _gru_step_grads(dnext_h, *cache)


@jax.jit
def _gru_scan(x, h0, Wx, Wh, b):
  def step(prev_h, x_t):
    next_h, gates = _gru_step(x_t, prev_h, Wx, Wh, b)
    return next_h, (next_h, *gates)

  _, outs = jax.lax.scan(step, h0, _time_major(x))
  return tuple(_time_major(o) for o in outs)  # h, r, z, n


@jax.jit
def _gru_scan_backward(dh, x, h0, Wx, Wh, h, r, z, n):
  prev_hs = jnp.concatenate([h0[:, None], h[:, :-1]], axis=1)

  def step(carry, inputs):
    dh_later, dWx, dWh, db = carry
    dh_t, x_t, ph, r_t, z_t, n_t = inputs
    dx_t, dprev_h, dWx_t, dWh_t, db_t = _gru_step_grads(dh_t + dh_later, x_t, ph, Wx, Wh, r_t, z_t, n_t)
    return (dprev_h, dWx + dWx_t, dWh + dWh_t, db + db_t), dx_t

  init = (jnp.zeros_like(h0), jnp.zeros_like(Wx), jnp.zeros_like(Wh), jnp.zeros(Wh.shape[1], Wh.dtype))
  seq = tuple(_time_major(a) for a in (dh, x, prev_hs, r, z, n))
  (dh0, dWx, dWh, db), dxs = jax.lax.scan(step, init, seq, reverse=True)
  return _time_major(dxs), dh0, dWx, dWh, db


@follows_input_precision
def gru_forward(x, h0, Wx, Wh, b):
  """The GRU over a whole sequence (one ``lax.scan``) -> (h (N, T, H), cache)."""
  _check_sequence("gru_forward", x, h0, Wx, Wh, b, GRU_GATES)
  h, r, z, n = _gru_scan(x, h0, Wx, Wh, b)
  return h, (x, h0, Wx, Wh, h, r, z, n)


@follows_input_precision
def gru_backward(dh, cache):
  """Backpropagation through time for the GRU -> (dx, dh0, dWx, dWh, db)."""
  return _gru_scan_backward(dh, *cache)


# ---------------------------------------------------------------------------------------------
# Word embedding, temporal affine, temporal softmax loss.
# ---------------------------------------------------------------------------------------------


@follows_input_precision
def word_embedding_forward(x, W):
  """Look up the vector of every word: ``out[n, t] = W[x[n, t]]``.

  Args:
    x: (N, T) integer word indices in [0, V); W: (V, D) word vectors.

  Returns:
    out (N, T, D) and the cache.
  """
  check_ndim("word_embedding_forward", "W", W, 2, "(V, D)")
  check_ndim("word_embedding_forward", "x", x, 2, "(N, T)")
  check_label_values("word_embedding_forward", x, shape_of(W)[0])
  return W[x], (x, W)


@follows_input_precision
def word_embedding_backward(dout, cache):
  """dW: every occurrence of word v adds its upstream gradient to row v (``np.add.at`` in the
  course); words that do not occur get zero. Returns dW (V, D) only — x is discrete."""
  x, W = cache
  return jnp.zeros_like(W).at[x].add(dout)


@follows_input_precision
def temporal_affine_forward(x, w, b):
  """The same affine map at every step: (N, T, D) @ (D, M) + (M,) -> (N, T, M), and the cache."""
  check_ndim("temporal_affine_forward", "x", x, 3, "(N, T, D)")
  check_ndim("temporal_affine_forward", "w", w, 2, "(D, M)")
  if shape_of(x)[2] != shape_of(w)[0]:
    raise ValueError(f"temporal_affine_forward: x {shape_of(x)} has D = {shape_of(x)[2]} but w {shape_of(w)} expects {shape_of(w)[0]}")
  if shape_of(b) != (shape_of(w)[1],):
    raise ValueError(f"temporal_affine_forward: b must have shape ({shape_of(w)[1]},) to match w {shape_of(w)}, got {shape_of(b)}")
  return x @ w + b, (x, w, b)


@follows_input_precision
def temporal_affine_backward(dout, cache):
  """-> (dx, dw, db): the affine layer's gradients, summed over every (n, t)."""
  x, w, _ = cache
  return dout @ w.T, jnp.einsum("ntd,ntm->dm", x, dout), jnp.sum(dout, axis=(0, 1))


@follows_input_precision
def temporal_softmax_loss(x, y, mask, verbose: bool = False):
  """Softmax cross-entropy at every step, summed over time and averaged over the minibatch.

  Padding steps (the ``<NULL>`` tokens after ``<END>``) carry ``mask = False`` and count for
  nothing, in the loss or the gradient. With near-zero scores over V classes every counted step
  costs ln V, so the course's checks read ≈ 2.3 (N=100, T=1, V=10), ≈ 23 (T=10) and ≈ 2.3 with a
  mask keeping one step in ten.

  Args:
    x: (N, T, V) scores; y: (N, T) integer targets in [0, V); mask: (N, T) booleans.
    verbose: print the shapes (the course's debugging switch).

  Returns:
    (loss, dx): the scalar loss and its gradient (N, T, V).
  """
  check_ndim("temporal_softmax_loss", "x", x, 3, "(N, T, V)")
  n, t, v = shape_of(x)
  if shape_of(y) != (n, t):
    raise ValueError(f"temporal_softmax_loss: y must have shape {(n, t)} to match x {shape_of(x)}, got {shape_of(y)}")
  if shape_of(mask) != (n, t):
    raise ValueError(f"temporal_softmax_loss: mask must have shape {(n, t)} to match x {shape_of(x)}, got {shape_of(mask)}")
  check_label_values("temporal_softmax_loss", y, v)
  if verbose:
    print(f"temporal_softmax_loss: x {shape_of(x)}, y {shape_of(y)}, mask {shape_of(mask)}")
  shifted = x - jnp.max(x, axis=2, keepdims=True)
  log_p = shifted - jnp.log(jnp.sum(jnp.exp(shifted), axis=2, keepdims=True))
  weight = jnp.asarray(mask, dtype=x.dtype)
  picked = jnp.take_along_axis(log_p, y[..., None], axis=2)[..., 0]
  loss = -jnp.sum(weight * picked) / n
  dx = (jnp.exp(log_p) - jax.nn.one_hot(y, v, dtype=x.dtype)) * weight[..., None] / n
  return loss, dx


# ---------------------------------------------------------------------------------------------
# Differentiable versions: jax.grad of these runs the hand-written backward passes above.
# ---------------------------------------------------------------------------------------------

rnn = hand_written_vjp(rnn_forward, rnn_backward, 5)
rnn.__doc__ = "rnn(x, h0, Wx, Wh, b) -> h (N, T, H); gradients from rnn_backward"
gru = hand_written_vjp(gru_forward, gru_backward, 5)
gru.__doc__ = "gru(x, h0, Wx, Wh, b) -> h (N, T, H); gradients from gru_backward"
lstm = hand_written_vjp(lstm_forward, lstm_backward, 5)
lstm.__doc__ = "lstm(x, h0, Wx, Wh, b) -> h (N, T, H), c0 = 0; gradients from lstm_backward"
temporal_affine = hand_written_vjp(temporal_affine_forward, temporal_affine_backward, 3)
temporal_affine.__doc__ = "temporal_affine(x, w, b) -> out (N, T, M)"
word_embedding = hand_written_vjp(
    word_embedding_forward, lambda dout, cache: (None, word_embedding_backward(dout, cache)), 2
)
word_embedding.__doc__ = "word_embedding(x, W) -> W[x]; dW from word_embedding_backward, none for x"


def _loss_forward(x, y, mask):
  return temporal_softmax_loss(x, y, mask)


temporal_softmax_loss_value = hand_written_vjp(_loss_forward, lambda dloss, dx: (dloss * dx, None, None), 3)
temporal_softmax_loss_value.__doc__ = (
    "temporal_softmax_loss_value(x, y, mask) -> loss; its gradient is temporal_softmax_loss's dx"
)


def lstm_step(x, prev_h, prev_c, Wx, Wh, b):
  """Differentiable LSTM step -> (next_h, next_c); gradients from ``lstm_step_backward``."""
  return _lstm_step_vjp(x, prev_h, prev_c, Wx, Wh, b)


_lstm_step_vjp = hand_written_vjp(
    lambda x, h, c, Wx, Wh, b: (lambda out: ((out[0], out[1]), out[2]))(lstm_step_forward(x, h, c, Wx, Wh, b)),
    lambda douts, cache: lstm_step_backward(douts[0], douts[1], cache),
    6,
)
rnn_step = hand_written_vjp(rnn_step_forward, rnn_step_backward, 5)
rnn_step.__doc__ = "rnn_step(x, prev_h, Wx, Wh, b) -> next_h; gradients from rnn_step_backward"
gru_step = hand_written_vjp(gru_step_forward, gru_step_backward, 5)
gru_step.__doc__ = "gru_step(x, prev_h, Wx, Wh, b) -> next_h; gradients from gru_step_backward"

__all__ = [
    "rnn_step_forward", "rnn_step_backward", "rnn_forward", "rnn_backward",
    "lstm_step_forward", "lstm_step_backward", "lstm_forward", "lstm_backward", "lstm_backward_with_c0",
    "gru_step_forward", "gru_step_backward", "gru_forward", "gru_backward",
    "word_embedding_forward", "word_embedding_backward", "temporal_affine_forward",
    "temporal_affine_backward", "temporal_softmax_loss",
    "rnn", "lstm", "gru", "rnn_step", "lstm_step", "gru_step", "word_embedding", "temporal_affine",
    "temporal_softmax_loss_value",
]
