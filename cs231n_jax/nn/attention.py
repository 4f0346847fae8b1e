"""Attention and transformers (course notes, chapter 11): scaled dot-product attention, multi-head
attention with causal and padding masks, cross-attention, sinusoidal and learned positional
encodings, transformer encoder and decoder blocks (pre- and post-norm).

The pieces, as the notes describe them:

* **Attention layer.** Queries ``q`` (Tq, d), keys ``k`` (Tk, d), values ``v`` (Tk, dv): alignment
  ``e = q kᵀ / √d``, weights ``a = softmax(e)`` over the keys, output ``y = a v`` — one output per
  query, each a weighting of the values; "the number of queries can differ from the number of
  keys". The notes divide by √D "to avoid explosion of softmax" and name D "the dimension of input
  feature"; the scale that keeps ``q·k`` at unit variance is the dimension of the query/key
  vectors (per head), which is what is used here (equal to D for one head without projections).
* **Self-attention** takes q, k and v from the same inputs (it is permutation-equivariant: "doesn't
  care about the orders of the inputs"); **cross-attention** takes k and v from another sequence
  (the decoder's "multi-head attention block is NOT self-attention. It attends over encoder
  outputs").
* **Masks.** ``True`` = may attend. Masked alignment scores are "manually set to −∞" (here the most
  negative finite value, so a row with every key masked yields zeros instead of NaN). Causal masks
  stop a position from looking at later ones; padding masks hide the ``<NULL>`` keys.
* **Positional encoding.** ``P(t) = [sin(ω_1 t), cos(ω_1 t), …, sin(ω_{d/2} t), cos(ω_{d/2} t)]``.
  The notes write ``ω_k = 1 / 10000^{2k/d}`` for k = 1 … d/2, so their highest frequency is
  ``10000^{-2/d}``; Vaswani et al. (and the course's assignment code) use k = 0 … d/2 − 1, whose
  first pair is sin(t), cos(t). Both satisfy the notes' four constraints (unique, equidistant,
  bounded, deterministic); ``convention="vaswani"`` is the default and ``"course_notes"`` gives
  the notes' frequencies. Either way ``P(i)·P(i+k) = Σ_j cos(ω_j k)`` does not depend on i.
* **Blocks.** Encoder: self-attention, then an MLP applied to every vector independently, each
  with a residual connection and layer norm. *Post-norm* (Vaswani et al.; PyTorch's default, the
  course's ``nn.TransformerDecoderLayer``): ``x = LN(x + sublayer(x))``; *pre-norm* (ViT, GPT-2):
  ``x = x + sublayer(LN(x))``, plus a final layer norm after the stack. The decoder adds masked
  self-attention and cross-attention over the encoder's outputs (or image features).
"""

from __future__ import annotations

import math
from typing import Any, Callable

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from cs231n_jax.errors import ConfigError

Array = jax.Array

NORM_POSITIONS = ("pre", "post")
PE_CONVENTIONS = ("vaswani", "course_notes")
PE_BASE = 10000.0  # the wavelength base of the sinusoidal encoding (Vaswani et al.)
LEARNED_PE_STDDEV = 0.02  # BERT / ViT initialisation of learned position embeddings
LAYER_NORM_EPS = 1e-5  # PyTorch's default, which the course's transformer uses
ACTIVATIONS: dict[str, Callable[[Array], Array]] = {"relu": nn.relu, "gelu": nn.gelu}


# ---------------------------------------------------------------------------------------------
# Masks.
# ---------------------------------------------------------------------------------------------


def causal_mask(length: int) -> Array:
  """(length, length) booleans: position i may attend to j ≤ i (lower triangle)."""
  return jnp.tril(jnp.ones((length, length), dtype=bool))


def padding_mask(valid: Array) -> Array:
  """(N, S) booleans marking real (non-padding) keys -> an (N, 1, 1, S) mask that broadcasts over
  heads and queries. ``valid`` is e.g. ``tokens != null_id``."""
  valid = jnp.asarray(valid)
  if valid.ndim != 2:
    raise ValueError(f"padding_mask: valid must be (N, S) booleans, got shape {valid.shape}")
  return valid.astype(bool)[:, None, None, :]


