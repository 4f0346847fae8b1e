"""The character-level language model of lecture 10 in Flax: characters in (one-hot, as in
min-char-rnn and the lecture's "hello" example, or a learned embedding), a recurrent stack
(vanilla RNN, LSTM or GRU; one or more layers), and at every step the scores of the next
character (``y_t = W_hy h_t``)."""

from __future__ import annotations

from typing import Any, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

from cs231n_jax.errors import ConfigError
from cs231n_jax.models.registry import register
from cs231n_jax.nn.recurrent import RecurrentStack

Array = jax.Array


@register("char_lm", "Character language model: (embedding) - RNN / LSTM / GRU stack - next-character logits.",
          input_shape=None, family="char_lm")
class CharLM(nn.Module):
  """``__call__(tokens (N, T), carries=None, train=False) -> (carries, logits (N, T, V))``.

  ``carries`` is one state per layer (``RecurrentStack.initialize_carries``); feeding back the
  returned carries continues the text (truncated BPTT in training, the sampler at test time).
  ``embed_dim = 0`` feeds one-hot characters, as min-char-rnn does.
  """

  vocab_size: int
  cell: str = "lstm"
  hidden_size: int = 256
  num_layers: int = 1
  embed_dim: int = 0
  dropout_rate: float = 0.0
  dtype: Any = None

  def setup(self):
    if self.vocab_size < 2:
      raise ConfigError(f"model.vocab_size: expected at least 2 characters, got {self.vocab_size}")
    self.embed = nn.Embed(self.vocab_size, self.embed_dim, name="embed") if self.embed_dim else None
    self.rnn = RecurrentStack(self.cell, self.hidden_size, self.num_layers, dropout_rate=self.dropout_rate,
                              dtype=self.dtype, name="rnn")
    self.drop = nn.Dropout(self.dropout_rate)
    self.head = nn.Dense(self.vocab_size, dtype=self.dtype, name="head")

  def __call__(self, tokens: Array, carries: Sequence[Any] | None = None, *, train: bool = False):
    x = self.embed(tokens) if self.embed is not None else jax.nn.one_hot(tokens, self.vocab_size, dtype=self.dtype or jnp.float32)
    carries, h = self.rnn(x, carries, train=train)
    h = self.drop(h, deterministic=not train)
    return carries, self.head(h).astype(jnp.float32)

  @nn.nowrap
  def initial_carries(self, batch_size: int):
    return RecurrentStack(self.cell, self.hidden_size, self.num_layers).initialize_carries(batch_size)

  def input_vectors(self, tokens: Array) -> Array:
    """What the first recurrent layer reads for ``tokens`` (embedding rows or one-hots)."""
    return self.embed(tokens) if self.embed is not None else jax.nn.one_hot(tokens, self.vocab_size)
