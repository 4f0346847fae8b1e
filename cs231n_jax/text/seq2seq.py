"""Sequence to sequence (lecture 10 / notes ch. 10-11): an LSTM encoder-decoder with the fixed
context vector, and the same network with additive (MLP-score, Bahdanau) attention.

Tasks: reverse or sort a sequence of ``length`` symbols from ``num_symbols`` (:func:`make_batch`).
The decoder reads a start token (``BOS = num_symbols``) and then, in training, the previous *target*
symbol y^{t-1} (teacher forcing: the notes' L646 — the network is fed y, not its own output o); at
test time it reads its own greedy output o^{t-1} (:meth:`Seq2Seq.__call__` with ``greedy=True``).

- Fixed context (``attention=False``): the decoder starts from the encoder's final (c, h), and the
  context c = h_T^enc is concatenated to every decoder input: the whole source passes through one
  vector (the bottleneck lecture 10 motivates attention with).
- Additive attention (``attention=True``): at each decoder step, e_j = vᵀ tanh(W_s s_{t-1} + W_h h_j),
  α = softmax(e), c_t = Σ_j α_j h_j; the input is [embed(y_{t-1}), c_t] and the read-out sees
  [s_t, c_t].
"""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp

from cs231n_jax.errors import ConfigError
from cs231n_jax.models.registry import register
from cs231n_jax.nn.recurrent import LSTMCell, RecurrentStack

Array = jax.Array
TASKS = ("reverse", "sort")


def make_batch(key: Array, batch_size: int, length: int, num_symbols: int, task: str) -> tuple[Array, Array]:
  """(source, target) int32 arrays (batch, length): uniform random symbols and their reversal or sort."""
  if task not in TASKS:
    raise ConfigError(f"task.kind: expected one of {TASKS}, got {task!r}")
  src = jax.random.randint(key, (batch_size, length), 0, num_symbols, jnp.int32)
  return src, (src[:, ::-1] if task == "reverse" else jnp.sort(src, axis=1))


def additive_attention(query_proj: Array, keys_proj: Array, values: Array, v: Array) -> tuple[Array, Array]:
  """e_j = vᵀ tanh(q + k_j) for a projected query (N, A) and projected keys (N, T, A); returns
  (context Σ α_j values_j (N, H), weights α (N, T))."""
  scores = jnp.tanh(query_proj[:, None, :] + keys_proj) @ v
  weights = jax.nn.softmax(scores, axis=-1)
  return jnp.einsum("nt,nth->nh", weights, values), weights


class DecoderStep(nn.Module):
  """One decoder step. carry = (LSTM carry, previous token); x = the teacher token (or ignored when
  ``greedy``). Returns (new carry, (logits, attention weights))."""

  num_symbols: int
  hidden_size: int
  embed_dim: int
  attention: bool
  greedy: bool

  @nn.compact
  def __call__(self, carry, x, enc_outputs, keys_proj, fixed_context):
    (c, h), prev = carry
    token = prev if self.greedy else x
    emb = nn.Embed(self.num_symbols + 1, self.embed_dim, name="embed")(token)
    if self.attention:
      q = nn.Dense(keys_proj.shape[-1], use_bias=False, name="W_s")(h)
      v = self.param("v", nn.initializers.normal(0.1), (keys_proj.shape[-1],))
      context, weights = additive_attention(q, keys_proj, enc_outputs, v)
    else:
      context, weights = fixed_context, jnp.zeros(enc_outputs.shape[:2], enc_outputs.dtype)
    (c, h), _ = LSTMCell(self.hidden_size, name="cell")((c, h), jnp.concatenate([emb, context], -1))
    logits = nn.Dense(self.num_symbols, name="readout")(jnp.concatenate([h, context], -1))
    return ((c, h), jnp.argmax(logits, -1).astype(jnp.int32)), (logits, weights)


@register("seq2seq", "LSTM encoder-decoder for reversal / sorting: the fixed context vector or additive attention.",
          input_shape=None, family="char_lm")
class Seq2Seq(nn.Module):
  """Encoder LSTM over embedded symbols; decoder LSTM as in the module docstring."""

  num_symbols: int = 10
  hidden_size: int = 128
  embed_dim: int = 32
  attention: bool = True
  attention_dim: int = 64

  @nn.compact
  def __call__(self, src: Array, target: Array, greedy: bool = False) -> tuple[Array, Array]:
    """Logits (N, T, num_symbols) and attention weights (N, T, T_src). ``target`` (N, T) is read
    (shifted right behind BOS) only with teacher forcing; with ``greedy`` only its length counts."""
    emb = nn.Embed(self.num_symbols, self.embed_dim, name="src_embed")(src)
    (carry,), enc = RecurrentStack("lstm", self.hidden_size, name="encoder")(emb)
    keys_proj = nn.Dense(self.attention_dim, use_bias=False, name="W_h")(enc) if self.attention else enc[..., :0]
    fixed = carry[1]  # h_T of the encoder
    bos = jnp.full((src.shape[0],), self.num_symbols, jnp.int32)
    inputs = jnp.concatenate([bos[:, None], target[:, :-1]], axis=1)  # teacher forcing: y^{t-1}
    scan = nn.scan(DecoderStep, variable_broadcast="params", split_rngs={"params": False}, in_axes=(1, nn.broadcast,
                   nn.broadcast, nn.broadcast), out_axes=1)
    step = scan(self.num_symbols, self.hidden_size, self.embed_dim, self.attention, greedy, name="decoder")
    _, (logits, weights) = step((carry, bos), inputs, enc, keys_proj, fixed)
    return logits, weights