def lengths_mask(lengths: Array, max_length: int) -> Array:
  """(N,) sequence lengths -> (N, max_length) booleans, True before each length."""
  return jnp.arange(max_length)[None, :] < jnp.asarray(lengths)[:, None]


def combine_masks(*masks: Array | None) -> Array | None:
  """Logical AND of the masks that are not None (broadcast), or None."""
  masks = [jnp.asarray(m, dtype=bool) for m in masks if m is not None]
  if not masks:
    return None
  out = masks[0]
  for m in masks[1:]:
    out = jnp.logical_and(out, m)
  return out


# ---------------------------------------------------------------------------------------------
# Scaled dot-product attention.
# ---------------------------------------------------------------------------------------------


def scaled_dot_product_attention(
    q: Array, k: Array, v: Array, mask: Array | None = None, *, dropout_rate: float = 0.0,
    dropout_rng: Array | None = None, deterministic: bool = True,
) -> tuple[Array, Array]:
  """``softmax(q kᵀ / √d) v`` over the last two axes; returns (output, attention weights).

  Args:
    q: (..., Tq, d) queries; k: (..., Tk, d) keys; v: (..., Tk, dv) values (leading axes, e.g.
      batch and heads, broadcast).
    mask: booleans broadcastable to (..., Tq, Tk); False entries get weight exactly 0.
    dropout_rate, dropout_rng, deterministic: dropout on the attention weights (as the course's
      MultiHeadAttention applies it), only when not deterministic.

  Returns:
    (..., Tq, dv) outputs and (..., Tq, Tk) weights (each row sums to 1, or is all 0 when every
    key of the row is masked).
  """
  if q.shape[-1] != k.shape[-1]:
    raise ValueError(f"scaled_dot_product_attention: q {q.shape} and k {k.shape} must share the last (feature) axis")
  if k.shape[-2] != v.shape[-2]:
    raise ValueError(f"scaled_dot_product_attention: k {k.shape} and v {v.shape} must have the same number of keys")
  scores = jnp.einsum("...qd,...kd->...qk", q, k) / jnp.sqrt(jnp.asarray(q.shape[-1], q.dtype))
  if mask is not None:
    mask = jnp.asarray(mask, dtype=bool)
    try:
      jnp.broadcast_shapes(mask.shape, scores.shape)
    except ValueError:
      raise ValueError(f"scaled_dot_product_attention: mask {mask.shape} does not broadcast "
                       f"to the scores {scores.shape} (..., Tq, Tk)") from None
    scores = jnp.where(mask, scores, jnp.finfo(scores.dtype).min)
  weights = jax.nn.softmax(scores.astype(jnp.float32), axis=-1).astype(q.dtype)
  if mask is not None:
    weights = jnp.where(mask, weights, 0)
  if dropout_rate > 0 and not deterministic:
    if dropout_rng is None:
      raise ValueError("scaled_dot_product_attention: dropout needs a dropout_rng when not deterministic")
    keep = jax.random.bernoulli(dropout_rng, 1.0 - dropout_rate, weights.shape)
    weights = jnp.where(keep, weights / (1.0 - dropout_rate), 0)
  return jnp.einsum("...qk,...kd->...qd", weights, v), weights


