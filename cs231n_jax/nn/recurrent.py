"""Recurrent networks in Flax (lecture 10): vanilla RNN, LSTM and GRU cells; multi-layer and
bidirectional stacks driven by ``nn.scan`` (through ``nn.RNN``); truncated backpropagation through
time with the hidden state carried across chunks; gradient clipping by norm and by value.

The cells hold the course's parameters under the course's names — ``Wx`` (D, gH), ``Wh`` (H, gH),
``b`` (gH,) with the gate blocks in the course's order (LSTM: i, f, o, g; GRU: r, z, n) — so a
trained Flax cell can be handed to ``cs231n_jax.layers.rnn_forward`` / ``lstm_forward`` /
``gru_forward`` and gives the same states (the tests check it). They implement Flax's
``RNNCellBase`` interface (``__call__(carry, x) -> (carry, y)``, ``initialize_carry``), so
``nn.RNN`` and ``nn.Bidirectional`` drive them; ``nn.RNN`` is a ``nn.scan`` over time, the
"same function and the same set of parameters at every time step" of the recurrence formula.

Truncated BPTT (lecture 10: "carry hidden states forward in time forever, but only backpropagate
for some smaller number of steps"): :func:`truncated_bptt_grads` scans over chunks of a long
sequence; each chunk's loss is differentiated with the incoming state held constant
(``stop_gradient``), while the forward states continue exactly as in one long pass. Training with
it — the optimizer stepping after every chunk, the state carried across steps — is the char-LM
task's (:func:`cs231n_jax.tasks.char_lm.truncated_bptt`).

Clipping (lecture 10, "scale gradient if its norm is too big"): the slide's snippet computes
``grad_norm = np.sum(grad * grad)``, the *squared* norm, and rescales by threshold / that; the
rescaling here (optax's ``clip_by_global_norm``) uses the true L2 norm, so after clipping
``‖g‖ ≤ threshold`` exactly. min-char-rnn clips every entry to [-5, 5] instead (``"value"``).
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
import optax

from cs231n_jax.errors import ConfigError

Array = jax.Array
Carry = Any

CELL_KINDS = ("rnn", "lstm", "gru")
CLIP_KINDS = ("none", "norm", "value")
# Jozefowicz et al. (2015), the MUT study lecture 10 cites: start the LSTM forget gate open
# (bias 1) so that early in training the cell remembers by default. The course's own
# CaptioningRNN starts every bias at 0 (cs231n_jax.captioning.course_model keeps that).
LSTM_FORGET_BIAS = 1.0


class _CourseCell(nn.RNNCellBase):
  """Shared fields: ``Wx`` ~ LeCun normal (variance 1/D, the course's randn / sqrt(D)), ``Wh``
  orthogonal (so the recurrence starts with every singular value 1: neither exploding nor
  vanishing), biases 0."""

  features: int
  kernel_init: Callable = nn.initializers.lecun_normal()
  recurrent_kernel_init: Callable = nn.initializers.orthogonal()
  bias_init: Callable = nn.initializers.zeros_init()
  dtype: Any = None
  param_dtype: Any = jnp.float32

  gates = 1

  def _weights(self, input_dim: int):
    g, h = self.gates, self.features
    # One orthogonal block per gate: orthogonal() of an (H, gH) matrix would only make its rows
    # orthonormal, not each gate's square block.
    recurrent = lambda key, shape, dtype: jnp.concatenate(
        [self.recurrent_kernel_init(k, (h, h), dtype) for k in jax.random.split(key, g)], axis=1)
    Wx = self.param("Wx", self.kernel_init, (input_dim, g * h), self.param_dtype)
    Wh = self.param("Wh", recurrent, (h, g * h), self.param_dtype)
    b = self.param("b", self._bias_init, (g * h,), self.param_dtype)
    dtype = self.dtype or jnp.result_type(Wx.dtype, jnp.float32)
    return Wx.astype(dtype), Wh.astype(dtype), b.astype(dtype), dtype

  def _bias_init(self, key, shape, dtype):
    return self.bias_init(key, shape, dtype)

  @property
  def num_feature_axes(self) -> int:
    return 1


class SimpleRNNCell(_CourseCell):
  """The vanilla ("Elman") RNN cell: ``h_t = tanh(x_t Wx + h_{t-1} Wh + b)``; the output is h."""

  @nn.compact
  def __call__(self, carry: Array, x: Array) -> tuple[Array, Array]:
    Wx, Wh, b, dtype = self._weights(x.shape[-1])
    h = jnp.tanh(x.astype(dtype) @ Wx + carry.astype(dtype) @ Wh + b)
    return h, h

  @nn.nowrap
  def initialize_carry(self, rng, input_shape: tuple[int, ...]) -> Array:
    del rng
    return jnp.zeros((*input_shape[:-1], self.features), self.param_dtype)


class LSTMCell(_CourseCell):
  """The LSTM cell of lecture 10 (stacked gate matrix, blocks i, f, o, g).

  ``(i, f, o, g) = (σ, σ, σ, tanh)(x Wx + h Wh + b)``; ``c' = f ⊙ c + i ⊙ g``; ``h' = o ⊙ tanh(c')``.
  The carry is ``(c, h)`` (Flax's order); the output is h.
  """

  forget_bias: float = LSTM_FORGET_BIAS
  gates = 4

  def _bias_init(self, key, shape, dtype):
    b = self.bias_init(key, shape, dtype)
    return b.at[self.features:2 * self.features].add(self.forget_bias)

  @nn.compact
  def __call__(self, carry: tuple[Array, Array], x: Array) -> tuple[tuple[Array, Array], Array]:
    c, h = carry
    Wx, Wh, b, dtype = self._weights(x.shape[-1])
    a = x.astype(dtype) @ Wx + h.astype(dtype) @ Wh + b
    i, f, o, g = jnp.split(a, 4, axis=-1)
    c = jax.nn.sigmoid(f) * c + jax.nn.sigmoid(i) * jnp.tanh(g)
    h = jax.nn.sigmoid(o) * jnp.tanh(c)
    return (c, h), h

  @nn.nowrap
  def initialize_carry(self, rng, input_shape: tuple[int, ...]) -> tuple[Array, Array]:
    del rng
    zeros = jnp.zeros((*input_shape[:-1], self.features), self.param_dtype)
    return zeros, zeros


class GRUCell(_CourseCell):
  """The GRU of lecture 10 (Cho et al. 2014), gate blocks r, z, n:

  ``r = σ(x Wx_r + h Wh_r + b_r)``, ``z = σ(x Wx_z + h Wh_z + b_z)``,
  ``n = tanh(x Wx_n + (r ⊙ h) Wh_n + b_n)``, ``h' = z ⊙ h + (1 - z) ⊙ n``.
  """

  # The update gate's initial bias: z = σ(bias) is the share of h_{t-1} kept. 0 (the default, as
  # PyTorch and Flax start it) keeps half; a positive value starts the cell remembering, the GRU's
  # counterpart of the LSTM's forget bias.
  update_bias: float = 0.0
  gates = 3

  def _bias_init(self, key, shape, dtype):
    b = self.bias_init(key, shape, dtype)
    return b.at[self.features:2 * self.features].add(self.update_bias)

  @nn.compact
  def __call__(self, carry: Array, x: Array) -> tuple[Array, Array]:
    Wx, Wh, b, dtype = self._weights(x.shape[-1])
    hdim = self.features
    h = carry.astype(dtype)
    ax = x.astype(dtype) @ Wx + b
    rz = jax.nn.sigmoid(ax[..., :2 * hdim] + h @ Wh[:, :2 * hdim])
    r, z = rz[..., :hdim], rz[..., hdim:]
    n = jnp.tanh(ax[..., 2 * hdim:] + (r * h) @ Wh[:, 2 * hdim:])
    h = z * h + (1 - z) * n
    return h, h

  @nn.nowrap
  def initialize_carry(self, rng, input_shape: tuple[int, ...]) -> Array:
    del rng
    return jnp.zeros((*input_shape[:-1], self.features), self.param_dtype)


CELLS: dict[str, type[_CourseCell]] = {"rnn": SimpleRNNCell, "lstm": LSTMCell, "gru": GRUCell}


def make_cell(kind: str, features: int, **kwargs) -> _CourseCell:
  """``make_cell("lstm", 128)``: a cell by name (``rnn`` | ``lstm`` | ``gru``)."""
  if kind not in CELLS:
    raise ConfigError(f"model.cell: expected one of {CELL_KINDS}, got {kind!r}")
  if not isinstance(features, int) or features < 1:
    raise ConfigError(f"model.hidden_size: expected a positive integer, got {features!r}")
  return CELLS[kind](features=features, **kwargs)


def hidden_state(carry: Carry) -> Array:
  """The hidden state h of a cell's carry (the LSTM's carry is (c, h))."""
  return carry[1] if isinstance(carry, tuple) else carry


class RecurrentStack(nn.Module):
  """``num_layers`` recurrent layers, each optionally bidirectional (multilayer RNN of lecture 10:
  layer l reads layer l-1's outputs at the same time step).

  Called on x (N, T, D) with optional ``initial_carries`` (one per layer; a ``(forward, backward)``
  pair per bidirectional layer), it returns ``(final_carries, outputs)`` with outputs (N, T, H) —
  (N, T, 2H) when bidirectional, the two directions concatenated. ``seq_lengths`` (N,) marks the
  end of each padded sequence (the backward direction then starts at each sequence's own end).
  Dropout (``dropout_rate``) applies between layers when ``train`` is True.
  """

  cell: str = "lstm"
  hidden_size: int = 128
  num_layers: int = 1
  bidirectional: bool = False
  dropout_rate: float = 0.0
  dtype: Any = None
  cell_kwargs: dict | None = None

  @nn.compact
  def __call__(self, x: Array, initial_carries: Sequence[Carry] | None = None, *, train: bool = False,
               seq_lengths: Array | None = None) -> tuple[list[Carry], Array]:
    if x.ndim != 3:
      raise ValueError(f"RecurrentStack: inputs must be (N, T, D), got shape {x.shape}")
    if self.num_layers < 1:
      raise ConfigError(f"model.num_layers: expected a positive integer, got {self.num_layers}")
    if not 0.0 <= self.dropout_rate < 1.0:
      raise ConfigError(f"model.dropout_rate: expected a drop probability in [0, 1), got {self.dropout_rate}")
    if initial_carries is not None and len(initial_carries) != self.num_layers:
      raise ValueError(f"RecurrentStack: {len(initial_carries)} initial carries for {self.num_layers} layers")
    kwargs = dict(self.cell_kwargs or {})
    carries = []
    for layer in range(self.num_layers):
      init = None if initial_carries is None else initial_carries[layer]
      # The cells are created here, so their parameters live under these names in this module:
      # params["layer_0"] = {"Wx", "Wh", "b"} (or "layer_0_forward" / "layer_0_backward").
      rnn = lambda name: nn.RNN(make_cell(self.cell, self.hidden_size, dtype=self.dtype, name=name, **kwargs))
      if self.bidirectional:
        carry, x = nn.Bidirectional(rnn(f"layer_{layer}_forward"), rnn(f"layer_{layer}_backward"))(
            x, initial_carry=init, seq_lengths=seq_lengths, return_carry=True)
      else:
        carry, x = rnn(f"layer_{layer}")(x, initial_carry=init, seq_lengths=seq_lengths, return_carry=True)
      carries.append(carry)
      if self.dropout_rate > 0 and layer < self.num_layers - 1:
        x = nn.Dropout(self.dropout_rate, deterministic=not train)(x)
    return carries, x

  @nn.nowrap
  def initialize_carries(self, batch_size: int) -> list[Carry]:
    """Zero states for every layer (and direction), for a batch of ``batch_size``."""
    cell = make_cell(self.cell, self.hidden_size, **dict(self.cell_kwargs or {}))
    one = lambda: cell.initialize_carry(jax.random.key(0), (batch_size, 1))
    return [(one(), one()) if self.bidirectional else one() for _ in range(self.num_layers)]


# ---------------------------------------------------------------------------------------------
# Truncated backpropagation through time and gradient clipping.
# ---------------------------------------------------------------------------------------------

LossFn = Callable[[Any, Carry, Any], tuple[Array, Carry]]  # (params, carry, chunk) -> (loss, carry)


def chunk_sequence(tokens: Array, chunk_length: int) -> Array:
  """(N, L) -> (L // chunk_length, N, chunk_length): consecutive chunks, time-major over chunks
  (a ragged tail is dropped)."""
  n, length = tokens.shape[:2]
  if chunk_length < 1 or chunk_length > length:
    raise ValueError(f"chunk_sequence: chunk_length must be in [1, {length}] for a sequence of length {length}, got {chunk_length}")
  k = length // chunk_length
  chunks = tokens[:, :k * chunk_length].reshape(n, k, chunk_length, *tokens.shape[2:])
  return jnp.swapaxes(chunks, 0, 1)


def truncated_bptt_grads(loss_fn: LossFn, params: Any, carry: Carry, chunks: Any) -> tuple[Array, Any, Carry]:
  """Sum over chunks of each chunk's gradient with its incoming state held constant.

  Returns (total loss, summed gradients, final carry). With one chunk this is full BPTT; with many
  it is what truncated BPTT backpropagates (no gradient crosses a chunk boundary), while the
  forward pass sees the same states as one long pass.
  """

  def step(c, chunk):
    (loss, c), grads = jax.value_and_grad(loss_fn, has_aux=True)(params, jax.lax.stop_gradient(c), chunk)
    return c, (loss, grads)

  carry, (losses, grads) = jax.lax.scan(step, carry, chunks)
  return jnp.sum(losses), jax.tree.map(lambda g: jnp.sum(g, axis=0), grads), carry


def gradient_clipping(kind: str, threshold: float) -> optax.GradientTransformation:
  """``"norm"``: rescale so that the global L2 norm is at most ``threshold`` (lecture 10, with the
  true norm — see the module docstring); ``"value"``: clip every entry to [-threshold, threshold]
  (min-char-rnn's ``np.clip(dparam, -5, 5)``); ``"none"``: identity."""
  if kind not in CLIP_KINDS:
    raise ConfigError(f"train.clip: expected one of {CLIP_KINDS}, got {kind!r}")
  if kind == "none":
    return optax.identity()
  if not threshold > 0:
    raise ConfigError(f"train.clip_threshold: expected a positive number, got {threshold!r}")
  return optax.clip_by_global_norm(threshold) if kind == "norm" else optax.clip(threshold)


__all__ = [
    "CELLS", "CELL_KINDS", "CLIP_KINDS", "GRUCell", "LSTMCell", "RecurrentStack", "SimpleRNNCell",
    "chunk_sequence", "gradient_clipping", "hidden_state", "make_cell", "truncated_bptt_grads",
]
