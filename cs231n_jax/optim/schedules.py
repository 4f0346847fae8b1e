"""Learning-rate schedules of lecture 7 and the course notes, as optax schedules (step -> rate).

"SGD, SGD+Momentum, Adagrad, RMSProp, Adam all have learning rate as a hyperparameter ... =>
Learning rate decay over time!" (seed lines 7895-7921). Each function returns an optax schedule: a
pure, jittable function of the (0-based) update count, usable as the ``learning_rate`` of every
rule in :mod:`cs231n_jax.optim.transforms` and of every optax optimizer.

===================  =========================================================  ================
schedule             rate at step t                                             source
===================  =========================================================  ================
step_decay           a0 * decay_rate ** floor(t / decay_steps)                  slide 7907 ("by
                                                                                half every few
                                                                                epochs")
exponential_decay    a0 * exp(-k t / decay_steps)                               slide 7913
inverse_time_decay   a0 / (1 + k t / decay_steps)                               slide 7919 (1/t)
cosine_decay         a0 * (alpha + (1 - alpha) (1 + cos(pi t / T)) / 2)        notes L134
linear_decay         a0 * (1 - (1 - alpha) t / T)                               notes L135
piecewise            a0 * decay_rate ** (number of boundaries <= t)             AlexNet / ResNet
                                                                                "divide by 10"
cosine_restarts      cosine_decay restarted every decay_steps steps (SGDR)      slide 8096
with_warmup          linear from warmup_init * a0 to a0 over warmup_steps,      notes L138-142
                     then the schedule, shifted by warmup_steps
===================  =========================================================  ================

With ``decay_steps = 1`` the exponential and 1/t rates are the slide's ``a0 e^{-kt}`` and
``a0 / (1 + kt)`` with t counted in steps; set ``decay_steps`` to the steps per epoch to count t in
epochs (the slides' plots are per epoch). ``T`` is ``decay_steps`` for the cosine and linear
schedules, after which the rate stays at ``alpha * a0``.

:func:`make_schedule` builds one from a config block (``optimizer.schedule``) and rejects
impossible values with a :class:`~cs231n_jax.errors.ConfigError` naming the field.
"""

from __future__ import annotations

import math
from typing import Any, Mapping, Sequence

import jax.numpy as jnp
import optax

from cs231n_jax.errors import ConfigError
from cs231n_jax.optim import fields

SCHEDULES = (
    "constant", "step", "exponential", "inverse_time", "cosine", "linear", "piecewise",
    "cosine_restarts",
)
SCHEDULE_FIELDS = ("name", "warmup_steps", "warmup_init", "decay_steps", "decay_rate", "k", "boundaries", "alpha")


def constant(init_value: float) -> optax.Schedule:
  return optax.constant_schedule(init_value)


def step_decay(init_value: float, decay_steps: int, decay_rate: float) -> optax.Schedule:
  """Multiply the rate by ``decay_rate`` every ``decay_steps`` steps ("decay by half": 0.5)."""
  return optax.exponential_decay(init_value, transition_steps=decay_steps, decay_rate=decay_rate, staircase=True)


def exponential_decay(init_value: float, k: float, decay_steps: int = 1) -> optax.Schedule:
  """The slide's ``a = a0 e^{-kt}``, t in units of ``decay_steps`` steps."""

  def schedule(count):
    return init_value * jnp.exp(-k * count / decay_steps)

  return schedule


def inverse_time_decay(init_value: float, k: float, decay_steps: int = 1) -> optax.Schedule:
  """The slide's 1/t decay ``a = a0 / (1 + kt)``, t in units of ``decay_steps`` steps."""

  def schedule(count):
    return init_value / (1.0 + k * count / decay_steps)

  return schedule


def cosine_decay(init_value: float, decay_steps: int, alpha: float = 0.0) -> optax.Schedule:
  """``a_t = a0 (1 + cos(pi t / T)) / 2`` (course notes), floored at ``alpha * a0``."""
  return optax.cosine_decay_schedule(init_value, decay_steps=decay_steps, alpha=alpha)


def linear_decay(init_value: float, decay_steps: int, alpha: float = 0.0) -> optax.Schedule:
  """``a_t = a0 (1 - t / T)`` (course notes), ending at ``alpha * a0``."""
  return optax.linear_schedule(init_value, alpha * init_value, transition_steps=decay_steps)


def piecewise(init_value: float, boundaries: Sequence[int], decay_rate: float) -> optax.Schedule:
  """Multiply by ``decay_rate`` at each boundary (AlexNet / ResNet: "divided by 10", 0.1)."""
  return optax.piecewise_constant_schedule(init_value, {int(b): decay_rate for b in boundaries})


def cosine_restarts(init_value: float, decay_steps: int, alpha: float = 0.0) -> optax.Schedule:
  """SGDR with equal cycles (Loshchilov and Hutter 2016; Huang et al., snapshot ensembles 2017).

  Within each cycle of ``decay_steps`` steps the rate follows :func:`cosine_decay`; at the start of
  the next cycle it jumps back to ``a0``. A snapshot taken at the end of each cycle (rate near its
  minimum) is one member of a snapshot ensemble.
  """

  def schedule(count):
    t = jnp.mod(count, decay_steps)
    cosine = 0.5 * (1.0 + jnp.cos(jnp.pi * t / decay_steps))
    return init_value * ((1.0 - alpha) * cosine + alpha)

  return schedule


