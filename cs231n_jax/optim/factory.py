"""``make_optimizer(config.optimizer, num_steps)``: the one way a config becomes an optax optimizer.

The training loop (and every runner in :mod:`cs231n_jax.techniques`) calls::

    tx = make_optimizer(config.optimizer, num_steps)   # -> optax.GradientTransformation
    opt_state = tx.init(params)
    updates, opt_state = tx.update(grads, opt_state, params)   # params are required
    params = optax.apply_updates(params, updates)

``num_steps`` is the total number of updates of the run (cosine / linear schedules decay over it;
warm-up and boundaries are checked against it). ``params`` must be passed to ``update`` (weight
penalties, decoupled decay and Polyak averaging read them).

The ``optimizer`` block (:func:`default_config` gives every field, so ``--config.optimizer.x=...``
overrides work; absent or None fields take the default shown):

====================  =======================================================================
field                 meaning
====================  =======================================================================
name                  ``sgd`` | ``momentum`` | ``nesterov`` | ``adagrad`` | ``rmsprop`` |
                      ``adam`` — the lecture's rules (:mod:`cs231n_jax.optim.transforms`)
learning_rate         peak learning rate, > 0 (required)
momentum              rho of momentum / Nesterov, in [0, 1); 0.9
momentum_form         ``"A"`` (``v = rho v + dx; x -= lr v``) or ``"B"`` (``v = rho v - lr dx;
                      x += v``); ``"A"``
nesterov              with name ``momentum``: use Nesterov's rule; False
decay_rate            RMSProp's decay, in [0, 1); 0.99
b1, b2                Adam's beta1, beta2, in [0, 1); 0.9, 0.999
eps                   the epsilon added outside the square root, >= 0; 1e-7
eps_in_sqrt           RMSProp: add eps inside the square root (optax's form); False
initial_accumulator   AdaGrad's starting sum of squares, >= 0; 0.0 (optax uses 0.1)
bias_correction       Adam: False gives the slide's "Adam (almost)"; True
weight_decay          decoupled weight decay (AdamW-style, ``x -= lr_t wd x``), >= 0; 0.0
l2, l1                penalty ``l2 sum W^2 + l1 sum |W|`` added to the loss through its
                      gradient (both: elastic net), >= 0; 0.0
penalize              ``"kernels"`` (weights only) or ``"all"``; ``"kernels"``
grad_clip_norm        clip the gradient to this global norm, > 0, or None (no clipping)
ema_decay             keep a Polyak average ``x_test = d x_test + (1 - d) x`` in the optimizer
                      state (read it with :func:`~cs231n_jax.optim.averaging.averaged_params`),
                      in (0, 1), or None; the lecture's value is 0.995
trainable, frozen     regular expressions matched (``re.search``) against parameter paths such as
                      ``"Dense_0/kernel"``: parameters that match ``frozen``, or that match no
                      pattern of a non-empty ``trainable``, get zero updates (transfer learning)
schedule              a block for :func:`~cs231n_jax.optim.schedules.make_schedule`: ``name``
                      (constant, step, exponential, inverse_time, cosine, linear, piecewise,
                      cosine_restarts), ``warmup_steps``, ``warmup_init``, ``decay_steps``,
                      ``decay_rate``, ``k``, ``boundaries``, ``alpha``
====================  =======================================================================

Impossible values (a negative learning rate, momentum >= 1, decay steps 0, an unknown field, ...)
raise :class:`~cs231n_jax.errors.ConfigError` with a one-line message naming the field, e.g.
``optimizer.momentum: expected a number in [0, 1), got 1.0``.

The order of the chain: penalty gradient -> clipping -> update rule -> decoupled decay (inside the
trainable subset when some parameters are frozen) -> Polyak average.
"""

from __future__ import annotations

import math
import re
from typing import Any, Mapping

import jax
import ml_collections
import optax
from ml_collections import config_dict

from cs231n_jax.errors import ConfigError
from cs231n_jax.optim import averaging, fields, penalties, schedules, transforms

