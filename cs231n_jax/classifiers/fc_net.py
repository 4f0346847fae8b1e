"""Fully connected networks in the course's contract (assignments 1-2 ``fc_net.py``).

``TwoLayerNet``: affine - relu - affine - softmax.
``FullyConnectedNet``: {affine - [batch/layer norm] - relu - [dropout]} x (L - 1) - affine - softmax.

Contract (see ``course_model``): ``model.params`` is a dict of numpy arrays (W1, b1, ..., and
gamma1, beta1, ... with normalisation); ``model.loss(X)`` returns scores, ``model.loss(X, y)``
returns ``(loss, grads)`` whose gradients come from the hand-written backward passes in
``cs231n_jax.layers`` -- the sandwich layers, batch / layer norm and inverted dropout -- never from
autodiff. The whole pass is one jitted function, which the ``Solver`` compiles into its update step.

Regularisation is the course's for networks: ``0.5 * reg * Σ W²`` over the weight matrices (so
``dW += reg * W``); biases and gamma/beta are not regularised. (The linear classifiers use
``reg * Σ W²``; see ``regularization``.)

``dropout_keep_ratio`` is the KEEP probability (1 disables dropout), as in the course; Flax's
``nn.Dropout(rate)`` takes the drop probability.

Relation to the Flax models: ``cs231n_jax.models.mlp.TwoLayerNet`` / ``FullyConnectedNet`` are the
same architectures as Flax Linen modules (NHWC inputs, params in a variables pytree, batch stats in
a mutable collection, gradients from ``jax.grad``), trained by the engine's ``fit`` loop with
optax. These classes keep the course's objects and numbers so that course notebooks port
unchanged; ``tests/classifiers`` checks that the two agree given the same weights.
"""

from __future__ import annotations

from typing import Sequence

import jax
import numpy as np

from cs231n_jax.classifiers.course_model import CourseModel, l2_penalty
from cs231n_jax.layers.core import affine_backward, affine_forward
from cs231n_jax.layers.dropout import dropout_backward, dropout_forward
from cs231n_jax.layers.layer_utils import (
    affine_bn_relu_backward,
    affine_bn_relu_forward,
    affine_ln_relu_backward,
    affine_ln_relu_forward,
    affine_relu_backward,
    affine_relu_forward,
)
from cs231n_jax.layers.losses import softmax_loss
from cs231n_jax.layers.normalization import BN_EPS, BN_MOMENTUM

NORMALIZATIONS = (None, "batchnorm", "layernorm")
CIFAR_INPUT_DIM = 3 * 32 * 32


def _check_flat_input(model, X) -> None:
  shape = tuple(np.shape(X))
  features = int(np.prod(shape[1:])) if len(shape) >= 2 else -1
  if features != model.input_dim:
    raise ValueError(f"{type(model).__name__}.loss: X {shape} has {features} features per example "
                     f"but the model expects input_dim={model.input_dim}")


class TwoLayerNet(CourseModel):
  """affine - relu - affine - softmax, with weights ~ N(0, weight_scale²) and zero biases.

  The course draws this network's weights in float64 (np.random.randn); the default here is
  float32 for speed, and float64 parameters (``dtype=np.float64``, or assigning float64 arrays to
  ``model.params`` as the course's check cells do) switch the computation to float64.
  """

  def __init__(self, input_dim: int = CIFAR_INPUT_DIM, hidden_dim: int = 100, num_classes: int = 10,
               weight_scale: float = 1e-3, reg: float = 0.0, dtype=np.float32, seed: int | None = None):
    super().__init__(reg, dtype, seed)
    self.input_dim = input_dim
    self.num_classes = num_classes
    self.params = {
        "W1": (weight_scale * self._randn(input_dim, hidden_dim)).astype(self.dtype),
        "b1": np.zeros(hidden_dim, self.dtype),
        "W2": (weight_scale * self._randn(hidden_dim, num_classes)).astype(self.dtype),
        "b2": np.zeros(num_classes, self.dtype),
    }

  def check_input(self, X) -> None:
    _check_flat_input(self, X)

  def pure_scores(self, params, state, X):
    h, _ = affine_relu_forward(X, params["W1"], params["b1"])
    scores, _ = affine_forward(h, params["W2"], params["b2"])
    return scores

  def pure_loss(self, params, state, X, y, reg, key):
    h, cache1 = affine_relu_forward(X, params["W1"], params["b1"])
    scores, cache2 = affine_forward(h, params["W2"], params["b2"])
    data_loss, dscores = softmax_loss(scores, y)
    reg_loss, reg_grads = l2_penalty(params, reg, ("W1", "W2"))
    grads = {}
    dh, grads["W2"], grads["b2"] = affine_backward(dscores, cache2)
    _, grads["W1"], grads["b1"] = affine_relu_backward(dh, cache1)
    for name, g in reg_grads.items():
      grads[name] = grads[name] + g
    return data_loss + reg_loss, grads, state


