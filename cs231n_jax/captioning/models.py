"""Four image captioners (lecture 10, course notes chapter 11), Flax Linen, one interface.

Each is registered in the model registry, family ``caption`` (``get_model("lstm", vocab_size=...)``).

* ``rnn`` / ``lstm`` — :class:`RNNCaptioner` / :class:`LSTMCaptioner` (a :class:`CaptioningRNN` each),
  the course's ``CaptioningRNN``: the image feature is projected to the initial hidden state
  (``h0 = v W_proj + b_proj``), words are embedded (``W_embed``), a vanilla RNN or LSTM reads them,
  ``W_vocab`` scores the next word. (Lecture 10's slide instead adds ``W_ih v`` at every step; the
  course's assignment, followed here, feeds v once.)
* ``attention_lstm`` — :class:`AttentionLSTMCaptioner`, Show, Attend and Tell (Xu et al. 2015) with
  soft attention: at every step the previous hidden state scores each of the L spatial feature
  vectors, ``e_i = wᵀ tanh(W_v v_i + W_h h_{t-1})`` (the notes: "f is an MLP"; ``attention="dot"``
  uses ``v_i·h / √d`` instead), ``p = softmax(e)``, the context ``z = Σ_i p_i v_i`` (lecture 10)
  joins the word embedding as the LSTM's input, and the output layer reads h, z and the word.
  The initial state comes from the mean feature vector, as in the paper (and the cell's forget bias
  starts at 1). ``attention_query="state_word"`` adds the word just read to the query,
  ``W_h h_{t-1} + W_w E y_{t-1}``: the paper's query, h_{t-1}, was formed before that word was
  chosen, so where the caption could go two ways (both objects red: "a red circle ..." or "a red
  square ...") it cannot look at the object the word named (docs/results.md, captioning).
* ``transformer`` — :class:`TransformerCaptioner`, the course's ``CaptioningTransformer``: the
  image features become the decoder's memory (one token per spatial location, or a single token
  for a feature vector), captions are embedded with sinusoidal positions, and a stack of decoder
  blocks (masked self-attention, cross-attention, MLP; post-norm as in the course's PyTorch
  layers) predicts the next word.

Inputs: images (N, H, W, 3) go through :class:`SceneEncoder`, a small VGG-style CNN (the
lecture's captioning CNN in miniature: 3x3 conv pairs and 2x2 max pools) trained with the
captioner; its fc layer gives the global feature and its last map the spatial features, with a
learned embedding of each location added (soft attention pools features, so it needs to be told
*where* a feature is to say "left of"). Feature vectors (N, D) — the course's COCO fc7 features —
are used directly (a single location); (N, L, D) feature maps as they are.

Every captioner provides ``encode(inputs)``, ``initial_carry(memory)`` and
``step(memory, carry, tokens, t) -> (logits, carry, attention)``, which the decoders in
:mod:`decoding` drive with ``lax.while_loop`` / ``lax.scan``, and ``__call__(inputs, captions_in)``
for training with teacher forcing, a ``nn.scan`` of the same ``step`` (so training and decoding
cannot disagree).
"""

from __future__ import annotations

from typing import Any, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

from cs231n_jax.errors import ConfigError
from cs231n_jax.models.registry import register
from cs231n_jax.nn.attention import LearnedPositionalEncoding, SinusoidalPositionalEncoding, TransformerDecoder
from cs231n_jax.nn.conv_pool import Conv, max_pool
from cs231n_jax.nn.recurrent import LSTMCell, make_cell

Array = jax.Array
ATTENTION_SCORES = ("mlp", "dot")
ATTENTION_QUERIES = ("state", "state_word")  # Xu et al.'s h_{t-1}; h_{t-1} and the word y_{t-1} just read
INITIAL_CELLS = ("zeros", "projected")
MAX_MEMORY_TOKENS = 1024  # learned location embeddings available to the transformer's memory