OPTIMIZERS = tuple(transforms.RULES)
OPTIMIZER_FIELDS = (
    "name", "learning_rate", "momentum", "momentum_form", "nesterov", "decay_rate", "b1", "b2", "eps",
    "eps_in_sqrt", "initial_accumulator", "bias_correction", "weight_decay", "l2", "l1", "penalize", "grad_clip_norm",
    "ema_decay", "trainable", "frozen", "schedule",
)
FROZEN, TRAINABLE = "frozen", "trainable"


def default_config(name: str = "sgd", learning_rate: float = 1e-2) -> ml_collections.ConfigDict:
  """An ``optimizer`` block with every field at its lecture default (for configs to start from)."""
  c = ml_collections.ConfigDict()
  c.name = name
  c.learning_rate = learning_rate
  c.momentum = transforms.LECTURE_RHO
  c.momentum_form = "A"
  c.nesterov = False
  c.decay_rate = transforms.COURSE_RMSPROP_DECAY
  c.b1 = transforms.ADAM_BETA1
  c.b2 = transforms.ADAM_BETA2
  c.eps = transforms.LECTURE_EPS
  c.eps_in_sqrt = False
  c.initial_accumulator = 0.0
  c.bias_correction = True
  c.weight_decay = 0.0
  c.l2 = 0.0
  c.l1 = 0.0
  c.penalize = "kernels"
  c.grad_clip_norm = config_dict.placeholder(float)
  c.ema_decay = config_dict.placeholder(float)
  c.trainable = ()
  c.frozen = ()
  c.schedule = ml_collections.ConfigDict()
  c.schedule.name = "constant"
  c.schedule.warmup_steps = 0
  c.schedule.warmup_init = 0.0
  c.schedule.decay_steps = config_dict.placeholder(int)
  c.schedule.decay_rate = config_dict.placeholder(float)
  c.schedule.k = config_dict.placeholder(float)
  c.schedule.boundaries = ()
  c.schedule.alpha = 0.0
  return c


def _patterns(block: Mapping[str, Any], key: str, where: str) -> tuple[re.Pattern, ...]:
  value = block.get(key) or ()
  if isinstance(value, str):
    value = (value,)
  compiled = []
  for pattern in value:
    try:
      compiled.append(re.compile(pattern))
    except (re.error, TypeError) as e:
      raise ConfigError(f"{where}.{key}: {pattern!r} is not a regular expression ({e})") from None
  return tuple(compiled)


def param_path(path) -> str:
  """``"Dense_0/kernel"`` for a pytree key path (the names ``trainable`` / ``frozen`` match)."""
  parts = []
  for k in path:
    parts.append(str(getattr(k, "key", getattr(k, "name", getattr(k, "idx", k)))))
  return "/".join(parts)


def trainable_labels(params: Any, trainable: tuple[re.Pattern, ...], frozen: tuple[re.Pattern, ...]) -> Any:
  """``"trainable"`` / ``"frozen"`` for every parameter leaf, from the two pattern lists."""

  def label(path, _):
    name = param_path(path)
    if any(p.search(name) for p in frozen):
      return FROZEN
    if trainable and not any(p.search(name) for p in trainable):
      return FROZEN
    return TRAINABLE

  return jax.tree_util.tree_map_with_path(label, params)


def make_rule(block: Mapping[str, Any], learning_rate: transforms.ScalarOrSchedule,
              where: str = "optimizer") -> optax.GradientTransformation:
  """The bare update rule a block names, with its hyperparameters checked."""
  name = fields.choice(block, "name", None, OPTIMIZERS, where)
  if name is None:
    raise ConfigError(f"{where}.name: required; expected one of {OPTIMIZERS}")
  rho = fields.number(block, "momentum", transforms.LECTURE_RHO, 0.0, 1.0, False, True, where)
  eps = fields.number(block, "eps", transforms.LECTURE_EPS, 0.0, math.inf, False, True, where)
  if name == "sgd":
    return transforms.sgd(learning_rate)
  if name == "nesterov" or (name == "momentum" and fields.choice(block, "nesterov", False, (False, True), where)):
    return transforms.nesterov(learning_rate, rho)
  if name == "momentum":
    form = fields.choice(block, "momentum_form", "A", transforms.MOMENTUM_FORMS, where)
    return transforms.sgd_momentum(learning_rate, rho, form)
  if name == "adagrad":
    initial = fields.number(block, "initial_accumulator", 0.0, 0.0, math.inf, False, True, where)
    return transforms.adagrad(learning_rate, eps, initial)
  if name == "rmsprop":
    decay = fields.number(block, "decay_rate", transforms.COURSE_RMSPROP_DECAY, 0.0, 1.0, False, True, where)
    in_sqrt = fields.choice(block, "eps_in_sqrt", False, (False, True), where)
    return transforms.rmsprop(learning_rate, decay, eps, in_sqrt)
  b1 = fields.number(block, "b1", transforms.ADAM_BETA1, 0.0, 1.0, False, True, where)
  b2 = fields.number(block, "b2", transforms.ADAM_BETA2, 0.0, 1.0, False, True, where)
  bias_correction = fields.choice(block, "bias_correction", True, (True, False), where)
  return transforms.adam(learning_rate, b1, b2, eps, bias_correction)