def with_warmup(
    schedule: optax.Schedule, init_value: float, warmup_steps: int, warmup_init: float = 0.0
) -> optax.Schedule:
  """Linear warm-up from ``warmup_init * init_value`` to ``init_value``, then ``schedule``.

  "High initial learning rates can make loss explode, linearly increasing learning rate in the
  first few iterations can prevent this" (course notes L138-142). ``schedule`` sees the count minus
  ``warmup_steps``, so it starts from its own step 0.
  """
  if warmup_steps == 0:
    return schedule
  warmup = optax.linear_schedule(warmup_init * init_value, init_value, transition_steps=warmup_steps)
  return optax.join_schedules([warmup, schedule], [warmup_steps])


def _require(block: Mapping[str, Any], key: str, where: str):
  value = block.get(key)
  if value is None:
    raise ConfigError(f"{where}.{key}: required by schedule {block.get('name')!r}")
  return value


def _positive_int(value: Any, field: str) -> int:
  if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
    raise ConfigError(f"{field}: expected a positive number of steps, got {value!r}")
  return value


def make_schedule(
    block: Mapping[str, Any] | None, learning_rate: float, num_steps: int, where: str = "optimizer.schedule"
) -> optax.Schedule:
  """The schedule a config block describes, with peak rate ``learning_rate`` over ``num_steps``.

  Fields (absent or None means the default): ``name`` (one of :data:`SCHEDULES`, default
  ``"constant"``), ``warmup_steps`` (0), ``warmup_init`` (0.0, the warm-up's starting fraction),
  ``decay_steps`` (steps per decay unit for step / exponential / inverse_time; the cycle length for
  cosine_restarts; T for cosine / linear, default ``num_steps - warmup_steps``), ``decay_rate``
  (the factor of step decay and at each piecewise boundary, in (0, 1]), ``k`` (the slide's k of
  exponential and 1/t decay, > 0), ``boundaries`` (piecewise: increasing steps in (0, num_steps)),
  ``alpha`` (cosine / linear / restarts: the final fraction of the rate, in [0, 1]).
  """
  block = dict(block or {})
  unknown = sorted(set(block) - set(SCHEDULE_FIELDS))
  if unknown:
    raise ConfigError(f"{where}.{unknown[0]}: unknown field; expected some of {SCHEDULE_FIELDS}")
  name = block.get("name") or "constant"
  if name not in SCHEDULES:
    raise ConfigError(f"{where}.name: expected one of {SCHEDULES}, got {name!r}")
  _positive_int(num_steps, "num_steps")
  warmup_steps = block.get("warmup_steps") or 0
  if isinstance(warmup_steps, bool) or not isinstance(warmup_steps, int) or not 0 <= warmup_steps < num_steps:
    raise ConfigError(f"{where}.warmup_steps: expected an integer in [0, {num_steps}) (num_steps), got {warmup_steps!r}")
  warmup_init = fields.number(block, "warmup_init", 0.0, 0.0, 1.0, False, False, where)
  alpha = fields.number(block, "alpha", 0.0, 0.0, 1.0, False, False, where)
  remaining = num_steps - warmup_steps

  def decay_rate() -> float:
    _require(block, "decay_rate", where)
    return fields.number(block, "decay_rate", None, 0.0, 1.0, True, False, where)

  def k() -> float:
    _require(block, "k", where)
    return fields.number(block, "k", None, 0.0, math.inf, True, True, where)

  def decay_steps(default: int | None = None) -> int:
    value = block.get("decay_steps")
    if value is None:
      if default is None:
        raise ConfigError(f"{where}.decay_steps: required by schedule {name!r}")
      return default
    return _positive_int(value, f"{where}.decay_steps")

  if name == "constant":
    schedule = constant(learning_rate)
  elif name == "step":
    schedule = step_decay(learning_rate, decay_steps(), decay_rate())
  elif name == "exponential":
    schedule = exponential_decay(learning_rate, k(), decay_steps(1))
  elif name == "inverse_time":
    schedule = inverse_time_decay(learning_rate, k(), decay_steps(1))
  elif name == "cosine":
    schedule = cosine_decay(learning_rate, decay_steps(remaining), alpha)
  elif name == "linear":
    schedule = linear_decay(learning_rate, decay_steps(remaining), alpha)
  elif name == "cosine_restarts":
    schedule = cosine_restarts(learning_rate, decay_steps(), alpha)
  else:  # piecewise
    boundaries = list(_require(block, "boundaries", where))
    if not boundaries or any(isinstance(b, bool) or not isinstance(b, int) for b in boundaries):
      raise ConfigError(f"{where}.boundaries: expected a non-empty list of integer steps, got {boundaries!r}")
    if sorted(set(boundaries)) != boundaries or boundaries[0] <= 0 or boundaries[-1] >= remaining:
      raise ConfigError(
          f"{where}.boundaries: expected strictly increasing steps in (0, {remaining}), got {boundaries!r}"
      )
    schedule = piecewise(learning_rate, boundaries, decay_rate())
  return with_warmup(schedule, learning_rate, warmup_steps, warmup_init)
