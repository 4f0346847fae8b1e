"""The Solver's update functions: lecture 7's first-order rules as the course writes them
(assignment 2 ``optim.py``), ``update(w, dw, config) -> (next_w, config)``.

Each rule takes the current weights ``w``, their gradient ``dw`` and a ``config`` dict holding the
hyperparameters and the rule's state (velocity, moving averages, step count), and returns
``(next_w, config)``. Missing hyperparameters get the course's defaults and missing state starts
at zero, written into ``config`` as the course does (``config.setdefault``). Each rule also carries
``rule.init(w, config) -> config``, which fills in the same defaults and zero state without taking
a step; the ``Solver`` uses it so that its compiled update step sees one fixed config structure
from the first iteration on.

==============  ============================================================  ===========================
rule            update                                                        course defaults
==============  ============================================================  ===========================
sgd             w -= lr dw                                                    lr 1e-2
sgd_momentum    v = momentum v - lr dw;  w += v                               lr 1e-2, momentum 0.9
rmsprop         cache = decay_rate cache + (1 - decay_rate) dw²;               lr 1e-2, decay_rate 0.99,
                w -= lr dw / (sqrt(cache) + epsilon)                          epsilon 1e-8
adam            t += 1; m = beta1 m + (1 - beta1) dw; v = beta2 v +            lr 1e-3, beta1 0.9,
                (1 - beta2) dw²; w -= lr m̂ / (sqrt(v̂) + epsilon) with          beta2 0.999, epsilon 1e-8
                m̂ = m / (1 - beta1^t), v̂ = v / (1 - beta2^t)
==============  ============================================================  ===========================

(These are the assignment's defaults. The optax versions of the lecture's rules, with the
lecture's slightly different epsilons, are in ``cs231n_jax.optim.transforms``.)

The rules are pure JAX on ``w`` / ``dw`` (they return a new array rather than updating ``w`` in
place), so the ``Solver`` traces them into one compiled step over the whole parameter dict; called
eagerly on float64 numpy arrays they compute in float64, as the course's numpy code does.
"""

from __future__ import annotations

from typing import Any, Callable

import jax.numpy as jnp

from cs231n_jax.layers.precision import follows_input_precision

SGD_DEFAULTS = {"learning_rate": 1e-2}
MOMENTUM_DEFAULTS = {"learning_rate": 1e-2, "momentum": 0.9}
RMSPROP_DEFAULTS = {"learning_rate": 1e-2, "decay_rate": 0.99, "epsilon": 1e-8}
ADAM_DEFAULTS = {"learning_rate": 1e-3, "beta1": 0.9, "beta2": 0.999, "epsilon": 1e-8}


def _check_shapes(rule: str, w, dw) -> None:
  if jnp.shape(w) != jnp.shape(dw):
    raise ValueError(f"{rule}: w {tuple(jnp.shape(w))} and dw {tuple(jnp.shape(dw))} must have the same shape")


def _with_init(init: Callable[[Any, dict], dict]):
  """Attach ``init`` to an update rule as ``rule.init``."""

  def attach(rule):
    rule.init = init
    return rule

  return attach


def _fill(config: dict | None, defaults: dict, **zero_state) -> dict:
  """``config`` (a new dict when None) with the missing hyperparameters set to ``defaults`` and the
  missing state set to ``zero_state``, in place, as the course's ``config.setdefault`` calls do."""
  config = {} if config is None else config
  for key, value in {**defaults, **zero_state}.items():
    config.setdefault(key, value)
  return config


def _init_sgd(w, config: dict | None) -> dict:
  return _fill(config, SGD_DEFAULTS)


def _init_momentum(w, config: dict | None) -> dict:
  return _fill(config, MOMENTUM_DEFAULTS, velocity=jnp.zeros_like(w))


def _init_rmsprop(w, config: dict | None) -> dict:
  return _fill(config, RMSPROP_DEFAULTS, cache=jnp.zeros_like(w))


def _init_adam(w, config: dict | None) -> dict:
  return _fill(config, ADAM_DEFAULTS, m=jnp.zeros_like(w), v=jnp.zeros_like(w), t=0)


@_with_init(_init_sgd)
@follows_input_precision
def sgd(w, dw, config: dict | None = None):
  """Vanilla stochastic gradient descent: w -= learning_rate * dw."""
  _check_shapes("sgd", w, dw)
  config = _init_sgd(w, config)
  return w - config["learning_rate"] * dw, config


@_with_init(_init_momentum)
@follows_input_precision
def sgd_momentum(w, dw, config: dict | None = None):
  """SGD with momentum: the velocity is a decaying running sum of steps (config 'velocity')."""
  _check_shapes("sgd_momentum", w, dw)
  config = _init_momentum(w, config)
  v = config["momentum"] * config["velocity"] - config["learning_rate"] * dw
  config["velocity"] = v
  return w + v, config


@_with_init(_init_rmsprop)
@follows_input_precision
def rmsprop(w, dw, config: dict | None = None):
  """RMSProp: divide each step by a moving average of squared gradients (config 'cache')."""
  _check_shapes("rmsprop", w, dw)
  config = _init_rmsprop(w, config)
  decay = config["decay_rate"]
  cache = decay * config["cache"] + (1 - decay) * dw * dw
  config["cache"] = cache
  return w - config["learning_rate"] * dw / (jnp.sqrt(cache) + config["epsilon"]), config


@_with_init(_init_adam)
@follows_input_precision
def adam(w, dw, config: dict | None = None):
  """Adam with bias correction: moving averages of the gradient (m) and its square (v)."""
  _check_shapes("adam", w, dw)
  config = _init_adam(w, config)
  t = config["t"] + 1
  beta1, beta2 = config["beta1"], config["beta2"]
  m = beta1 * config["m"] + (1 - beta1) * dw
  v = beta2 * config["v"] + (1 - beta2) * dw * dw
  m_hat = m / (1 - beta1**t)
  v_hat = v / (1 - beta2**t)
  config.update(m=m, v=v, t=t)
  return w - config["learning_rate"] * m_hat / (jnp.sqrt(v_hat) + config["epsilon"]), config


UPDATE_RULES = {"sgd": sgd, "sgd_momentum": sgd_momentum, "rmsprop": rmsprop, "adam": adam}