class SceneEncoder(nn.Module):
  """[conv3x3-relu]x2 - maxpool per block, then a 3x3 conv to ``feature_dim`` channels.

  Returns the global feature (N, global_dim) — fc(flattened map), which keeps the layout — and the
  spatial features (N, L, feature_dim), L = (H / 2^blocks) x (W / 2^blocks), each layer-normalised
  and the spatial ones with a learned location embedding added. Convolutions use He init.
  """

  channels: Sequence[int] = (32, 64)
  feature_dim: int = 128
  global_dim: int = 256
  dtype: Any = None

  @nn.compact
  def __call__(self, images: Array) -> tuple[Array, Array]:
    conv = lambda c, name: Conv(c, (3, 3), padding=1, kernel_init=nn.initializers.he_normal(), dtype=self.dtype, name=name)
    x = images.astype(self.dtype or jnp.float32)
    for i, c in enumerate(self.channels):
      x = nn.relu(conv(c, f"conv{i}_1")(x))
      x = nn.relu(conv(c, f"conv{i}_2")(x))
      x = max_pool(x, (2, 2), strides=(2, 2))
    x = nn.relu(conv(self.feature_dim, "conv_out")(x))
    n, h, w, c = x.shape
    # Layer norm on both outputs: a fresh CNN's features on mostly-dark images are tiny and nearly
    # the same for every image (std ~0.02), which leaves the decoder nothing to read at first.
    spatial = nn.LayerNorm(dtype=self.dtype, name="spatial_norm")(x.reshape(n, h * w, c))
    spatial = spatial + self.param("locations", nn.initializers.normal(0.02), (h * w, c)).astype(spatial.dtype)
    global_feature = nn.LayerNorm(dtype=self.dtype, name="global_norm")(
        nn.Dense(self.global_dim, dtype=self.dtype, name="fc")(x.reshape(n, -1)))
    return global_feature, spatial


class _Captioner(nn.Module):
  """Shared: input encoding and the teacher-forced scan of ``step``."""

  def _encode_inputs(self, inputs: Array) -> tuple[Array, Array]:
    if inputs.ndim == 4:  # images
      return self.encoder(inputs)
    if inputs.ndim == 2:  # the course's feature vectors: one location
      return inputs, inputs[:, None, :]
    if inputs.ndim == 3:  # a feature map, already flattened to (N, L, D)
      return jnp.mean(inputs, axis=1), inputs
    raise ValueError(f"captioner inputs: expected images (N, H, W, C), features (N, D) or (N, L, D), got shape {inputs.shape}")

  def _teacher_forced(self, memory, captions_in: Array, train: bool):
    carry = self.initial_carry(memory)
    positions = jnp.arange(captions_in.shape[1])

    def body(mdl, carry, tokens_t, t, memory):
      logits, carry, attention = mdl.step(memory, carry, tokens_t, t, train=train)
      return carry, (logits, attention)

    scan = nn.scan(body, variable_broadcast="params", split_rngs={"params": False, "dropout": True},
                   in_axes=(1, 0, nn.broadcast), out_axes=1)
    _, (logits, attention) = scan(self, carry, captions_in, positions, memory)
    return logits, attention

  def __call__(self, inputs: Array, captions_in: Array, *, train: bool = False) -> tuple[Array, Array]:
    """Scores of every next word (N, T, V) given the words so far, and attention (N, T, L)."""
    if captions_in.ndim != 2:
      raise ValueError(f"captions_in: expected (N, T) word ids, got shape {captions_in.shape}")
    memory = self.encode(inputs, train=train)
    return self._teacher_forced(memory, captions_in, train)


class CaptioningRNN(_Captioner):
  """The course's CaptioningRNN (``cell_type`` ``"rnn"`` or ``"lstm"``)."""

  vocab_size: int
  cell: str = "lstm"
  wordvec_dim: int = 128
  hidden_dim: int = 128
  encoder_channels: Sequence[int] = (32, 64)
  feature_dim: int = 128
  global_dim: int = 256
  forget_bias: float = 0.0  # LSTM only; the course starts every bias at 0
  # LSTM only: the initial cell state. "zeros" is the course's (h0 = projected feature, c0 = 0);
  # "projected" also projects the feature to c0 (W_proj_c), as Show and Tell / Show, Attend and
  # Tell initialise both, so the image sits on the cell's additive path from the first step.
  initial_cell: str = "zeros"
  dtype: Any = None

  def setup(self):
    if self.cell not in ("rnn", "lstm"):
      raise ConfigError(f"model.cell: CaptioningRNN takes 'rnn' or 'lstm', got {self.cell!r}")
    if self.initial_cell not in INITIAL_CELLS:
      raise ConfigError(f"model.initial_cell: expected one of {INITIAL_CELLS}, got {self.initial_cell!r}")
    self.encoder = SceneEncoder(self.encoder_channels, self.feature_dim, self.global_dim, self.dtype)
    self.W_proj = nn.Dense(self.hidden_dim, dtype=self.dtype)
    if self.cell == "lstm" and self.initial_cell == "projected":
      self.W_proj_c = nn.Dense(self.hidden_dim, dtype=self.dtype)
    self.W_embed = nn.Embed(self.vocab_size, self.wordvec_dim)
    lstm_kwargs = {"forget_bias": self.forget_bias} if self.cell == "lstm" else {}
    self.rnn_cell = make_cell(self.cell, self.hidden_dim, dtype=self.dtype, **lstm_kwargs)
    self.W_vocab = nn.Dense(self.vocab_size, dtype=self.dtype)

  def encode(self, inputs: Array, *, train: bool = False) -> dict[str, Array]:
    global_feature, spatial = self._encode_inputs(inputs)
    return {"global": global_feature, "spatial": spatial}

  def initial_carry(self, memory: dict[str, Array]):
    h0 = self.W_proj(memory["global"])
    if self.cell != "lstm":
      return h0
    c0 = self.W_proj_c(memory["global"]) if self.initial_cell == "projected" else jnp.zeros_like(h0)
    return c0, h0

  def step(self, memory, carry, tokens: Array, t, *, train: bool = False):
    carry, h = self.rnn_cell(carry, self.W_embed(tokens))
    attention = jnp.zeros(memory["spatial"].shape[:2], h.dtype)
    return self.W_vocab(h).astype(jnp.float32), carry, attention


