"""The course's ``Solver`` (assignment 2 ``solver.py``), compiled.

A teaching loop, kept by design beside the engine (:mod:`cs231n_jax.train.loop`): the course's
students read and port this very loop; everything else trains through the engine.

Same constructor, same methods and attributes, same printed log, so a course notebook ports
unchanged::

    solver = Solver(model, data, update_rule="sgd", optim_config={"learning_rate": 1e-3},
                    lr_decay=0.95, num_epochs=10, batch_size=100, print_every=100)
    solver.train()
    solver.best_val_acc, solver.loss_history, solver.train_acc_history, solver.val_acc_history

``data`` holds ``X_train, y_train, X_val, y_val``; ``model`` has ``model.params`` (a dict) and
``model.loss(X, y=None)`` (scores, or ``(loss, grads)``). Training runs minibatch SGD with one of
the update rules in ``cs231n_jax.optim.solver_updates`` (a name, or any function with the same
``update(w, dw, config) -> (next_w, config)`` contract), decays every learning rate by
``lr_decay`` after each epoch, checks train and validation accuracy at the first iteration, at
every epoch end and at the last iteration, and finally swaps the best-validation parameters into
the model.

Under the hood:

* For the course-contract models of ``cs231n_jax.classifiers`` (anything with pure
  ``pure_loss(params, state, X, y, reg, key)`` and ``pure_scores(params, state, X)`` methods) one
  iteration -- sample the minibatch on the device, forward, the hand-written backward, the update
  rule over every parameter -- is ONE compiled function, traced once (``num_traces`` counts
  traces). The training data cross to the device once; minibatches are drawn with replacement from
  an explicit PRNG key (``seed``), as the course draws them with ``np.random.choice``; parameters
  stay on the device and are written back to ``model.params`` (numpy) at each accuracy check.
* For any other model (say, a course student's numpy model), ``model.loss`` runs as written and
  only the update over the whole parameter dict is compiled.
* Accuracy checks run the model's jitted test-mode scores over ``batch_size`` batches in one
  compiled ``lax.map``.
* A model with float64 parameters trains in float64 inside the scoped ``jax.enable_x64(True)``.

Additions to the course's keyword arguments: ``seed`` (minibatches, dropout and accuracy
subsamples; default 0).
"""

from __future__ import annotations

import pickle
from typing import Any, Callable

import jax
import jax.numpy as jnp
import numpy as np

from cs231n_jax.layers.losses import check_label_values
from cs231n_jax.layers.precision import precision_of
from cs231n_jax.optim import solver_updates as optim

DEFAULTS = dict(
    update_rule="sgd", optim_config=None, lr_decay=1.0, batch_size=100, num_epochs=10,
    num_train_samples=1000, num_val_samples=None, checkpoint_name=None, print_every=10, verbose=True, seed=0,
)
DATA_KEYS = ("X_train", "y_train", "X_val", "y_val")


def _resolve_rule(rule: str | Callable) -> Callable:
  if callable(rule):
    return rule
  if rule not in optim.UPDATE_RULES:
    raise ValueError(f'Invalid update_rule "{rule}": expected one of {sorted(optim.UPDATE_RULES)} or a function')
  return optim.UPDATE_RULES[rule]


def _is_compilable(model: Any) -> bool:
  return callable(getattr(model, "pure_loss", None)) and callable(getattr(model, "pure_scores", None))


