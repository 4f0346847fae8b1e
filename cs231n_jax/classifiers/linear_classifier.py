"""Linear classifiers trained with minibatch SGD (assignment 1's ``LinearClassifier``).

The course's own SGD loop, kept by design beside the engine: it is the object of study of
lectures 2-3 (the engine trains every Flax model).

f(x, W) = x W with one *column* of W per class (W is (D, C), examples are rows of X, and
the bias lives in W's last row when X carries the bias-trick column of ones). Each column of W is a
class template (lecture 2's "visual viewpoint"; ``visualize.weight_templates`` shows them).

``train`` is the course's loop -- sample a minibatch with replacement, evaluate the loss and its
analytic gradient, step W -= learning_rate * dW -- compiled: ``PRINT_EVERY`` iterations run as one
``lax.scan`` inside one jitted call, with the minibatches sampled on the device from an explicit
PRNG key, so the data cross to the device once. ``verbose`` prints the loss every ``PRINT_EVERY``
iterations as the course does.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

from cs231n_jax.classifiers.linear_svm import svm_loss_vectorized
from cs231n_jax.classifiers.softmax import softmax_loss_vectorized
from cs231n_jax.classifiers.weight_penalties import ELASTIC_BETA, check_regularizer
from cs231n_jax.layers.losses import check_label_values

# The course initialises W ~ 0.001 * N(0, 1) and prints the loss every 100 iterations.
WEIGHT_SCALE = 1e-3
PRINT_EVERY = 100


@functools.partial(jax.jit, static_argnames=("loss_fn", "regularization", "beta", "num_steps", "batch_size"))
def _sgd_chunk(W, X, y, key, learning_rate, reg, loss_fn, regularization: str, beta: float, num_steps: int,
               batch_size: int):
  """``num_steps`` SGD steps; returns (W, the losses of the steps)."""

  def step(W, step_key):
    idx = jax.random.randint(step_key, (batch_size,), 0, X.shape[0])  # with replacement, as the course
    loss, dW = loss_fn(W, X[idx], y[idx], reg, regularization, beta)
    return W - learning_rate * dW, loss

  return jax.lax.scan(step, W, jax.random.split(key, num_steps))


class LinearClassifier:
  """Base class. Subclasses set ``loss_function(W, X, y, reg, regularization, beta) -> (loss, dW)``,
  a pure function, which both the course's ``loss(X_batch, y_batch, reg)`` and the compiled
  training loop call."""

  loss_function = None

  def __init__(self, regularization: str = "l2", beta: float = ELASTIC_BETA, seed: int = 0):
    check_regularizer(regularization)
    if type(self).loss_function is None:
      raise TypeError(f"{type(self).__name__} defines no loss_function: use LinearSVM or Softmax")
    self.W = None
    self.regularization = regularization
    self.beta = beta
    self.key = jax.random.key(seed)

  def _next_key(self):
    self.key, key = jax.random.split(self.key)
    return key

  def train(self, X, y, learning_rate: float = 1e-3, reg: float = 1e-5, num_iters: int = 100,
            batch_size: int = 200, verbose: bool = False) -> list[float]:
    """Minibatch SGD on X (N, D), y (N,) labels in [0, C). Returns the loss at every iteration."""
    X = jnp.asarray(X)
    y = np.asarray(y)
    if X.ndim != 2:
      raise ValueError(f"LinearClassifier.train: X must be (N, D), got shape {X.shape}")
    if y.shape != (X.shape[0],):
      raise ValueError(f"LinearClassifier.train: y must have shape ({X.shape[0]},) to match X {X.shape}, got {y.shape}")
    if num_iters < 0 or batch_size <= 0:
      raise ValueError(f"LinearClassifier.train: need num_iters >= 0 and batch_size > 0, got {num_iters} and {batch_size}")
    num_classes = int(y.max()) + 1 if y.size else 0  # assume y takes values 0...K-1 where K is the number of classes
    check_label_values("LinearClassifier.train", y, num_classes)  # integers, none negative
    if self.W is None:
      self.W = WEIGHT_SCALE * jax.random.normal(self._next_key(), (X.shape[1], num_classes), X.dtype)
    elif self.W.shape[0] != X.shape[1] or self.W.shape[1] < num_classes:
      raise ValueError(f"LinearClassifier.train: X {X.shape} with {num_classes} classes does not fit the existing W {self.W.shape}")
    y = jnp.asarray(y, dtype=jnp.int32)

    loss_history: list[float] = []
    done = 0
    while done < num_iters:
      steps = min(PRINT_EVERY, num_iters - done)
      self.W, losses = _sgd_chunk(self.W, X, y, self._next_key(), learning_rate, reg,
                                  loss_fn=type(self).loss_function, regularization=self.regularization,
                                  beta=self.beta, num_steps=steps, batch_size=batch_size)
      losses = np.asarray(losses).tolist()
      if verbose:
        print(f"iteration {done} / {num_iters}: loss {losses[0]:f}")
      loss_history.extend(losses)
      done += steps
    return loss_history

  def predict(self, X) -> np.ndarray:
    """Predicted labels (the highest-scoring class) for X (N, D)."""
    if self.W is None:
      raise ValueError("LinearClassifier.predict: train the classifier first")
    X = jnp.asarray(X)
    if X.ndim != 2 or X.shape[1] != self.W.shape[0]:
      raise ValueError(f"LinearClassifier.predict: X {X.shape} must be (N, {self.W.shape[0]}) to match W {self.W.shape}")
    return np.asarray(jnp.argmax(X @ self.W, axis=1))

  def loss(self, X_batch, y_batch, reg):
    """(loss, dW) of the current W on a minibatch (the course's method)."""
    if self.W is None:
      raise ValueError(f"{type(self).__name__}.loss: W is not initialised; train first or set W")
    return type(self).loss_function(self.W, X_batch, y_batch, reg, self.regularization, self.beta)


class LinearSVM(LinearClassifier):
  """A linear classifier with the multiclass SVM (hinge) loss."""

  loss_function = staticmethod(svm_loss_vectorized)


class Softmax(LinearClassifier):
  """A linear classifier with the softmax (cross-entropy) loss."""

  loss_function = staticmethod(softmax_loss_vectorized)
