"""The course's ``CaptioningRNN`` with its exact contract (assignment 3, ``classifiers/rnn.py``),
built from the hand-written recurrent layers of :mod:`cs231n_jax.layers.rnn_layers`.

``model.params`` is a dict of numpy arrays (``W_proj``, ``b_proj``, ``W_embed``, ``Wx``, ``Wh``,
``b``, ``W_vocab``, ``b_vocab``) that the course's notebooks overwrite in place;
``model.loss(features, captions) -> (loss, grads)`` runs the forward pass and the hand-written
backward pass, and ``model.sample(features, max_length=30)`` decodes greedily. The notebooks'
fixed-parameter checks (loss 9.83235591003 for the RNN, 9.82445935443 for the LSTM) reproduce to
~1e-12 in float64 (tests/captioning).

Initialisation follows the course: ``W_embed ~ N(0, 1)/100``, ``W_proj ~ N(0, 1)/√D``,
``Wx ~ N(0, 1)/√W``, ``Wh ~ N(0, 1)/√H``, ``W_vocab ~ N(0, 1)/√H``, biases 0 (drawn from a
``np.random.default_rng(seed)``, not the global numpy state).
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from cs231n_jax import layers as L
from cs231n_jax.errors import ConfigError
from cs231n_jax.layers.rnn_layers import _lstm_step, _rnn_step

CELL_TYPES = ("rnn", "lstm")


class CaptioningRNN:
  """CaptioningRNN(word_to_idx, input_dim=512, wordvec_dim=128, hidden_dim=128, cell_type='rnn')."""

  def __init__(self, word_to_idx: dict[str, int], input_dim: int = 512, wordvec_dim: int = 128,
               hidden_dim: int = 128, cell_type: str = "rnn", dtype=np.float32, seed: int = 0):
    if cell_type not in CELL_TYPES:
      raise ConfigError(f"cell_type: expected one of {CELL_TYPES}, got {cell_type!r}")
    self.cell_type = cell_type
    self.dtype = dtype
    self.word_to_idx = word_to_idx
    self.idx_to_word = {i: w for w, i in word_to_idx.items()}
    self._null = word_to_idx["<NULL>"]
    self._start = word_to_idx.get("<START>")
    self._end = word_to_idx.get("<END>")
    vocab_size = len(word_to_idx)
    gates = {"lstm": 4, "rnn": 1}[cell_type]
    rng = np.random.default_rng(seed)
    self.params = {
        "W_embed": rng.standard_normal((vocab_size, wordvec_dim)) / 100,
        "W_proj": rng.standard_normal((input_dim, hidden_dim)) / np.sqrt(input_dim),
        "b_proj": np.zeros(hidden_dim),
        "Wx": rng.standard_normal((wordvec_dim, gates * hidden_dim)) / np.sqrt(wordvec_dim),
        "Wh": rng.standard_normal((hidden_dim, gates * hidden_dim)) / np.sqrt(hidden_dim),
        "b": np.zeros(gates * hidden_dim),
        "W_vocab": rng.standard_normal((hidden_dim, vocab_size)) / np.sqrt(hidden_dim),
        "b_vocab": np.zeros(vocab_size),
    }
    self.params = {k: v.astype(dtype) for k, v in self.params.items()}

  def loss(self, features, captions) -> tuple[Any, dict[str, Any]]:
    """Training-time loss and gradients: teacher forcing, ``<NULL>`` targets masked.

    features: (N, D); captions: (N, T) word ids whose first column is ``<START>``.
    """
    p = self.params
    captions_in, captions_out = captions[:, :-1], captions[:, 1:]
    mask = captions_out != self._null
    h0, proj_cache = L.affine_forward(features, p["W_proj"], p["b_proj"])
    x, embed_cache = L.word_embedding_forward(captions_in, p["W_embed"])
    forward = L.lstm_forward if self.cell_type == "lstm" else L.rnn_forward
    h, rnn_cache = forward(x, h0, p["Wx"], p["Wh"], p["b"])
    scores, vocab_cache = L.temporal_affine_forward(h, p["W_vocab"], p["b_vocab"])
    loss, dscores = L.temporal_softmax_loss(scores, captions_out, mask)

    grads = {}
    dh, grads["W_vocab"], grads["b_vocab"] = L.temporal_affine_backward(dscores, vocab_cache)
    backward = L.lstm_backward if self.cell_type == "lstm" else L.rnn_backward
    dx, dh0, grads["Wx"], grads["Wh"], grads["b"] = backward(dh, rnn_cache)
    grads["W_embed"] = L.word_embedding_backward(dx, embed_cache)
    _, grads["W_proj"], grads["b_proj"] = L.affine_backward(dh0, proj_cache)
    return loss, {k: np.asarray(v) for k, v in grads.items()}

  def sample(self, features, max_length: int = 30) -> np.ndarray:
    """Greedy captions (N, max_length): start from ``<START>``, feed back the argmax word.

    As the course's ``sample``, every step's word is written even after ``<END>`` (decoding code
    stops reading at ``<END>``); the loop is one jitted ``lax.scan``.
    """
    if self._start is None:
      raise ConfigError("sample: word_to_idx has no '<START>' token")
    p = {k: jnp.asarray(v) for k, v in self.params.items()}
    return np.asarray(_greedy(p, jnp.asarray(features), self._start, max_length, self.cell_type))


def _greedy(p, features, start: int, max_length: int, cell_type: str):
  return _greedy_jit(p, features, start, max_length, cell_type)


def _scan_greedy(p, features, start_tokens, max_length, cell_type):
  h = features @ p["W_proj"] + p["b_proj"]
  carry = (h, jnp.zeros_like(h))

  def step(state, _):
    (h, c), word = state
    x = p["W_embed"][word]
    if cell_type == "lstm":
      h, c, _ = _lstm_step(x, h, c, p["Wx"], p["Wh"], p["b"])
    else:
      h = _rnn_step(x, h, p["Wx"], p["Wh"], p["b"])
    word = jnp.argmax(h @ p["W_vocab"] + p["b_vocab"], axis=-1).astype(jnp.int32)
    return ((h, c), word), word

  _, words = jax.lax.scan(step, (carry, start_tokens), None, length=max_length)
  return words.T


_greedy_jit = jax.jit(
    lambda p, features, start, max_length, cell_type: _scan_greedy(
        p, features, jnp.full((features.shape[0],), start, jnp.int32), max_length, cell_type),
    static_argnums=(2, 3, 4),
)