class Solver:
  """Trains a course-contract model with minibatch SGD (see the module docstring)."""

  def __init__(self, model, data: dict, **kwargs):
    unknown = sorted(set(kwargs) - set(DEFAULTS))
    if unknown:
      raise ValueError(f"Unrecognized arguments {', '.join(unknown)}")
    missing = [k for k in DATA_KEYS if k not in data]
    if missing:
      raise ValueError(f"Solver: data must hold {DATA_KEYS}; missing {missing}")
    options = {**DEFAULTS, **kwargs}
    self.model = model
    self.X_train, self.y_train = data["X_train"], data["y_train"]
    self.X_val, self.y_val = data["X_val"], data["y_val"]
    for x_key, y_key in (("X_train", "y_train"), ("X_val", "y_val")):
      if np.shape(data[y_key]) != (np.shape(data[x_key])[0],):
        raise ValueError(f"Solver: data['{y_key}'] {np.shape(data[y_key])} must hold one label per row "
                         f"of data['{x_key}'] {np.shape(data[x_key])}")
      if getattr(model, "num_classes", None) is not None:
        # The compiled step gathers minibatch labels on the device, where an out-of-range label
        # would be clamped silently; check them once here.
        check_label_values(f"Solver: data['{y_key}']", data[y_key], model.num_classes)
    self.update_rule = _resolve_rule(options["update_rule"])
    self.optim_config = dict(options["optim_config"] or {})
    self.lr_decay = options["lr_decay"]
    self.batch_size = int(options["batch_size"])
    self.num_epochs = int(options["num_epochs"])
    self.num_train_samples = options["num_train_samples"]
    self.num_val_samples = options["num_val_samples"]
    self.checkpoint_name = options["checkpoint_name"]
    self.print_every = options["print_every"]
    self.verbose = options["verbose"]
    self.seed = options["seed"]
    if self.batch_size <= 0 or self.num_epochs < 0:
      raise ValueError(f"Solver: need batch_size > 0 and num_epochs >= 0, got {self.batch_size} and {self.num_epochs}")
    self.num_traces = 0
    self._step_fn = None
    self._update_fn = None
    self._predict_fn = None
    self._reset()

  # -- bookkeeping ---------------------------------------------------------------------------

  def _reset(self) -> None:
    self.epoch = 0
    self.best_val_acc = 0
    self.best_params: dict[str, np.ndarray] = {}
    self.loss_history: list[float] = []
    self.train_acc_history: list[float] = []
    self.val_acc_history: list[float] = []
    self.optim_configs = {p: dict(self.optim_config) for p in self.model.params}
    self._rng = np.random.default_rng(self.seed)
    self._key = jax.random.key(self.seed)

  def _dtype(self) -> np.dtype:
    return np.result_type(*[np.asarray(v).dtype for v in self.model.params.values()], np.float32)

  def _initial_configs(self, params: dict, dtype) -> dict:
    """Each parameter's config with the rule's defaults and zero state filled in (``rule.init``),
    every leaf a JAX array of a fixed dtype -- so the compiled step's input structure never changes."""
    init = getattr(self.update_rule, "init", None)
    configs = {}
    for p, w in params.items():
      config = dict(self.optim_configs[p])
      if init is not None:
        config = init(w, config)
      configs[p] = {k: self._as_array(v, dtype) for k, v in config.items()}
    return configs

  @staticmethod
  def _as_array(value, dtype):
    if isinstance(value, (bool, np.bool_)):
      return value
    if isinstance(value, (int, np.integer)):
      return jnp.asarray(value, dtype=jnp.int32)
    if isinstance(value, (float, np.floating)):
      return jnp.asarray(value, dtype=dtype)
    return jnp.asarray(value)

  # -- the compiled pieces -------------------------------------------------------------------

  def _update_all(self, params, grads, configs):
    """The update rule over every parameter."""
    new_params, new_configs = {}, {}
    for p in params:
      new_params[p], new_configs[p] = self.update_rule(params[p], grads[p], dict(configs[p]))
    return new_params, new_configs

  def _build_step(self):
    model, batch_size = self.model, self.batch_size

    def step(params, state, configs, X_train, y_train, key, reg):
      self.num_traces += 1  # runs only while tracing
      batch_key, dropout_key = jax.random.split(key)
      idx = jax.random.randint(batch_key, (batch_size,), 0, X_train.shape[0])
      loss, grads, new_state = model.pure_loss(params, state, X_train[idx], y_train[idx], reg, dropout_key)
      new_params, new_configs = self._update_all(params, grads, configs)
      return new_params, new_state, new_configs, loss

    return jax.jit(step)

  def _build_update(self):
    def update(params, grads, configs):
      self.num_traces += 1
      return self._update_all(params, grads, configs)

    return jax.jit(update)

  # -- accuracy ------------------------------------------------------------------------------

  def _subsample(self, X, num_samples):
    n = np.shape(X)[0]
    if num_samples is not None and n > num_samples:
      idx = self._rng.choice(n, num_samples)
      return idx
    return None

  def _device_accuracy(self, params, state, X_dev, y_dev, idx, batch_size: int) -> float:
    X = X_dev if idx is None else X_dev[jnp.asarray(idx)]
    y = y_dev if idx is None else y_dev[jnp.asarray(idx)]
    n = X.shape[0]
    num_batches = -(-n // batch_size)
    padded = jnp.pad(X, [(0, num_batches * batch_size - n)] + [(0, 0)] * (X.ndim - 1))
    batches = jnp.reshape(padded, (num_batches, batch_size) + X.shape[1:])
    if self._predict_fn is None:
      model = self.model

      def predict(params, state, batches):
        labels = jax.lax.map(lambda xb: jnp.argmax(model.pure_scores(params, state, xb), axis=-1), batches)
        return jnp.reshape(labels, (-1,))

      self._predict_fn = jax.jit(predict)
    pred = self._predict_fn(params, state, batches)[:n]
    return float(jnp.mean(pred == y))

  def check_accuracy(self, X, y, num_samples: int | None = None, batch_size: int = 100) -> float:
    """Fraction of the (optionally subsampled) examples the model classifies correctly."""
    idx = self._subsample(X, num_samples)
    if idx is not None:
      X, y = np.asarray(X)[idx], np.asarray(y)[idx]
    if not _is_compilable(self.model):
      n = np.shape(X)[0]
      preds = [np.argmax(self.model.loss(X[i:i + batch_size]), axis=1) for i in range(0, n, batch_size)]
      return float(np.mean(np.concatenate(preds) == y))
    dtype = self._dtype()
    with precision_of({"p": np.zeros(0, dtype)}):
      params = {k: jnp.asarray(v, dtype) for k, v in self.model.params.items()}
      state = jax.tree.map(lambda a: jnp.asarray(a, dtype), self.model.get_state())
      return self._device_accuracy(params, state, jnp.asarray(X, dtype), jnp.asarray(y), None, batch_size)

  # -- training ------------------------------------------------------------------------------

  def _save_checkpoint(self) -> None:
    if self.checkpoint_name is None:
      return
    checkpoint = {
        "model": self.model, "update_rule": self.update_rule, "lr_decay": self.lr_decay,
        "optim_config": self.optim_config, "batch_size": self.batch_size,
        "num_train_samples": self.num_train_samples, "num_val_samples": self.num_val_samples,
        "epoch": self.epoch, "loss_history": self.loss_history,
        "train_acc_history": self.train_acc_history, "val_acc_history": self.val_acc_history,
    }
    filename = f"{self.checkpoint_name}_epoch_{self.epoch}.pkl"
    if self.verbose:
      print(f'Saving checkpoint to "{filename}"')
    with open(filename, "wb") as f:
      pickle.dump(checkpoint, f)

  def train(self) -> None:
    """Run the optimisation (the course's loop; see the module docstring)."""
    dtype = self._dtype()
    with precision_of({"p": np.zeros(0, dtype)}):
      self._train(dtype)

  def _train(self, dtype) -> None:
    model = self.model
    compiled = _is_compilable(model)
    num_train = np.shape(self.X_train)[0]
    iterations_per_epoch = max(num_train // self.batch_size, 1)
    num_iterations = self.num_epochs * iterations_per_epoch

    params = {k: jnp.asarray(v, dtype) for k, v in model.params.items()}
    configs = self._initial_configs(params, dtype)
    if compiled:
      state = jax.tree.map(lambda a: jnp.asarray(a, dtype), model.get_state())
      X_train = jnp.asarray(self.X_train, dtype)
      y_train = jnp.asarray(self.y_train, jnp.int32)
      X_val = jnp.asarray(self.X_val, dtype)
      y_val = jnp.asarray(self.y_val, jnp.int32)
      if self._step_fn is None:
        self._step_fn = self._build_step()
    elif self._update_fn is None:
      self._update_fn = self._build_update()

    pending: list[Any] = []  # device scalars, converted to floats at each check

    def flush() -> None:
      if pending:
        self.loss_history.extend(float(v) for v in np.asarray(jnp.stack(pending)))
        pending.clear()

    def write_back() -> None:
      model.params = {k: np.array(v) for k, v in params.items()}
      if compiled:
        model.set_state(jax.tree.map(np.array, state))

    for t in range(num_iterations):
      if compiled:
        key = jax.random.fold_in(self._key, t)
        params, state, configs, loss = self._step_fn(params, state, configs, X_train, y_train, key, model.reg)
      else:
        idx = self._rng.choice(num_train, self.batch_size)
        model.params = {k: np.array(v) for k, v in params.items()}
        loss, grads = model.loss(np.asarray(self.X_train)[idx], np.asarray(self.y_train)[idx])
        params, configs = self._update_fn(params, {k: jnp.asarray(g, dtype) for k, g in grads.items()}, configs)
      pending.append(jnp.asarray(loss))

      if self.verbose and t % self.print_every == 0:
        flush()
        print(f"(Iteration {t + 1} / {num_iterations}) loss: {self.loss_history[-1]:f}")

      epoch_end = (t + 1) % iterations_per_epoch == 0
      if epoch_end:
        self.epoch += 1
        for p in configs:
          configs[p]["learning_rate"] = configs[p]["learning_rate"] * self.lr_decay

      if t == 0 or t == num_iterations - 1 or epoch_end:
        flush()
        write_back()
        self.optim_configs = configs
        if compiled:
          train_acc = self._device_accuracy(params, state, X_train, y_train,
                                            self._subsample(self.X_train, self.num_train_samples), self.batch_size)
          val_acc = self._device_accuracy(params, state, X_val, y_val,
                                          self._subsample(self.X_val, self.num_val_samples), self.batch_size)
        else:
          train_acc = self.check_accuracy(self.X_train, self.y_train, num_samples=self.num_train_samples)
          val_acc = self.check_accuracy(self.X_val, self.y_val, num_samples=self.num_val_samples)
        self.train_acc_history.append(train_acc)
        self.val_acc_history.append(val_acc)
        self._save_checkpoint()
        if self.verbose:
          print(f"(Epoch {self.epoch} / {self.num_epochs}) train acc: {train_acc:f}; val_acc: {val_acc:f}")
        if val_acc > self.best_val_acc:
          self.best_val_acc = val_acc
          self.best_params = {k: np.array(v) for k, v in params.items()}

    flush()
    write_back()
    self.optim_configs = configs
    if self.best_params:
      model.params = {k: v.copy() for k, v in self.best_params.items()}
