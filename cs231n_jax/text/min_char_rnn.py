"""min-char-rnn (Karpathy's 112-line gist, shown in lecture 10) in JAX, ported from its equations.

The model and training are the gist's: one-hot characters ``x``, ``h_t = tanh(Wxh x_t + Whh h_{t-1}
+ bh)``, ``y_t = Why h_t + by``, ``p_t = softmax(y_t)``, loss ``Σ_t -log p_t[target_t]`` over a
chunk of ``seq_length = 25`` characters, weights ``randn * 0.01`` and zero biases, hidden size 100,
every gradient clipped to [-5, 5], Adagrad with learning rate 0.1 and ``sqrt(mem + 1e-8)``, the
hidden state ``hprev`` carried from chunk to chunk (truncated BPTT) and reset with the data pointer
at the end of the text, ``smooth_loss`` starting at ``-log(1/V) * seq_length``.

The lecture's printed listing has transcription errors (curriculum §4.1). They are *not* copied:

=============================================  ===================================================
printed                                        here (the gist, and the equations)
=============================================  ===================================================
``ys[t] = np.dot(why, hs[t]) - by``            ``+ by``
``dyb = np.dot(dy, hs[t].T)`` (no ``dby``)     ``dWhy += dy h_tᵀ``; ``dby += dy``
``ddraw = (i - hs[t].T) * dh``                 ``dhraw = (1 - h_t²) ⊙ dh``
``ddbh = ddraw``                               ``dbh += dhraw``
``dwhh += np.dot(ddraw, xs[t].T)``             ``dWxh += dhraw x_tᵀ``
``dwhy += np.dot(ddraw, hs[t-1].T)``           ``dWhh += dhraw h_{t-1}ᵀ``
``dhnext = np.dot(why.T, ddraw)``              ``dhnext = Whhᵀ dhraw``
``smooth_loss * .999 + loss / n``              ``smooth_loss * 0.999 + loss * 0.001``
``param += -lr * param / sqrt(mem + 1e-8)``    ``param += -lr * dparam / sqrt(mem + 1e-8)``
=============================================  ===================================================

``loss_fun`` is the gist's ``lossFun`` with the corrected backward pass written by hand as a
reverse ``lax.scan`` (the tests compare it with ``jax.grad`` in float64); ``iteration`` is one pass
of the gist's ``while True`` body (reset, ``lossFun``, Adagrad, ``smooth_loss``). The gist's run —
its data pointer, loop, evaluation and checkpoints — is an engine task:
:func:`cs231n_jax.tasks.char_lm.run_min_char_rnn` (``experiments/configs/text/min_char_rnn.py``).
"""

from __future__ import annotations

import math
from typing import Any

import jax
import jax.numpy as jnp

from cs231n_jax.text.sample import pick

HIDDEN_SIZE = 100
SEQ_LENGTH = 25
LEARNING_RATE = 0.1
INIT_SCALE = 0.01  # np.random.randn(...) * 0.01
CLIP = 5.0  # np.clip(dparam, -5, 5, out=dparam)
ADAGRAD_EPS = 1e-8  # np.sqrt(mem + 1e-8)
SMOOTHING = 0.999  # smooth_loss = smooth_loss * 0.999 + loss * 0.001
SAMPLE_LENGTH = 200  # sample(hprev, inputs[0], 200)
PARAM_NAMES = ("Wxh", "Whh", "Why", "bh", "by")


def init_params(key: jax.Array, vocab_size: int, hidden_size: int = HIDDEN_SIZE, dtype=jnp.float32) -> dict[str, jax.Array]:
  """The gist's initialisation: weights ~ N(0, 0.01²), biases 0. Shapes as in the gist
  (column vectors): Wxh (H, V), Whh (H, H), Why (V, H), bh (H,), by (V,)."""
  k1, k2, k3 = jax.random.split(key, 3)
  normal = lambda k, shape: INIT_SCALE * jax.random.normal(k, shape, dtype)
  return {"Wxh": normal(k1, (hidden_size, vocab_size)), "Whh": normal(k2, (hidden_size, hidden_size)),
          "Why": normal(k3, (vocab_size, hidden_size)), "bh": jnp.zeros(hidden_size, dtype),
          "by": jnp.zeros(vocab_size, dtype)}


def _forward_scan(params, inputs, hprev):
  def step(h, x):
    h = jnp.tanh(params["Wxh"][:, x] + params["Whh"] @ h + params["bh"])  # Wxh @ one_hot(x)
    y = params["Why"] @ h + params["by"]
    return h, (h, jax.nn.log_softmax(y))

  return jax.lax.scan(step, hprev, inputs)


def forward_loss(params, inputs, targets, hprev) -> tuple[jax.Array, jax.Array]:
  """Σ_t -log p_t[target_t] (nats) and the last hidden state."""
  h_last, (_, log_p) = _forward_scan(params, inputs, hprev)
  return -jnp.sum(jnp.take_along_axis(log_p, targets[:, None], axis=1)), h_last


