"""The character-level language model of lecture 10 in Flax: characters in (one-hot, as in
min-char-rnn and the lecture's "hello" example, or a learned embedding), a recurrent stack
(vanilla RNN, LSTM or GRU; one or more layers), and at every step the scores of the next
character (``y_t = W_hy h_t``).

Regularisation (all off by default, all only when ``train``): ``dropout_rate`` before the output
layer (and between layers); ``embed_dropout_rate`` on the vectors the first layer reads;
``recurrent_dropout_rate`` (LSTM only) variational dropout on the recurrent path (Gal & Ghahramani
2016): one mask per stream and chunk, the same at every time step, applied to ``h_{t-1}`` where the
cell reads it (``h_{t-1} Wh``), not to the state the cell carries on or outputs.
"""

from __future__ import annotations

from typing import Any, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

from cs231n_jax.errors import ConfigError
from cs231n_jax.models.registry import register
from cs231n_jax.nn.recurrent import LSTMCell, RecurrentStack

Array = jax.Array


class MaskedRecurrenceLSTMCell(LSTMCell):
  """:class:`~cs231n_jax.nn.recurrent.LSTMCell` whose input is ``[x_t, m]`` with ``m`` (N, H) the
  recurrent-dropout mask: the gates read ``x_t Wx + (m ⊙ h_{t-1}) Wh + b``; the carried ``(c, h)``
  and the output are the cell's own. With ``m = 1`` it is the plain LSTM cell, parameters and all."""

  def __call__(self, carry, xm):
    # h_{t-1} enters the LSTM's update only through h_{t-1} Wh, so masking the h it reads is the whole change:
    # the parent's gates, parameters and carried c are used as they are, and it returns its own new (c, h).
    c, h = carry
    x, m = xm[..., :-self.features], xm[..., -self.features:]
    return super().__call__((c, m.astype(h.dtype) * h), x)


class VariationalLSTMStack(nn.Module):
  """The LSTM layers of :class:`~cs231n_jax.nn.recurrent.RecurrentStack` (same parameter names,
  ``layer_<l>/{Wx, Wh, b}``, same carries) with variational dropout on each layer's recurrent path:
  in training one Bernoulli(1 - rate) / (1 - rate) mask per stream and layer, drawn once per call and
  reused at every time step (sown as ``intermediates/recurrent_mask_<l>``). ``dropout_rate`` between
  layers as in ``RecurrentStack``."""

  hidden_size: int
  num_layers: int = 1
  recurrent_dropout_rate: float = 0.0
  dropout_rate: float = 0.0
  dtype: Any = None

  @nn.compact
  def __call__(self, x: Array, initial_carries=None, *, train: bool = False):
    n, t = x.shape[:2]
    keep = 1.0 - self.recurrent_dropout_rate
    carries = []
    for layer in range(self.num_layers):
      init = None if initial_carries is None else initial_carries[layer]
      if train and self.recurrent_dropout_rate > 0:
        m = jax.random.bernoulli(self.make_rng("dropout"), keep, (n, self.hidden_size)).astype(x.dtype) / keep
      else:
        m = jnp.ones((n, self.hidden_size), x.dtype)
      self.sow("intermediates", f"recurrent_mask_{layer}", m)  # kept only when "intermediates" is mutable (tests)
      xm = jnp.concatenate([x, jnp.broadcast_to(m[:, None, :], (n, t, self.hidden_size))], axis=-1)
      cell = MaskedRecurrenceLSTMCell(self.hidden_size, dtype=self.dtype, name=f"layer_{layer}")
      carry, x = nn.RNN(cell)(xm, initial_carry=init, return_carry=True)
      carries.append(carry)
      if self.dropout_rate > 0 and layer < self.num_layers - 1:
        x = nn.Dropout(self.dropout_rate, deterministic=not train)(x)
    return carries, x


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
  embed_dropout_rate: float = 0.0
  recurrent_dropout_rate: float = 0.0
  dtype: Any = None

  def setup(self):
    if self.vocab_size < 2:
      raise ConfigError(f"model.vocab_size: expected at least 2 characters, got {self.vocab_size}")
    for name in ("dropout_rate", "embed_dropout_rate", "recurrent_dropout_rate"):
      rate = getattr(self, name)
      if not 0.0 <= rate < 1.0:
        raise ConfigError(f"model.{name}: expected a drop probability in [0, 1), got {rate}")
    if self.recurrent_dropout_rate > 0 and self.cell != "lstm":
      raise ConfigError(f"model.recurrent_dropout_rate: variational recurrent dropout needs cell 'lstm', got cell {self.cell!r}")
    self.embed = nn.Embed(self.vocab_size, self.embed_dim, name="embed") if self.embed_dim else None
    if self.recurrent_dropout_rate > 0:
      self.rnn = VariationalLSTMStack(self.hidden_size, self.num_layers, self.recurrent_dropout_rate,
                                      dropout_rate=self.dropout_rate, dtype=self.dtype, name="rnn")
    else:
      self.rnn = RecurrentStack(self.cell, self.hidden_size, self.num_layers, dropout_rate=self.dropout_rate,
                                dtype=self.dtype, name="rnn")
    self.embed_drop = nn.Dropout(self.embed_dropout_rate)
    self.drop = nn.Dropout(self.dropout_rate)
    self.head = nn.Dense(self.vocab_size, dtype=self.dtype, name="head")

  def __call__(self, tokens: Array, carries: Sequence[Any] | None = None, *, train: bool = False):
    x = self.embed(tokens) if self.embed is not None else jax.nn.one_hot(tokens, self.vocab_size, dtype=self.dtype or jnp.float32)
    x = self.embed_drop(x, deterministic=not train)
    carries, h = self.rnn(x, carries, train=train)
    h = self.drop(h, deterministic=not train)
    return carries, self.head(h).astype(jnp.float32)

  @nn.nowrap
  def initial_carries(self, batch_size: int):
    return RecurrentStack(self.cell, self.hidden_size, self.num_layers).initialize_carries(batch_size)

  def input_vectors(self, tokens: Array) -> Array:
    """What the first recurrent layer reads for ``tokens`` (embedding rows or one-hots)."""
    return self.embed(tokens) if self.embed is not None else jax.nn.one_hot(tokens, self.vocab_size)
