"""The course's model contract, compiled: ``model.params`` and ``model.loss(X, y=None)``.

The course's models (assignments 1-2 ``fc_net.py`` and ``cnn.py``) keep their parameters in a dict
``model.params`` and expose ``model.loss(X, y=None)``: scores (N, C) when ``y`` is None (test
mode), else ``(loss, grads)`` with ``grads`` a dict like ``params``, computed by the hand-written
backward passes of ``cs231n_jax.layers``. ``CourseModel`` provides that contract on top of one
*pure* function per mode, which subclasses write:

    pure_loss(params, state, X, y, reg, key) -> (loss, grads, new_state)
    pure_scores(params, state, X) -> scores

Both are jitted once per model, so ``model.loss`` runs as one compiled program, and the ``Solver``
compiles a whole update step around ``functional_loss`` (the jitted ``pure_loss``). ``state`` holds
what is not trained by gradient descent: batch norm's running averages (mirrored into the course's
``model.bn_params`` dicts). ``reg`` is an argument, not a constant of the compiled program, so
``model.reg = 1.0`` between calls works as in the course.

Why numpy parameters: the course's gradient checks perturb ``model.params[name]`` in place
(``f = lambda _: model.loss(X, y)[0]; eval_numerical_gradient(f, model.params[name])``), which
only works with mutable arrays; each ``loss`` call reads the current values.

Precision: a model whose parameters are float64 (``dtype=np.float64``, as the course's gradient
checks use) computes in float64 inside the scoped ``jax.enable_x64(True)``; ``X`` is cast to the
parameters' dtype.
"""

from __future__ import annotations

import abc
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from cs231n_jax.layers.dropout import key_from_numpy_global
from cs231n_jax.layers.losses import check_label_values
from cs231n_jax.layers.precision import precision_of, to_numpy


class CourseModel(abc.ABC):
  """Base class of the course-contract models (see the module docstring)."""

  params: dict[str, np.ndarray]
  reg: float
  dtype: Any
  num_classes: int  # set by subclasses; labels are checked against it before the compiled pass

  def __init__(self, reg: float, dtype: Any, seed: int | None):
    self.reg = reg
    self.dtype = np.dtype(dtype)
    if self.dtype not in (np.float32, np.float64):
      raise ValueError(f"dtype: expected np.float32 or np.float64, got {dtype}")
    self.seed = seed
    # Weights come from numpy, as in the course: its global generator (seeded by the notebook's
    # np.random.seed) when seed is None, else a generator of its own.
    self._init_rng = np.random.default_rng(seed) if seed is not None else np.random
    self._dropout_key = jax.random.key(seed) if seed is not None else key_from_numpy_global()
    self.functional_loss = jax.jit(self.pure_loss)
    self.functional_scores = jax.jit(self.pure_scores)

  # -- pickling (the Solver's checkpoints pickle the model, as the course's do) ----------------

  def __getstate__(self):
    state = dict(self.__dict__)
    for name in ("functional_loss", "functional_scores", "_init_rng"):
      state.pop(name, None)
    state["_dropout_key"] = np.asarray(jax.random.key_data(self._dropout_key))
    return state

  def __setstate__(self, state):
    state = dict(state)
    state["_dropout_key"] = jax.random.wrap_key_data(state["_dropout_key"])
    self.__dict__.update(state)
    self._init_rng = np.random.default_rng(self.seed) if self.seed is not None else np.random
    self.functional_loss = jax.jit(self.pure_loss)
    self.functional_scores = jax.jit(self.pure_scores)

  # -- for subclasses ------------------------------------------------------------------------

  def _randn(self, *shape) -> np.ndarray:
    return self._init_rng.standard_normal(shape) if shape else self._init_rng.standard_normal()

  @abc.abstractmethod
  def pure_loss(self, params, state, X, y, reg, key):
    """Pure training-mode pass: (loss, grads, new_state)."""

  @abc.abstractmethod
  def pure_scores(self, params, state, X):
    """Pure test-mode pass: scores (N, C)."""

  def get_state(self) -> Any:
    """Non-trainable state (batch norm running averages); empty by default."""
    return {}

  def set_state(self, state: Any) -> None:
    """Store state returned by ``functional_loss``."""

  def check_input(self, X) -> None:
    """Subclasses raise a ValueError naming the expected input shape."""

  # -- the course's contract -----------------------------------------------------------------

  def next_key(self) -> jax.Array:
    """The PRNG key for this training-mode call (dropout masks). With a ``seed`` it is the same key
    every call, as the course's ``dropout_param['seed']``, so that numerical gradient checks see a
    fixed mask; without one, a fresh key per call."""
    if self.seed is not None:
      return jax.random.key(self.seed)
    self._dropout_key, key = jax.random.split(self._dropout_key)
    return key

  def param_dtype(self) -> np.dtype:
    """float64 if any parameter is float64 (as after the course's float64 assignments), else float32."""
    return np.result_type(*[np.asarray(v).dtype for v in self.params.values()], np.float32)

  def loss(self, X, y=None):
    """Scores (N, C) if ``y`` is None, else ``(loss, grads)`` from the hand-written backward passes."""
    self.check_input(X)
    dtype = self.param_dtype()
    with precision_of({"params": np.zeros(0, dtype)}):
      params = {k: jnp.asarray(v, dtype=dtype) for k, v in self.params.items()}
      state = jax.tree.map(lambda a: jnp.asarray(a, dtype=dtype), self.get_state())
      X = jnp.asarray(X, dtype=dtype)
      if y is None:
        return np.asarray(self.functional_scores(params, state, X))
      y = np.asarray(y)
      if y.shape != (X.shape[0],):
        raise ValueError(f"{type(self).__name__}.loss: y must have shape ({X.shape[0]},) to match X {tuple(X.shape)}, got {y.shape}")
      # Inside the compiled pass labels are tracers and cannot be inspected, and an out-of-range
      # label would be clamped by the gather (a silently wrong loss), so they are checked here.
      check_label_values(f"{type(self).__name__}.loss", y, self.num_classes)
      loss, grads, new_state = self.functional_loss(params, state, X, jnp.asarray(y, jnp.int32), self.reg, self.next_key())
      self.set_state(to_numpy(new_state))
      return float(loss), {k: np.asarray(g) for k, g in grads.items()}


def l2_penalty(params: dict, reg, weight_names) -> tuple[Any, dict]:
  """The networks' regulariser 0.5 * reg * Σ W² over the weight matrices (not biases, not
  gamma/beta) and its gradient reg * W -- the course's convention for fc_net and cnn."""
  loss = sum(0.5 * reg * jnp.sum(params[name] * params[name]) for name in weight_names)
  return loss, {name: reg * params[name] for name in weight_names}
