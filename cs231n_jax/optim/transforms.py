"""The update rules of lecture 7, written as the slides write them, as optax GradientTransformations.

Every rule here is an ``optax.GradientTransformation`` (pure ``init`` / ``update``; the update
returned is what ``optax.apply_updates`` *adds* to the parameters), and every one reproduces the
slide's code line by line (seed lines 7483-7883):

============  ==============================================================  ======================
rule          slide code (``x`` parameters, ``dx`` gradient)                   lecture defaults
============  ==============================================================  ======================
sgd           ``x -= learning_rate * dx``                                      --
momentum A    ``vx = rho * vx + dx; x -= learning_rate * vx``                  rho = 0.9
momentum B    ``vx = rho * vx - learning_rate * dx; x += vx``                  rho = 0.9
nesterov      ``old_v = v; v = rho * v - learning_rate * dx;``                 rho = 0.9
              ``x += -rho * old_v + (1 + rho) * v``
adagrad       ``grad_squared += dx * dx;``                                     eps = 1e-7 (outside
              ``x -= learning_rate * dx / (np.sqrt(grad_squared) + 1e-7)``     the sqrt), start 0
rmsprop       ``grad_squared = decay_rate * grad_squared``                     decay_rate = 0.99,
              ``    + (1 - decay_rate) * dx * dx``; then as AdaGrad            eps = 1e-7
adam          moments with ``beta1``, ``beta2``; ``first_unbias =``            b1 = 0.9, b2 = 0.999,
              ``first_moment / (1 - beta1 ** t)`` (t = 1, 2, ...), same for    lr 1e-3, eps = 1e-7
              the second; ``x -= lr * first_unbias / (sqrt(second_unbias)
              + 1e-7)``; ``bias_correction=False`` is the slide's "Adam
              (almost)"
============  ==============================================================  ======================

Where the lecture and optax differ (the parity tests in ``tests/optim`` pin each of these):

- **AdaGrad.** ``optax.adagrad`` starts its accumulator at ``initial_accumulator_value=0.1`` and puts
  ``eps`` *inside* the square root (``g * rsqrt(acc + eps)``); the slide starts at 0 and adds 1e-7
  *outside* (``g / (sqrt(acc) + 1e-7)``). With ``eps=0`` and a zero start the two agree.
- **RMSProp.** ``optax.rmsprop`` defaults to ``decay=0.9, eps=1e-8, eps_in_sqrt=True``; the slide's
  form is ``eps_in_sqrt=False, eps=1e-7``. The slide gives no value for ``decay_rate``; 0.99 is the
  course's own default (assignment 2, ``optim.py``). optax calls it ``decay``.
- **Adam.** optax's ``eps`` is 1e-8; the slide's is 1e-7 (placement agrees: outside the sqrt).
  optax has no un-debiased Adam; "Adam (almost)" equals optax's Adam with ``eps=0`` and the
  learning rate multiplied by ``(1 - b1**t) / sqrt(1 - b2**t)``, which is how it is tested.
  "Adam (almost)" takes a first step ``(1 - b1) / sqrt(1 - b2) ~= 3.162`` times the learning rate
  (the slide's "Q: What happens at first timestep?"); full Adam's first step is the learning rate.
- **Momentum.** ``optax.sgd(lr, momentum=rho)`` is form A exactly (``optax.trace``: ``g + rho *
  trace``). Form B keeps the learning rate inside the velocity; the two give the same sequence of
  ``x`` only for a *constant* learning rate (under a schedule, form B's velocity remembers old
  learning rates). The slide's claim "they are equivalent" holds under that condition.
- **Nesterov.** The slide's change-of-variables code equals ``optax.sgd(lr, momentum=rho,
  nesterov=True)`` for a constant learning rate (both move ``x`` by ``rho**2 v - (1 + rho) lr g``).
- **Naming.** Flax / optax say ``decay`` / ``b1`` / ``b2`` / ``momentum``; the slides say
  ``decay_rate`` / ``beta1`` / ``beta2`` / ``rho``. This module uses the slide names for arguments
  and ``make_optimizer`` accepts the config fields listed in :mod:`cs231n_jax.optim.factory`.
- **Typo.** The Adam snippets on the slides have an unbalanced ``)`` (invalid Python); the code
  here is the evident intent.

Every ``learning_rate`` may be a float or an optax schedule (a function of the step count, called
with 0 on the first update, as optax does).
"""

from __future__ import annotations

from typing import Callable, NamedTuple, Union

import jax
import jax.numpy as jnp
import optax

ScalarOrSchedule = Union[float, jax.Array, Callable[[jax.Array], jax.Array]]

