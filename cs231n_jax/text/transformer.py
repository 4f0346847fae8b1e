"""A character-level causal transformer language model (lecture 11's decoder-only transformer on the
lecture 10 task), with the same interface as :class:`cs231n_jax.text.model.CharLM`, so that the
char-LM task trains it with its truncated-BPTT streams and scores it over whole held-out splits.

The "carry" of a transformer is text, not a hidden vector: the last ``memory`` characters read
(ids, and a flag marking which of them are real, so that a stream's start has none). A call on T
new characters attends over the window ``memory + T`` (causal mask, memory slots not yet filled
masked out), and predicts only the T new positions; the window's last ``memory`` characters are the
next carry. With ``memory = 128`` and chunks of 128, every character is predicted from between 128
and 255 characters before it: an attention window of 256 characters. Gradients never flow into the
memory (it is a window of ids; the task's ``stop_gradient`` on the carry is a no-op here).

Positions are sinusoidal (Vaswani et al.), added unscaled to embeddings of unit variance (Flax's
``nn.Embed`` initialisation: the paper's √d scaling is for embeddings of variance 1/d), and count
real characters from the window's first one, so the encoding a character gets depends only on how
much text precedes it in the window, not on the chunk length the caller uses (training chunks,
evaluation windows and the one-character steps of the sampler see the same positions). Blocks: the project's pre-norm
:class:`cs231n_jax.nn.attention.TransformerEncoder` with a causal mask.
"""

from __future__ import annotations

from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

from cs231n_jax.errors import ConfigError
from cs231n_jax.models.registry import register
from cs231n_jax.nn.attention import TransformerEncoder, causal_mask, combine_masks, padding_mask, sinusoidal_positional_encoding

Array = jax.Array


def window_positions(valid: Array) -> Array:
  """(N, S) 0/1 real-character flags -> (N, S) positions: 0 at the first real character of each
  row, counting up over real characters (0 before it)."""
  return jnp.maximum(jnp.cumsum(valid.astype(jnp.int32), axis=1) - 1, 0)


@register("char_transformer", "Character causal transformer: embedding + sinusoidal positions - pre-norm causal "
          "encoder over a carried window of text - next-character logits.", input_shape=None, family="char_lm")
class CharTransformer(nn.Module):
  """``__call__(tokens (N, T), carries=None, train=False) -> (carries, logits (N, T, V))``;
  ``carries = {"tokens": (N, memory) int32, "valid": (N, memory) int32}`` (zeros: no text yet)."""

  vocab_size: int
  embed_dim: int = 128
  num_layers: int = 4
  num_heads: int = 4
  mlp_dim: int = 512
  memory: int = 128
  dropout_rate: float = 0.0
  dtype: Any = None

  def setup(self):
    if self.vocab_size < 2:
      raise ConfigError(f"model.vocab_size: expected at least 2 characters, got {self.vocab_size}")
    if self.memory < 0:
      raise ConfigError(f"model.memory: expected a number of characters >= 0, got {self.memory}")
    self.embed = nn.Embed(self.vocab_size, self.embed_dim, name="embed")
    self.encoder = TransformerEncoder(self.num_layers, self.embed_dim, self.num_heads, self.mlp_dim, self.dropout_rate,
                                      norm="pre", activation="gelu", dtype=self.dtype, name="encoder")
    self.drop = nn.Dropout(self.dropout_rate)
    self.head = nn.Dense(self.vocab_size, dtype=self.dtype, name="head")

  def __call__(self, tokens: Array, carries: dict[str, Array] | None = None, *, train: bool = False):
    n, t = tokens.shape
    if carries is None:
      carries = self.initial_carries(n)
    window = jnp.concatenate([carries["tokens"], tokens.astype(jnp.int32)], axis=1)
    valid = jnp.concatenate([carries["valid"], jnp.ones((n, t), jnp.int32)], axis=1)
    length = window.shape[1]
    # The Vaswani table's rows at each character's position within its text (positions < length).
    positions = jnp.asarray(sinusoidal_positional_encoding(length, self.embed_dim))[window_positions(valid)]
    x = self.drop(self.embed(window) + positions, deterministic=not train)
    mask = combine_masks(causal_mask(length), padding_mask(valid > 0))
    h = self.encoder(x, mask, train=train)[:, self.memory:]
    new = {"tokens": window[:, length - self.memory:], "valid": valid[:, length - self.memory:]}
    return new, self.head(h).astype(jnp.float32)

  @nn.nowrap
  def initial_carries(self, batch_size: int) -> dict[str, Array]:
    return {"tokens": jnp.zeros((batch_size, self.memory), jnp.int32),
            "valid": jnp.zeros((batch_size, self.memory), jnp.int32)}