@register("rnn", input_shape=None, family="caption")
class RNNCaptioner(CaptioningRNN):
  """The course's CaptioningRNN with a vanilla RNN (``cell_type='rnn'``)."""

  cell: str = "rnn"


@register("lstm", input_shape=None, family="caption")
class LSTMCaptioner(CaptioningRNN):
  """The course's CaptioningRNN with an LSTM (``cell_type='lstm'``)."""

  cell: str = "lstm"


@register("attention_lstm", input_shape=None, family="caption")
class AttentionLSTMCaptioner(_Captioner):
  """Show, Attend and Tell with soft attention over the spatial features."""

  vocab_size: int
  wordvec_dim: int = 128
  hidden_dim: int = 128
  attention_dim: int = 128
  attention: str = "mlp"
  attention_query: str = "state"
  encoder_channels: Sequence[int] = (32, 64)
  feature_dim: int = 128
  global_dim: int = 256
  dtype: Any = None

  def setup(self):
    if self.attention not in ATTENTION_SCORES:
      raise ConfigError(f"model.attention: expected one of {ATTENTION_SCORES}, got {self.attention!r}")
    if self.attention_query not in ATTENTION_QUERIES:
      raise ConfigError(f"model.attention_query: expected one of {ATTENTION_QUERIES}, got {self.attention_query!r}")
    self.encoder = SceneEncoder(self.encoder_channels, self.feature_dim, self.global_dim, self.dtype)
    self.W_embed = nn.Embed(self.vocab_size, self.wordvec_dim)
    self.init_h = nn.Dense(self.hidden_dim, dtype=self.dtype)
    self.init_c = nn.Dense(self.hidden_dim, dtype=self.dtype)
    self.feature_keys = nn.Dense(self.attention_dim, use_bias=False, dtype=self.dtype)  # W_v
    self.state_query = nn.Dense(self.attention_dim, dtype=self.dtype)  # W_h
    if self.attention_query == "state_word":
      self.word_query = nn.Dense(self.attention_dim, use_bias=False, dtype=self.dtype)  # W_w
    self.score = nn.Dense(1, use_bias=False, dtype=self.dtype)  # w
    self.lstm = LSTMCell(self.hidden_dim, dtype=self.dtype)
    self.out = nn.Dense(self.vocab_size, dtype=self.dtype)

  def encode(self, inputs: Array, *, train: bool = False) -> dict[str, Array]:
    global_feature, spatial = self._encode_inputs(inputs)
    # W_v v_i for every location, computed once per image rather than at every step.
    return {"global": global_feature, "spatial": spatial, "keys": self.feature_keys(spatial)}

  def initial_carry(self, memory: dict[str, Array]):
    mean = jnp.mean(memory["spatial"], axis=1)
    return jnp.tanh(self.init_c(mean)), jnp.tanh(self.init_h(mean))

  def attend(self, memory, h: Array, word: Array | None = None) -> tuple[Array, Array]:
    """(context z (N, D), weights p (N, L)) from the previous hidden state (and, with
    ``attention_query="state_word"``, the embedding of the word just read)."""
    query = self.state_query(h)
    if self.attention_query == "state_word":
      query = query + self.word_query(word)
    if self.attention == "mlp":
      scores = self.score(jnp.tanh(memory["keys"] + query[:, None, :]))[..., 0]
    else:
      scores = jnp.einsum("nla,na->nl", memory["keys"], query) / jnp.sqrt(jnp.asarray(self.attention_dim, query.dtype))
    p = jax.nn.softmax(scores.astype(jnp.float32), axis=-1).astype(memory["spatial"].dtype)
    return jnp.einsum("nl,nld->nd", p, memory["spatial"]), p

  def step(self, memory, carry, tokens: Array, t, *, train: bool = False):
    _, h_prev = carry
    word = self.W_embed(tokens)
    z, p = self.attend(memory, h_prev, word)
    carry, h = self.lstm(carry, jnp.concatenate([word, z], axis=-1))
    logits = self.out(jnp.concatenate([h, z, word], axis=-1))
    return logits.astype(jnp.float32), carry, p