# The lecture's defaults (seed lines 7508, 7692, 7780, 7878-7880).
LECTURE_RHO = 0.9  # "typically rho=0.9 or 0.99"
LECTURE_EPS = 1e-7  # the 1e-7 every adaptive snippet adds outside the square root
COURSE_RMSPROP_DECAY = 0.99  # not on the slide; the course's assignment default
ADAM_BETA1 = 0.9
ADAM_BETA2 = 0.999
ADAM_LEARNING_RATE = 1e-3  # "1e-3 or 5e-4 is a great starting point"
MOMENTUM_FORMS = ("A", "B")


def learning_rate_at(learning_rate: ScalarOrSchedule, count: jax.Array) -> jax.Array:
  """The learning rate for the update with (0-based) index ``count``."""
  return learning_rate(count) if callable(learning_rate) else learning_rate


def _next_count(count: jax.Array) -> jax.Array:
  return optax.safe_increment(count)


class SgdState(NamedTuple):
  count: jax.Array


class VelocityState(NamedTuple):
  count: jax.Array
  velocity: optax.Updates


class GradSquaredState(NamedTuple):
  count: jax.Array
  grad_squared: optax.Updates


class AdamState(NamedTuple):
  count: jax.Array
  first_moment: optax.Updates
  second_moment: optax.Updates


def _zeros_count() -> jax.Array:
  return jnp.zeros([], jnp.int32)


def sgd(learning_rate: ScalarOrSchedule) -> optax.GradientTransformation:
  """Vanilla SGD: ``x -= learning_rate * dx``."""

  def init_fn(params):
    del params
    return SgdState(count=_zeros_count())

  def update_fn(grads, state, params=None):
    del params
    lr = learning_rate_at(learning_rate, state.count)
    updates = jax.tree.map(lambda dx: -(lr * dx), grads)
    return updates, SgdState(count=_next_count(state.count))

  return optax.GradientTransformation(init_fn, update_fn)


def sgd_momentum(
    learning_rate: ScalarOrSchedule, rho: float = LECTURE_RHO, form: str = "A"
) -> optax.GradientTransformation:
  """SGD + momentum in either of the slides' two forms.

  Form ``"A"`` (Sutskever et al., the first slide): ``vx = rho * vx + dx; x -= learning_rate * vx``
  — the velocity is a running sum of gradients and the learning rate scales it on the way out.
  Form ``"B"`` (the second slide): ``vx = rho * vx - learning_rate * dx; x += vx`` — the velocity
  holds the step itself. Same iterates at a constant learning rate (``v_B = -learning_rate * v_A``).
  """
  if form not in MOMENTUM_FORMS:
    raise ValueError(f"form: expected one of {MOMENTUM_FORMS}, got {form!r}")

  def init_fn(params):
    return VelocityState(count=_zeros_count(), velocity=optax.tree.zeros_like(params))

  def update_fn(grads, state, params=None):
    del params
    lr = learning_rate_at(learning_rate, state.count)
    if form == "A":
      velocity = jax.tree.map(lambda v, dx: rho * v + dx, state.velocity, grads)
      updates = jax.tree.map(lambda v: -(lr * v), velocity)
    else:
      velocity = jax.tree.map(lambda v, dx: rho * v - lr * dx, state.velocity, grads)
      updates = velocity
    return updates, VelocityState(count=_next_count(state.count), velocity=velocity)

  return optax.GradientTransformation(init_fn, update_fn)


def nesterov(learning_rate: ScalarOrSchedule, rho: float = LECTURE_RHO) -> optax.GradientTransformation:
  """Nesterov momentum in the slide's change-of-variables form (seed lines 7637-7671).

  The look-ahead form ``v' = rho v - lr grad f(x + rho v); x' = x + v'`` needs the gradient at a
  point other than ``x``; substituting ``x~ = x + rho v`` gives an update in terms of the gradient
  at the current (substituted) parameters::

      old_v = v
      v = rho * v - learning_rate * dx
      x += -rho * old_v + (1 + rho) * v
  """

  def init_fn(params):
    return VelocityState(count=_zeros_count(), velocity=optax.tree.zeros_like(params))

  def update_fn(grads, state, params=None):
    del params
    lr = learning_rate_at(learning_rate, state.count)
    velocity = jax.tree.map(lambda v, dx: rho * v - lr * dx, state.velocity, grads)
    updates = jax.tree.map(lambda old_v, v: -rho * old_v + (1 + rho) * v, state.velocity, velocity)
    return updates, VelocityState(count=_next_count(state.count), velocity=velocity)

  return optax.GradientTransformation(init_fn, update_fn)