class MultiHeadAttention(nn.Module):
  """Multi-head attention: project queries, keys and values (``query`` / ``key`` / ``value``
  Dense layers), split ``embed_dim`` into ``num_heads`` heads of ``embed_dim / num_heads``, attend
  in every head in parallel, concatenate, and project back (``out``).

  ``__call__(query, key=None, value=None, mask=None, train=False)``: self-attention when key and
  value are omitted, cross-attention otherwise. ``mask`` broadcasts to (N, heads, Tq, Tk) (a
  (Tq, Tk) causal mask, an (N, 1, 1, Tk) padding mask, or their ``combine_masks``). The weights of
  the last call are sown into the ``intermediates`` collection as ``attention_weights``
  (``apply(..., mutable=["intermediates"])`` reads them).
  """

  embed_dim: int
  num_heads: int = 1
  dropout_rate: float = 0.0
  use_bias: bool = True
  dtype: Any = None
  kernel_init: Callable = nn.initializers.xavier_uniform()

  @nn.compact
  def __call__(self, query: Array, key: Array | None = None, value: Array | None = None,
               mask: Array | None = None, *, train: bool = False) -> Array:
    if self.embed_dim % self.num_heads:
      raise ConfigError(f"model.num_heads: embed_dim {self.embed_dim} must be divisible by num_heads {self.num_heads}")
    key = query if key is None else key
    value = key if value is None else value
    if query.ndim != 3 or key.ndim != 3 or value.ndim != 3:
      raise ValueError(f"MultiHeadAttention: query, key and value must be (N, T, D); got {query.shape}, {key.shape}, {value.shape}")
    dense = lambda name: nn.Dense(self.embed_dim, use_bias=self.use_bias, dtype=self.dtype,
                                  kernel_init=self.kernel_init, name=name)
    head_dim = self.embed_dim // self.num_heads

    def split(x):  # (N, T, E) -> (N, heads, T, head_dim)
      return x.reshape(*x.shape[:2], self.num_heads, head_dim).transpose(0, 2, 1, 3)

    q, k, v = split(dense("query")(query)), split(dense("key")(key)), split(dense("value")(value))
    deterministic = not train or self.dropout_rate == 0
    rng = None if deterministic else self.make_rng("dropout")
    out, weights = scaled_dot_product_attention(q, k, v, mask, dropout_rate=self.dropout_rate, dropout_rng=rng,
                                                deterministic=deterministic)
    self.sow("intermediates", "attention_weights", weights)
    out = out.transpose(0, 2, 1, 3).reshape(*query.shape[:2], self.embed_dim)
    return dense("out")(out)


# ---------------------------------------------------------------------------------------------
# Positional encodings.
# ---------------------------------------------------------------------------------------------


