"""Test-time decoding: greedy (``lax.while_loop``) and beam search (``lax.scan``), jitted, with a
fixed maximum length.

Both start from ``<START>`` and feed each chosen word back (lecture 10: "sample <END> token ⇒
finish"). Outputs are (N, max_length) word ids *after* ``<START>``, ending with ``<END>`` and padded
with ``<NULL>`` — the layout of the course's ``CaptioningRNN.sample``.

* Greedy: the highest-scoring word at every step. The ``while_loop`` stops as soon as every
  caption of the batch has produced ``<END>`` (or at ``max_length``); its buffers have a fixed shape,
  so one compiled program serves every batch.
* Beam search keeps the ``beam_size`` best partial captions per image by total log-probability:
  every step expands each beam by every word, and keeps the best ``beam_size`` of the
  ``beam_size x V`` candidates (the recurrent state follows its beam). A finished beam can only
  be extended by ``<NULL>`` at no cost, so it competes with its final score. The winner maximises
  ``log p / length^α`` (``length_penalty`` α = 0: plain log-probability). With ``beam_size = 1``
  it is greedy decoding.
"""

from __future__ import annotations

from typing import Any, Callable

import jax
import jax.numpy as jnp

from cs231n_jax.captioning.vocab import END_ID, NULL_ID, START_ID

Array = jax.Array
NEG = -1e9  # "minus infinity" that stays finite in sums


def _methods(model):
  encode = lambda v, x: model.apply(v, x, method=type(model).encode)
  init = lambda v, m: model.apply(v, m, method=type(model).initial_carry)
  step = lambda v, m, c, tok, t: model.apply(v, m, c, tok, t, method=type(model).step)
  return encode, init, step


def make_greedy_decoder(model, max_length: int) -> Callable[[Any, Array], tuple[Array, Array]]:
  """``decode(variables, inputs) -> (captions (N, max_length), attention (N, max_length, L))``."""
  if max_length < 1:
    raise ValueError(f"make_greedy_decoder: max_length must be positive, got {max_length}")
  encode, init, step = _methods(model)

  @jax.jit
  def decode(variables, inputs):
    memory = encode(variables, inputs)
    carry = init(variables, memory)
    n, num_locations = memory["spatial"].shape[:2]
    state = {
        "t": jnp.int32(0), "prev": jnp.full((n,), START_ID, jnp.int32), "done": jnp.zeros((n,), bool),
        "carry": carry, "captions": jnp.full((n, max_length), NULL_ID, jnp.int32),
        "attention": jnp.zeros((n, max_length, num_locations), jnp.float32),
    }

    def cond(s):
      return (s["t"] < max_length) & ~jnp.all(s["done"])

    def body(s):
      logits, carry, attention = step(variables, memory, s["carry"], s["prev"], s["t"])
      word = jnp.where(s["done"], NULL_ID, jnp.argmax(logits, axis=-1).astype(jnp.int32))
      return {
          "t": s["t"] + 1, "prev": word, "done": s["done"] | (word == END_ID), "carry": carry,
          "captions": s["captions"].at[:, s["t"]].set(word),
          "attention": s["attention"].at[:, s["t"]].set(attention.astype(jnp.float32)),
      }

    final = jax.lax.while_loop(cond, body, state)
    return final["captions"], final["attention"]

  return decode


def _repeat(tree, k: int):
  return jax.tree.map(lambda a: jnp.repeat(a, k, axis=0), tree)


def _follow_beams(tree, beam: Array, n: int, k: int):
  """Reorder every (N*K, ...) leaf so that row (i, j) takes beam[i, j]'s row."""
  def gather(a):
    a = a.reshape(n, k, *a.shape[1:])
    a = jnp.take_along_axis(a, beam.reshape(n, k, *([1] * (a.ndim - 2))), axis=1)
    return a.reshape(n * k, *a.shape[2:])
  return jax.tree.map(gather, tree)


def make_beam_search(model, max_length: int, beam_size: int, length_penalty: float = 0.0):
  """``search(variables, inputs) -> (captions (N, max_length), scores (N,))``: the best beam's
  words and its total log-probability."""
  if beam_size < 1 or max_length < 1:
    raise ValueError(f"make_beam_search: beam_size and max_length must be positive, got {beam_size}, {max_length}")
  encode, init, step = _methods(model)
  k = beam_size

  @jax.jit
  def search(variables, inputs):
    memory = encode(variables, inputs)
    n = memory["spatial"].shape[0]
    memory = _repeat(memory, k)  # every beam of an image reads the same features
    carry = init(variables, memory)

    scores = jnp.where(jnp.arange(k) == 0, 0.0, NEG)[None].repeat(n, axis=0)  # one live beam at first
    state = (carry, jnp.full((n * k,), START_ID, jnp.int32), scores, jnp.zeros((n, k), bool),
             jnp.full((n, k, max_length), NULL_ID, jnp.int32))

    def body(state, t):
      carry, prev, scores, done, words = state
      logits, carry, _ = step(variables, memory, carry, prev, t)
      v = logits.shape[-1]
      logp = jax.nn.log_softmax(logits.astype(jnp.float32), axis=-1).reshape(n, k, v)
      only_null = jnp.where(jnp.arange(v) == NULL_ID, 0.0, NEG)
      logp = jnp.where(done[..., None], only_null, logp)
      candidates = (scores[..., None] + logp).reshape(n, k * v)
      scores, index = jax.lax.top_k(candidates, k)
      beam, word = index // v, (index % v).astype(jnp.int32)
      words = jnp.take_along_axis(words, beam[..., None], axis=1).at[:, :, t].set(word)
      done = jnp.take_along_axis(done, beam, axis=1) | (word == END_ID)
      carry = _follow_beams(carry, beam, n, k)
      return (carry, word.reshape(n * k), scores, done, words), None

    (carry, _, scores, done, words), _ = jax.lax.scan(body, state, jnp.arange(max_length))
    lengths = jnp.sum(words != NULL_ID, axis=-1).astype(jnp.float32)  # words including <END>
    ranked = scores / jnp.maximum(lengths, 1.0) ** length_penalty
    best = jnp.argmax(ranked, axis=1)
    pick = lambda a: jnp.take_along_axis(a, best.reshape(n, 1, *([1] * (a.ndim - 2))), axis=1)[:, 0]
    return pick(words), pick(scores)

  return search