@register("transformer", input_shape=None, family="caption")
class TransformerCaptioner(_Captioner):
  """The course's CaptioningTransformer: a decoder over the image's feature tokens.

  Decoding step by step keeps the tokens generated so far in a fixed (N, max_length) buffer and
  reruns the decoder over it with the causal mask, reading the scores at position t — O(T²) work,
  trivial at caption lengths, and shapes that never change under ``jit``.
  """

  vocab_size: int
  wordvec_dim: int = 128
  num_heads: int = 4
  num_layers: int = 2
  mlp_dim: int = 512
  dropout_rate: float = 0.1
  norm: str = "post"
  max_length: int = 32
  encoder_channels: Sequence[int] = (32, 64)
  feature_dim: int = 128
  global_dim: int = 256
  dtype: Any = None

  def setup(self):
    self.encoder = SceneEncoder(self.encoder_channels, self.feature_dim, self.global_dim, self.dtype)
    self.visual_projection = nn.Dense(self.wordvec_dim, dtype=self.dtype)
    self.memory_positions = LearnedPositionalEncoding(MAX_MEMORY_TOKENS)
    self.W_embed = nn.Embed(self.vocab_size, self.wordvec_dim)
    self.positions = SinusoidalPositionalEncoding(self.max_length, dropout_rate=self.dropout_rate)
    self.decoder = TransformerDecoder(self.num_layers, self.wordvec_dim, self.num_heads, self.mlp_dim,
                                      self.dropout_rate, self.dropout_rate, self.norm, "relu", self.dtype)
    self.out = nn.Dense(self.vocab_size, dtype=self.dtype)

  def encode(self, inputs: Array, *, train: bool = False) -> dict[str, Array]:
    global_feature, spatial = self._encode_inputs(inputs)
    memory = self.memory_positions(self.visual_projection(spatial))
    return {"global": global_feature, "spatial": spatial, "tokens": memory}

  def initial_carry(self, memory: dict[str, Array]):
    return jnp.zeros((memory["tokens"].shape[0], self.max_length), jnp.int32)

  def _decode(self, memory, tokens: Array, train: bool) -> Array:
    x = self.positions(self.W_embed(tokens), train=train)
    return self.out(self.decoder(x, memory["tokens"], train=train)).astype(jnp.float32)

  def step(self, memory, carry, tokens: Array, t, *, train: bool = False):
    buffer = jax.lax.dynamic_update_slice_in_dim(carry, tokens[:, None].astype(jnp.int32), t, axis=1)
    logits = jax.lax.dynamic_index_in_dim(self._decode(memory, buffer, train), t, axis=1, keepdims=False)
    return logits, buffer, jnp.zeros(memory["spatial"].shape[:2], logits.dtype)

  def __call__(self, inputs: Array, captions_in: Array, *, train: bool = False) -> tuple[Array, Array]:
    """Teacher forcing in one parallel pass (the causal mask makes it equal to stepping)."""
    if captions_in.ndim != 2:
      raise ValueError(f"captions_in: expected (N, T) word ids, got shape {captions_in.shape}")
    if captions_in.shape[1] > self.max_length:
      raise ValueError(f"captions_in: {captions_in.shape[1]} steps exceed the model's max_length {self.max_length}")
    memory = self.encode(inputs, train=train)
    logits = self._decode(memory, captions_in, train)
    return logits, jnp.zeros((*captions_in.shape, memory["spatial"].shape[1]), logits.dtype)