def loss_fun(params, inputs, targets, hprev, clip: float | None = CLIP):
  """The gist's ``lossFun``: (loss, grads, last hidden state), backward pass by hand.

  Args:
    params: ``init_params``'s dict; inputs, targets: (T,) character ids; hprev: (H,) state.
    clip: clip every gradient entry to [-clip, clip] (the gist's 5); None leaves them raw.
  """
  h_last, (hs, log_p) = _forward_scan(params, inputs, hprev)
  loss = -jnp.sum(jnp.take_along_axis(log_p, targets[:, None], axis=1))
  ps = jnp.exp(log_p)
  prev_hs = jnp.concatenate([hprev[None], hs[:-1]], axis=0)

  def backward_step(carry, inputs_t):
    dhnext, grads = carry
    x, target, h, h_prev, p = inputs_t
    dy = p.at[target].add(-1.0)  # backprop into y: softmax minus the one-hot target
    dh = params["Why"].T @ dy + dhnext  # into h, plus what flows back from step t+1
    dhraw = (1 - h * h) * dh  # through tanh
    grads = {"Why": grads["Why"] + jnp.outer(dy, h), "by": grads["by"] + dy,
             "Wxh": grads["Wxh"].at[:, x].add(dhraw), "Whh": grads["Whh"] + jnp.outer(dhraw, h_prev),
             "bh": grads["bh"] + dhraw}
    return (params["Whh"].T @ dhraw, grads), None

  zeros = jax.tree.map(jnp.zeros_like, params)
  (_, grads), _ = jax.lax.scan(backward_step, (jnp.zeros_like(hprev), zeros), (inputs, targets, hs, prev_hs, ps),
                               reverse=True)
  if clip is not None:
    grads = jax.tree.map(lambda g: jnp.clip(g, -clip, clip), grads)  # "to mitigate exploding gradients"
  return loss, grads, h_last


def adagrad_update(params, grads, memory, learning_rate: float = LEARNING_RATE):
  """The gist's update: ``mem += dparam²``; ``param += -lr * dparam / sqrt(mem + 1e-8)``."""
  memory = jax.tree.map(lambda m, g: m + g * g, memory, grads)
  params = jax.tree.map(lambda p, g, m: p - learning_rate * g / jnp.sqrt(m + ADAGRAD_EPS), params, grads, memory)
  return params, memory


def initial_state(key, vocab_size: int, hidden_size: int = HIDDEN_SIZE, seq_length: int = SEQ_LENGTH) -> dict[str, Any]:
  """What the gist keeps between iterations, besides its data pointer: the parameters, Adagrad's
  memory, ``hprev`` and ``smooth_loss`` (which starts at ``-log(1/V) * seq_length``)."""
  params = init_params(key, vocab_size, hidden_size)
  return {"params": params, "memory": jax.tree.map(jnp.zeros_like, params), "hprev": jnp.zeros(hidden_size),
          "smooth_loss": jnp.float32(-math.log(1.0 / vocab_size) * seq_length)}


def iteration(state: dict[str, Any], window, restart, learning_rate: float = LEARNING_RATE,
              clip: float | None = CLIP) -> tuple[dict[str, Any], jax.Array]:
  """One pass of the gist's ``while True`` body on ``window`` (``seq_length + 1`` ids: inputs then
  targets shifted by one): ``hprev`` reset where the gist resets its data pointer (``restart``),
  ``lossFun``, the Adagrad update and ``smooth_loss``. Returns the new state and the chunk's loss
  (nats summed over its ``seq_length`` characters)."""
  hprev = jnp.where(restart, jnp.zeros_like(state["hprev"]), state["hprev"])
  loss, grads, hprev = loss_fun(state["params"], window[:-1], window[1:], hprev, clip)
  params, memory = adagrad_update(state["params"], grads, state["memory"], learning_rate)
  smooth = state["smooth_loss"] * SMOOTHING + loss * (1 - SMOOTHING)
  return {"params": params, "memory": memory, "hprev": hprev, "smooth_loss": smooth}, loss


def window_nll(params, h, window) -> tuple[jax.Array, jax.Array]:
  """(last hidden state, -log p of each of ``window[1:]`` given the text before it, from ``h``)."""
  h_last, (_, log_p) = _forward_scan(params, window[:-1], h)
  return h_last, -jnp.take_along_axis(log_p, window[1:, None], axis=1)[:, 0]


def sample(params, h, seed_ix: int, n: int, key, temperature: float = 1.0) -> jax.Array:
  """The gist's ``sample(h, seed_ix, n)``: n character ids, each fed back (one ``lax.scan``)."""
  return _sample(params, h, jnp.int32(seed_ix), key, jnp.float32(temperature), n)


@jax.jit
def _sample_impl(params, h, seed_ix, keys, temperature):
  def step(carry, key):
    h, x = carry
    h = jnp.tanh(params["Wxh"][:, x] + params["Whh"] @ h + params["bh"])
    y = params["Why"] @ h + params["by"]
    x = pick(y, key, temperature)
    return (h, x), x

  return jax.lax.scan(step, (h, seed_ix), keys)[1]


def _sample(params, h, seed_ix, key, temperature, n):
  return _sample_impl(params, h, seed_ix, jax.random.split(key, n), temperature)