def sinusoidal_frequencies(dim: int, convention: str = "vaswani") -> np.ndarray:
  """The d/2 angular frequencies ω_k of the sinusoidal encoding (see the module docstring)."""
  if convention not in PE_CONVENTIONS:
    raise ConfigError(f"positional encoding convention: expected one of {PE_CONVENTIONS}, got {convention!r}")
  if dim < 2 or dim % 2:
    raise ConfigError(f"positional encoding: dim must be a positive even number (sin/cos pairs), got {dim}")
  k = np.arange(dim // 2) + (1 if convention == "course_notes" else 0)
  return 1.0 / PE_BASE ** (2.0 * k / dim)


def sinusoidal_positional_encoding(length: int, dim: int, convention: str = "vaswani") -> np.ndarray:
  """(length, dim) float32: row t is [sin(ω_1 t), cos(ω_1 t), …, sin(ω_{d/2} t), cos(ω_{d/2} t)]."""
  angles = np.arange(length, dtype=np.float64)[:, None] * sinusoidal_frequencies(dim, convention)[None, :]
  pe = np.empty((length, dim), np.float64)
  pe[:, 0::2], pe[:, 1::2] = np.sin(angles), np.cos(angles)
  return pe.astype(np.float32)


class SinusoidalPositionalEncoding(nn.Module):
  """Adds the fixed sinusoidal encoding of positions 0 … T−1 to (N, T, D) inputs, then dropout."""

  max_len: int = 512
  convention: str = "vaswani"
  dropout_rate: float = 0.0

  @nn.compact
  def __call__(self, x: Array, *, train: bool = False, offset: int | Array = 0) -> Array:
    length, dim = x.shape[-2], x.shape[-1]
    if length > self.max_len:
      raise ValueError(f"SinusoidalPositionalEncoding: sequence length {length} exceeds max_len {self.max_len}")
    table = jnp.asarray(sinusoidal_positional_encoding(self.max_len, dim, self.convention), x.dtype)
    x = x + jax.lax.dynamic_slice_in_dim(table, offset, length, axis=0)
    return nn.Dropout(self.dropout_rate, deterministic=not train)(x)


class LearnedPositionalEncoding(nn.Module):
  """Adds a learned vector per position (``embedding`` (max_len, D), N(0, 0.02²)), then dropout."""

  max_len: int = 512
  dropout_rate: float = 0.0

  @nn.compact
  def __call__(self, x: Array, *, train: bool = False, offset: int | Array = 0) -> Array:
    length, dim = x.shape[-2], x.shape[-1]
    if length > self.max_len:
      raise ValueError(f"LearnedPositionalEncoding: sequence length {length} exceeds max_len {self.max_len}")
    table = self.param("embedding", nn.initializers.normal(LEARNED_PE_STDDEV), (self.max_len, dim))
    x = x + jax.lax.dynamic_slice_in_dim(table, offset, length, axis=0).astype(x.dtype)
    return nn.Dropout(self.dropout_rate, deterministic=not train)(x)


def positional_encoding(kind: str, max_len: int, dropout_rate: float = 0.0, name: str | None = None) -> nn.Module:
  """``"sinusoidal"`` | ``"sinusoidal_course_notes"`` | ``"learned"``."""
  if kind == "sinusoidal":
    return SinusoidalPositionalEncoding(max_len, "vaswani", dropout_rate, name=name)
  if kind == "sinusoidal_course_notes":
    return SinusoidalPositionalEncoding(max_len, "course_notes", dropout_rate, name=name)
  if kind == "learned":
    return LearnedPositionalEncoding(max_len, dropout_rate, name=name)
  raise ConfigError(f"model.positional: expected 'sinusoidal', 'sinusoidal_course_notes' or 'learned', got {kind!r}")


# ---------------------------------------------------------------------------------------------
# Transformer blocks.
# ---------------------------------------------------------------------------------------------


class FeedForward(nn.Module):
  """The per-vector MLP of a transformer block: Dense(mlp_dim) - activation - dropout - Dense(D)."""

  mlp_dim: int
  dropout_rate: float = 0.0
  activation: str = "relu"
  dtype: Any = None

  @nn.compact
  def __call__(self, x: Array, *, train: bool = False) -> Array:
    if self.activation not in ACTIVATIONS:
      raise ConfigError(f"model.activation: expected one of {tuple(ACTIVATIONS)}, got {self.activation!r}")
    h = ACTIVATIONS[self.activation](nn.Dense(self.mlp_dim, dtype=self.dtype, name="hidden")(x))
    h = nn.Dropout(self.dropout_rate, deterministic=not train)(h)
    return nn.Dense(x.shape[-1], dtype=self.dtype, name="output")(h)


def _check_norm(norm: str) -> None:
  if norm not in NORM_POSITIONS:
    raise ConfigError(f"model.norm: expected one of {NORM_POSITIONS}, got {norm!r}")


class _Residual(nn.Module):
  """One sublayer with its residual connection and layer norm, pre- or post-norm."""

  norm: str
  dropout_rate: float
  dtype: Any = None

  @nn.compact
  def __call__(self, x: Array, sublayer: Callable[[Array], Array], *, train: bool) -> Array:
    ln = nn.LayerNorm(epsilon=LAYER_NORM_EPS, dtype=self.dtype, name="norm")
    drop = nn.Dropout(self.dropout_rate, deterministic=not train)
    if self.norm == "pre":
      return x + drop(sublayer(ln(x)))
    return ln(x + drop(sublayer(x)))


class TransformerEncoderBlock(nn.Module):
  """Self-attention then the MLP, each with a residual connection and layer norm (``norm``: "pre"
  or "post"). ``mask`` hides keys (padding) or future positions (a causal encoder)."""

  embed_dim: int
  num_heads: int
  mlp_dim: int
  dropout_rate: float = 0.0
  attention_dropout_rate: float = 0.0
  norm: str = "pre"
  activation: str = "relu"
  dtype: Any = None

  @nn.compact
  def __call__(self, x: Array, mask: Array | None = None, *, train: bool = False) -> Array:
    _check_norm(self.norm)
    attn = MultiHeadAttention(self.embed_dim, self.num_heads, self.attention_dropout_rate, dtype=self.dtype,
                              name="self_attention")
    ffn = FeedForward(self.mlp_dim, self.dropout_rate, self.activation, self.dtype, name="mlp")
    x = _Residual(self.norm, self.dropout_rate, self.dtype, name="attention_residual")(
        x, lambda y: attn(y, mask=mask, train=train), train=train)
    return _Residual(self.norm, self.dropout_rate, self.dtype, name="mlp_residual")(
        x, lambda y: ffn(y, train=train), train=train)


class TransformerDecoderBlock(nn.Module):
  """Masked self-attention over the targets, cross-attention over ``memory`` (encoder outputs or
  image features), then the MLP; residual connections and layer norm around each (pre or post)."""

  embed_dim: int
  num_heads: int
  mlp_dim: int
  dropout_rate: float = 0.0
  attention_dropout_rate: float = 0.0
  norm: str = "post"
  activation: str = "relu"
  dtype: Any = None

  @nn.compact
  def __call__(self, x: Array, memory: Array, self_mask: Array | None = None, memory_mask: Array | None = None,
               *, train: bool = False) -> Array:
    _check_norm(self.norm)
    self_attn = MultiHeadAttention(self.embed_dim, self.num_heads, self.attention_dropout_rate, dtype=self.dtype,
                                   name="self_attention")
    cross_attn = MultiHeadAttention(self.embed_dim, self.num_heads, self.attention_dropout_rate, dtype=self.dtype,
                                    name="cross_attention")
    ffn = FeedForward(self.mlp_dim, self.dropout_rate, self.activation, self.dtype, name="mlp")
    res = lambda name: _Residual(self.norm, self.dropout_rate, self.dtype, name=name)
    x = res("self_attention_residual")(x, lambda y: self_attn(y, mask=self_mask, train=train), train=train)
    x = res("cross_attention_residual")(x, lambda y: cross_attn(y, memory, memory, mask=memory_mask, train=train), train=train)
    return res("mlp_residual")(x, lambda y: ffn(y, train=train), train=train)


class TransformerEncoder(nn.Module):
  """``num_layers`` encoder blocks (the notes: "N=6 in original paper"); a final layer norm after
  a pre-norm stack (whose residual stream is otherwise never normalised)."""

  num_layers: int
  embed_dim: int
  num_heads: int
  mlp_dim: int
  dropout_rate: float = 0.0
  attention_dropout_rate: float = 0.0
  norm: str = "pre"
  activation: str = "relu"
  dtype: Any = None

  @nn.compact
  def __call__(self, x: Array, mask: Array | None = None, *, train: bool = False) -> Array:
    for i in range(self.num_layers):
      x = TransformerEncoderBlock(self.embed_dim, self.num_heads, self.mlp_dim, self.dropout_rate,
                                  self.attention_dropout_rate, self.norm, self.activation, self.dtype,
                                  name=f"block_{i}")(x, mask, train=train)
    if self.norm == "pre":
      x = nn.LayerNorm(epsilon=LAYER_NORM_EPS, dtype=self.dtype, name="final_norm")(x)
    return x


class TransformerDecoder(nn.Module):
  """``num_layers`` decoder blocks with a causal self-mask (combined with ``target_mask``, e.g.
  padding); a final layer norm after a pre-norm stack."""

  num_layers: int
  embed_dim: int
  num_heads: int
  mlp_dim: int
  dropout_rate: float = 0.0
  attention_dropout_rate: float = 0.0
  norm: str = "post"
  activation: str = "relu"
  dtype: Any = None

  @nn.compact
  def __call__(self, x: Array, memory: Array, target_mask: Array | None = None, memory_mask: Array | None = None,
               *, train: bool = False) -> Array:
    self_mask = combine_masks(causal_mask(x.shape[1]), target_mask)
    for i in range(self.num_layers):
      x = TransformerDecoderBlock(self.embed_dim, self.num_heads, self.mlp_dim, self.dropout_rate,
                                  self.attention_dropout_rate, self.norm, self.activation, self.dtype,
                                  name=f"block_{i}")(x, memory, self_mask, memory_mask, train=train)
    if self.norm == "pre":
      x = nn.LayerNorm(epsilon=LAYER_NORM_EPS, dtype=self.dtype, name="final_norm")(x)
    return x


def attention_memory_bytes(num_queries: int, num_keys: int, num_heads: int = 1, bytes_per_value: int = 4) -> int:
  """The notes' "N×M alignment and attention scalars ... for a single self-attention head": the
  bytes of the (heads, N, M) weight matrix one attention call materialises."""
  return math.prod((num_heads, num_queries, num_keys)) * bytes_per_value


__all__ = [
    "FeedForward", "LearnedPositionalEncoding", "MultiHeadAttention", "SinusoidalPositionalEncoding",
    "TransformerDecoder", "TransformerDecoderBlock", "TransformerEncoder", "TransformerEncoderBlock",
    "attention_memory_bytes", "causal_mask", "combine_masks", "lengths_mask", "padding_mask",
    "positional_encoding", "scaled_dot_product_attention", "sinusoidal_frequencies",
    "sinusoidal_positional_encoding",
]