class FullyConnectedNet(CourseModel):
  """A fully connected network with any number of hidden layers, normalisation and dropout.

  Args (the course's):
    hidden_dims: sizes of the hidden layers.
    input_dim, num_classes: input features (examples of any shape are flattened) and classes.
    dropout_keep_ratio: KEEP probability of inverted dropout after each ReLU; 1 disables it.
    normalization: None, "batchnorm" or "layernorm", after each hidden affine layer.
    reg: L2 strength (0.5 * reg * Σ W²).
    weight_scale: weights ~ N(0, weight_scale²); biases 0; gamma 1, beta 0.
    dtype: np.float32 or np.float64 (float64 for gradient checks).
    seed: fixes the dropout mask (the same every call, for gradient checks) and, here also, the
      weight initialisation (the course draws weights from numpy's global generator).
  """

  def __init__(self, hidden_dims: Sequence[int], input_dim: int = CIFAR_INPUT_DIM, num_classes: int = 10,
               dropout_keep_ratio: float = 1, normalization: str | None = None, reg: float = 0.0,
               weight_scale: float = 1e-2, dtype=np.float32, seed: int | None = None):
    super().__init__(reg, dtype, seed)
    if normalization not in NORMALIZATIONS:
      raise ValueError(f"normalization: expected one of {NORMALIZATIONS}, got {normalization!r}")
    if not 0.0 < dropout_keep_ratio <= 1.0:
      raise ValueError(f"dropout_keep_ratio: the KEEP probability must be in (0, 1], got {dropout_keep_ratio}")
    self.normalization = normalization
    self.use_dropout = dropout_keep_ratio != 1
    self.num_layers = 1 + len(hidden_dims)
    self.input_dim = input_dim
    self.num_classes = num_classes
    self.params = {}
    dims = [input_dim, *hidden_dims, num_classes]
    for i in range(self.num_layers):
      self.params[f"W{i + 1}"] = (weight_scale * self._randn(dims[i], dims[i + 1])).astype(self.dtype)
      self.params[f"b{i + 1}"] = np.zeros(dims[i + 1], self.dtype)
      if normalization is not None and i < self.num_layers - 1:
        self.params[f"gamma{i + 1}"] = np.ones(dims[i + 1], self.dtype)
        self.params[f"beta{i + 1}"] = np.zeros(dims[i + 1], self.dtype)

    self.dropout_param = {}
    if self.use_dropout:
      self.dropout_param = {"mode": "train", "p": dropout_keep_ratio}
      if seed is not None:
        self.dropout_param["seed"] = seed
    self.bn_params = []
    if normalization == "batchnorm":
      # The course starts the running averages at zero (bn_param.get(..., np.zeros(D))).
      self.bn_params = [
          {"mode": "train", "running_mean": np.zeros(d, self.dtype), "running_var": np.zeros(d, self.dtype)}
          for d in hidden_dims
      ]
    elif normalization == "layernorm":
      self.bn_params = [{} for _ in hidden_dims]

  def check_input(self, X) -> None:
    _check_flat_input(self, X)

  def get_state(self):
    if self.normalization != "batchnorm":
      return []
    return [{"running_mean": p["running_mean"], "running_var": p["running_var"]} for p in self.bn_params]

  def set_state(self, state) -> None:
    for bn_param, s in zip(self.bn_params, state):
      bn_param.update(s)

  def _bn_param(self, i: int, state, mode: str) -> dict:
    stored = self.bn_params[i]
    return {"mode": mode, "eps": stored.get("eps", BN_EPS), "momentum": stored.get("momentum", BN_MOMENTUM), **state[i]}

  def _forward(self, params, state, X, mode: str, key):
    """The forward pass; returns (scores, caches, new_state)."""
    h = X
    caches, new_state = [], []
    for i in range(self.num_layers - 1):
      w, b = params[f"W{i + 1}"], params[f"b{i + 1}"]
      if self.normalization == "batchnorm":
        bn_param = self._bn_param(i, state, mode)
        h, cache = affine_bn_relu_forward(h, w, b, params[f"gamma{i + 1}"], params[f"beta{i + 1}"], bn_param)
        new_state.append({"running_mean": bn_param["running_mean"], "running_var": bn_param["running_var"]})
      elif self.normalization == "layernorm":
        h, cache = affine_ln_relu_forward(h, w, b, params[f"gamma{i + 1}"], params[f"beta{i + 1}"], self.bn_params[i])
      else:
        h, cache = affine_relu_forward(h, w, b)
      drop_cache = None
      if self.use_dropout:
        drop_param = {"mode": mode, "p": self.dropout_param["p"], "key": jax.random.fold_in(key, i)}
        h, drop_cache = dropout_forward(h, drop_param)
      caches.append((cache, drop_cache))
    last = self.num_layers
    scores, cache = affine_forward(h, params[f"W{last}"], params[f"b{last}"])
    caches.append(cache)
    return scores, caches, new_state

  def pure_scores(self, params, state, X):
    # Test mode: batch norm uses its running averages, dropout is the identity; no key needed.
    scores, _, _ = self._forward(params, state, X, "test", jax.random.key(0))
    return scores

  def pure_loss(self, params, state, X, y, reg, key):
    scores, caches, new_state = self._forward(params, state, X, "train", key)
    data_loss, dout = softmax_loss(scores, y)
    weights = [f"W{i + 1}" for i in range(self.num_layers)]
    reg_loss, reg_grads = l2_penalty(params, reg, weights)
    grads = {}
    last = self.num_layers
    dout, grads[f"W{last}"], grads[f"b{last}"] = affine_backward(dout, caches[-1])
    for i in reversed(range(self.num_layers - 1)):
      cache, drop_cache = caches[i]
      if self.use_dropout:
        dout = dropout_backward(dout, drop_cache)
      if self.normalization == "batchnorm":
        dout, dw, db, dgamma, dbeta = affine_bn_relu_backward(dout, cache)
      elif self.normalization == "layernorm":
        dout, dw, db, dgamma, dbeta = affine_ln_relu_backward(dout, cache)
      else:
        dout, dw, db = affine_relu_backward(dout, cache)
      grads[f"W{i + 1}"], grads[f"b{i + 1}"] = dw, db
      if self.normalization is not None:
        grads[f"gamma{i + 1}"], grads[f"beta{i + 1}"] = dgamma, dbeta
    for name, g in reg_grads.items():
      grads[name] = grads[name] + g
    return data_loss + reg_loss, grads, new_state if self.normalization == "batchnorm" else state
