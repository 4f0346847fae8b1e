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
- ``bidirectional=True`` (Bahdanau et al. 2015's encoder): a forward and a backward LSTM, annotations
  h_j = [→h_j, ←h_j] (2H wide); the decoder starts from the forward final (c, h) and the fixed
  context is [→h_T, ←h_1]. For reversal, ←h_j has read the T - j symbols after j, so an annotation
  knows its distance from the end: the position the decoder's step T - j must find.

The notes' two decoder recurrences (ch. 10, L1035-1058), ``recurrence``:

- ``"hidden"`` (the default; the notes' "output forwarding", L1046-1058): the LSTM state s_{t-1}
  recurs, and the previous symbol is an extra input: s_t = LSTM(s_{t-1}, [R y_{t-1}, c]).
- ``"output"`` (the notes' output-to-hidden recurrence, L1035-1044): no state recurs; the step reads
  only the previous output and the context, s_t = tanh(W [R y_{t-1}, c] + b) (the attention query is
  then R y_{t-1}). Everything the decoder knows about its past must pass through the symbol it
  emitted, so it cannot know its position in the output.

What is fed back, ``train_feed``: ``"target"`` is teacher forcing (R y_{t-1}, the one-hot target),
which the notes (L1037-1044) mislabel by feeding o_{t-1}; ``"output"`` is that equation as
written, free-running training: R o_{t-1} with o_{t-1} = softmax of the previous logits (the
model's own output, differentiable). At test time both feed R onehot(argmax o_{t-1}) (greedy).
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
RECURRENCES = ("hidden", "output")
TRAIN_FEEDS = ("target", "output")


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
  """One decoder step. carry = (LSTM carry, the previous step's fed-back vector over the
  ``num_symbols + 1`` symbols, BOS last); x = the teacher token (read with ``feed="target"`` only).
  ``feed``: "target" (one-hot y^{t-1}), "soft" (softmax o^{t-1}) or "greedy" (one-hot argmax
  o^{t-1}). Returns (new carry, (logits, attention weights))."""

  num_symbols: int
  hidden_size: int
  embed_dim: int
  attention: bool
  feed: str
  recurrence: str = "hidden"

  @nn.compact
  def __call__(self, carry, x, enc_outputs, keys_proj, fixed_context):
    (c, h), prev = carry
    vocab = self.num_symbols + 1
    fed = jax.nn.one_hot(x, vocab, dtype=prev.dtype) if self.feed == "target" else prev
    embed = nn.Embed(vocab, self.embed_dim, name="embed")
    emb = fed @ embed.embedding  # R v: the embedding of a one-hot row is a row of the table
    if self.attention:
      query = h if self.recurrence == "hidden" else emb
      q = nn.Dense(keys_proj.shape[-1], use_bias=False, name="W_s")(query)
      v = self.param("v", nn.initializers.normal(0.1), (keys_proj.shape[-1],))
      context, weights = additive_attention(q, keys_proj, enc_outputs, v)
    else:
      context, weights = fixed_context, jnp.zeros(enc_outputs.shape[:2], enc_outputs.dtype)
    inputs = jnp.concatenate([emb, context], -1)
    if self.recurrence == "hidden":
      (c, h), _ = LSTMCell(self.hidden_size, name="cell")((c, h), inputs)
    else:
      h = jnp.tanh(nn.Dense(self.hidden_size, name="cell")(inputs))
    logits = nn.Dense(self.num_symbols, name="readout")(jnp.concatenate([h, context], -1))
    if self.feed == "soft":
      out = jax.nn.softmax(logits, -1)
    else:
      out = jax.nn.one_hot(jnp.argmax(logits, -1), self.num_symbols, dtype=prev.dtype)
    out = jnp.concatenate([out, jnp.zeros(out.shape[:-1] + (1,), out.dtype)], -1)  # never BOS
    return ((c, h), out), (logits, weights)


@register("seq2seq", "LSTM encoder-decoder for reversal / sorting: the fixed context vector or additive attention.",
          input_shape=None, family="char_lm")
class Seq2Seq(nn.Module):
  """Encoder LSTM over embedded symbols; decoder LSTM as in the module docstring."""

  num_symbols: int = 10
  hidden_size: int = 128
  embed_dim: int = 32
  attention: bool = True
  attention_dim: int = 64
  recurrence: str = "hidden"
  train_feed: str = "target"
  bidirectional: bool = False

  @nn.compact
  def __call__(self, src: Array, target: Array, greedy: bool = False) -> tuple[Array, Array]:
    """Logits (N, T, num_symbols) and attention weights (N, T, T_src). ``target`` (N, T) is read
    (shifted right behind BOS) only with teacher forcing; with ``greedy`` or free-running
    (``train_feed="output"``) only its length counts."""
    if self.recurrence not in RECURRENCES:
      raise ConfigError(f"model.recurrence: expected one of {RECURRENCES}, got {self.recurrence!r}")
    if self.train_feed not in TRAIN_FEEDS:
      raise ConfigError(f"model.train_feed: expected one of {TRAIN_FEEDS}, got {self.train_feed!r}")
    emb = nn.Embed(self.num_symbols, self.embed_dim, name="src_embed")(src)
    (carry,), enc = RecurrentStack("lstm", self.hidden_size, bidirectional=self.bidirectional, name="encoder")(emb)
    if self.bidirectional:  # annotations [→h_j, ←h_j] (N, T, 2H); the decoder starts from the forward final state
      (forward, backward), carry = carry, carry[0]
      fixed = jnp.concatenate([forward[1], backward[1]], -1)  # [→h_T, ←h_1]
    else:
      fixed = carry[1]  # h_T of the encoder
    keys_proj = nn.Dense(self.attention_dim, use_bias=False, name="W_h")(enc) if self.attention else enc[..., :0]
    bos = jax.nn.one_hot(jnp.full((src.shape[0],), self.num_symbols), self.num_symbols + 1, dtype=jnp.float32)
    inputs = jnp.concatenate([jnp.full_like(target[:, :1], self.num_symbols), target[:, :-1]], axis=1)  # y^{t-1}
    feed = "greedy" if greedy else ("target" if self.train_feed == "target" else "soft")
    scan = nn.scan(DecoderStep, variable_broadcast="params", split_rngs={"params": False}, in_axes=(1, nn.broadcast,
                   nn.broadcast, nn.broadcast), out_axes=1)
    step = scan(self.num_symbols, self.hidden_size, self.embed_dim, self.attention, feed, self.recurrence, name="decoder")
    _, (logits, weights) = step((carry, bos), inputs, enc, keys_proj, fixed)
    return logits, weights