def adagrad(
    learning_rate: ScalarOrSchedule, eps: float = LECTURE_EPS, initial_accumulator_value: float = 0.0
) -> optax.GradientTransformation:
  """AdaGrad as on the slide: ``grad_squared += dx * dx; x -= lr * dx / (sqrt(grad_squared) + eps)``.

  ``initial_accumulator_value`` is 0 on the slide (optax's default is 0.1); ``eps`` is added
  outside the square root (optax adds it inside). Over a long run the effective step decays to
  zero (the slide's "Q2"): with a constant gradient, step ``t`` is ``lr / sqrt(t)`` (up to eps).
  """

  def init_fn(params):
    return GradSquaredState(
        count=_zeros_count(), grad_squared=optax.tree.full_like(params, initial_accumulator_value)
    )

  def update_fn(grads, state, params=None):
    del params
    lr = learning_rate_at(learning_rate, state.count)
    grad_squared = jax.tree.map(lambda s, dx: s + dx * dx, state.grad_squared, grads)
    updates = jax.tree.map(lambda dx, s: -(lr * dx / (jnp.sqrt(s) + eps)), grads, grad_squared)
    return updates, GradSquaredState(count=_next_count(state.count), grad_squared=grad_squared)

  return optax.GradientTransformation(init_fn, update_fn)


def rmsprop(
    learning_rate: ScalarOrSchedule, decay_rate: float = COURSE_RMSPROP_DECAY, eps: float = LECTURE_EPS,
    eps_in_sqrt: bool = False,
) -> optax.GradientTransformation:
  """RMSProp ("leaky AdaGrad", Tieleman and Hinton 2012) as on the slide.

  ``grad_squared = decay_rate * grad_squared + (1 - decay_rate) * dx * dx``, then the AdaGrad step
  ``dx / (sqrt(grad_squared) + eps)``. Equals ``optax.rmsprop(lr, decay=decay_rate, eps=eps,
  eps_in_sqrt=eps_in_sqrt)``; ``eps_in_sqrt=True`` (optax's default) divides by ``sqrt(grad_squared + eps)``.
  """

  def init_fn(params):
    return GradSquaredState(count=_zeros_count(), grad_squared=optax.tree.zeros_like(params))

  def update_fn(grads, state, params=None):
    del params
    lr = learning_rate_at(learning_rate, state.count)
    grad_squared = jax.tree.map(
        lambda s, dx: decay_rate * s + (1 - decay_rate) * dx * dx, state.grad_squared, grads
    )
    if eps_in_sqrt:
      updates = jax.tree.map(lambda dx, s: -(lr * dx / jnp.sqrt(s + eps)), grads, grad_squared)
    else:
      updates = jax.tree.map(lambda dx, s: -(lr * dx / (jnp.sqrt(s) + eps)), grads, grad_squared)
    return updates, GradSquaredState(count=_next_count(state.count), grad_squared=grad_squared)

  return optax.GradientTransformation(init_fn, update_fn)


def adam(
    learning_rate: ScalarOrSchedule = ADAM_LEARNING_RATE,
    beta1: float = ADAM_BETA1,
    beta2: float = ADAM_BETA2,
    eps: float = LECTURE_EPS,
    bias_correction: bool = True,
) -> optax.GradientTransformation:
  """Adam (Kingma and Ba 2015), the slide's "full form"; ``bias_correction=False`` is "Adam (almost)".

  The moments start at zero, so early on they are biased towards zero; dividing by ``1 - beta**t``
  (``t = 1, 2, ...``, the slide's ``for t in range(1, num_iterations)``) undoes that. Without the
  correction the first step is ``lr * (1 - beta1) / sqrt(1 - beta2)`` ~= 3.162 lr for any gradient
  sign (the eps aside); with it, the first step is ``lr``.
  """

  def init_fn(params):
    return AdamState(
        count=_zeros_count(),
        first_moment=optax.tree.zeros_like(params),
        second_moment=optax.tree.zeros_like(params),
    )

  def update_fn(grads, state, params=None):
    del params
    lr = learning_rate_at(learning_rate, state.count)
    first = jax.tree.map(lambda m, dx: beta1 * m + (1 - beta1) * dx, state.first_moment, grads)
    second = jax.tree.map(lambda v, dx: beta2 * v + (1 - beta2) * dx * dx, state.second_moment, grads)
    if bias_correction:
      t = state.count + 1
      first_unbias = jax.tree.map(lambda m: m / (1 - beta1**t), first)
      second_unbias = jax.tree.map(lambda v: v / (1 - beta2**t), second)
    else:
      first_unbias, second_unbias = first, second
    updates = jax.tree.map(
        lambda m, v: -(lr * m / (jnp.sqrt(v) + eps)), first_unbias, second_unbias
    )
    return updates, AdamState(count=_next_count(state.count), first_moment=first, second_moment=second)

  return optax.GradientTransformation(init_fn, update_fn)


# name -> factory(learning_rate, **hyperparameters); ``make_optimizer`` and the optimizer race use it.
RULES: dict[str, Callable[..., optax.GradientTransformation]] = {
    "sgd": sgd,
    "momentum": sgd_momentum,
    "nesterov": nesterov,
    "adagrad": adagrad,
    "rmsprop": rmsprop,
    "adam": adam,
}