def make_optimizer(opt_config: Mapping[str, Any], num_steps: int, where: str = "optimizer") -> optax.GradientTransformation:
  """The optax optimizer an ``optimizer`` config block describes (fields in the module docstring)."""
  if opt_config is None:
    raise ConfigError(f"{where}: missing optimizer block")
  block = dict(opt_config)
  unknown = sorted(set(block) - set(OPTIMIZER_FIELDS))
  if unknown:
    raise ConfigError(f"{where}.{unknown[0]}: unknown field; expected some of {OPTIMIZER_FIELDS}")
  if isinstance(num_steps, bool) or not isinstance(num_steps, int) or num_steps <= 0:
    raise ConfigError(f"num_steps: expected a positive number of training steps, got {num_steps!r}")
  if block.get("learning_rate") is None:
    raise ConfigError(f"{where}.learning_rate: required")
  learning_rate = fields.number(block, "learning_rate", None, 0.0, math.inf, True, True, where)
  schedule_block = block.get("schedule")
  schedule = schedules.make_schedule(
      dict(schedule_block) if schedule_block is not None else None, learning_rate, num_steps, f"{where}.schedule"
  )
  rule = make_rule(block, schedule, where)

  weight_decay = fields.number(block, "weight_decay", 0.0, 0.0, math.inf, False, True, where)
  l2 = fields.number(block, "l2", 0.0, 0.0, math.inf, False, True, where)
  l1 = fields.number(block, "l1", 0.0, 0.0, math.inf, False, True, where)
  penalize = fields.choice(block, "penalize", "kernels", penalties.PENALIZE_CHOICES, where)
  clip = fields.number(block, "grad_clip_norm", None, 0.0, math.inf, True, True, where)
  ema_decay = fields.number(block, "ema_decay", None, 0.0, 1.0, True, True, where)
  trainable = _patterns(block, "trainable", where)
  frozen = _patterns(block, "frozen", where)

  parts = []
  if l2 or l1:
    parts.append(penalties.add_penalty_gradient(l2=l2, l1=l1, penalize=penalize))
  if clip is not None:
    parts.append(optax.clip_by_global_norm(clip))
  parts.append(rule)
  if weight_decay:
    parts.append(penalties.decoupled_weight_decay(weight_decay, schedule, penalize))
  tx = optax.chain(*parts) if len(parts) > 1 else rule
  if trainable or frozen:
    tx = optax.multi_transform(
        {TRAINABLE: tx, FROZEN: optax.set_to_zero()},
        lambda params: trainable_labels(params, trainable, frozen),
    )
  if ema_decay is not None:
    tx = optax.chain(tx, averaging.polyak_average(ema_decay))
  return tx


def learning_rate_schedule(opt_config: Mapping[str, Any], num_steps: int, where: str = "optimizer") -> optax.Schedule:
  """The learning-rate schedule ``make_optimizer`` uses (for logging the rate of each step)."""
  block = dict(opt_config)
  learning_rate = fields.number(block, "learning_rate", None, 0.0, math.inf, True, True, where)
  if learning_rate is None:
    raise ConfigError(f"{where}.learning_rate: required")
  schedule_block = block.get("schedule")
  return schedules.make_schedule(
      dict(schedule_block) if schedule_block is not None else None, learning_rate, num_steps, f"{where}.schedule"
  )
