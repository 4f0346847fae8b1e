"""Schedules, penalties, decoupled decay, Polyak averaging and ``make_optimizer`` config handling."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from cs231n_jax.errors import ConfigError
from cs231n_jax.optim import averaging, default_config, factory, make_optimizer, penalties, schedules, transforms

# ---- schedules ----

def test_slide_decay_formulas_closed_form():
  """a0 = 0.1, k = 0.1, t = 10: exponential a0 e^{-kt} = 0.0367879, 1/t a0 / (1 + kt) = 0.05."""
  assert abs(float(schedules.exponential_decay(0.1, 0.1)(10)) - 0.1 * math.exp(-1.0)) < 1e-7
  np.testing.assert_allclose(float(schedules.exponential_decay(0.1, 0.1)(10)), 0.0367879, atol=1e-7)
  np.testing.assert_allclose(float(schedules.inverse_time_decay(0.1, 0.1)(10)), 0.05, atol=1e-9)
  # t counted in units of decay_steps (e.g. epochs of 50 steps).
  np.testing.assert_allclose(float(schedules.exponential_decay(0.1, 0.1, decay_steps=50)(500)), 0.0367879, atol=1e-7)


def test_step_cosine_linear_piecewise_restarts_values():
  step = schedules.step_decay(1.0, decay_steps=10, decay_rate=0.5)
  assert [float(step(t)) for t in (0, 9, 10, 25)] == [1.0, 1.0, 0.5, 0.25]
  cosine = schedules.cosine_decay(2.0, decay_steps=100)
  np.testing.assert_allclose([float(cosine(t)) for t in (0, 50, 100, 150)], [2.0, 1.0, 0.0, 0.0], atol=1e-6)
  np.testing.assert_allclose(float(cosine(30)), 0.5 * 2.0 * (1 + math.cos(math.pi * 30 / 100)), rtol=1e-6)
  linear = schedules.linear_decay(1.0, decay_steps=10)
  np.testing.assert_allclose(float(linear(4)), 0.6, rtol=1e-6)
  pw = schedules.piecewise(0.1, [30, 60], 0.1)
  np.testing.assert_allclose([float(pw(t)) for t in (0, 29, 30, 59, 60)], [0.1, 0.1, 0.01, 0.01, 0.001], rtol=1e-6)
  restarts = schedules.cosine_restarts(1.0, decay_steps=10)
  np.testing.assert_allclose([float(restarts(t)) for t in (0, 5, 10, 15, 20)], [1.0, 0.5, 1.0, 0.5, 1.0], atol=1e-6)
  assert float(restarts(9)) < 0.03


def test_warmup_then_schedule():
  s = schedules.with_warmup(schedules.cosine_decay(1.0, 100), 1.0, warmup_steps=10)
  np.testing.assert_allclose([float(s(t)) for t in (0, 5, 10)], [0.0, 0.5, 1.0], atol=1e-6)
  np.testing.assert_allclose(float(s(60)), 0.5, atol=1e-6)  # cosine halfway, shifted by the warm-up


def test_make_schedule_from_config_matches_functions():
  s = schedules.make_schedule({"name": "step", "decay_steps": 10, "decay_rate": 0.5}, 0.2, 100)
  assert float(s(35)) == pytest.approx(0.2 * 0.5**3)
  s = schedules.make_schedule({"name": "cosine", "warmup_steps": 20}, 1.0, 120)
  np.testing.assert_allclose(float(s(70)), 0.5, atol=1e-6)  # T defaults to num_steps - warmup
  s = schedules.make_schedule({"name": "inverse_time", "k": 0.1}, 0.1, 100)
  np.testing.assert_allclose(float(s(10)), 0.05, rtol=1e-6)
  s = jax.jit(schedules.make_schedule({"name": "piecewise", "boundaries": (30, 60), "decay_rate": 0.1}, 0.1, 90))
  np.testing.assert_allclose(float(s(jnp.asarray(61))), 0.001, rtol=1e-6)


@pytest.mark.parametrize(
    "block,num_steps,message",
    [
        ({"name": "step", "decay_steps": 0, "decay_rate": 0.5}, 100,
         r"optimizer.schedule.decay_steps: expected a positive number of steps, got 0"),
        ({"name": "step", "decay_rate": 0.5}, 100, r"optimizer.schedule.decay_steps: required"),
        ({"name": "step", "decay_steps": 5, "decay_rate": 1.5}, 100,
         r"optimizer.schedule.decay_rate: expected a number in \(0, 1\], got 1.5"),
        ({"name": "exponential", "k": -1.0}, 100, r"optimizer.schedule.k: expected a number in \(0, inf\), got -1.0"),
        ({"name": "cosine", "warmup_steps": 100}, 100, r"optimizer.schedule.warmup_steps: expected an integer in \[0, 100\)"),
        ({"name": "cosine", "warmup_steps": -1}, 100, r"optimizer.schedule.warmup_steps"),
        ({"name": "piecewise", "boundaries": (60, 30), "decay_rate": 0.1}, 100,
         r"optimizer.schedule.boundaries: expected strictly increasing"),
        ({"name": "piecewise", "boundaries": (30, 200), "decay_rate": 0.1}, 100, r"optimizer.schedule.boundaries"),
        ({"name": "warm"}, 100, r"optimizer.schedule.name: expected one of"),
        ({"name": "constant", "decay": 3}, 100, r"optimizer.schedule.decay: unknown field"),
        ({"name": "cosine", "alpha": 2.0}, 100, r"optimizer.schedule.alpha: expected a number in \[0, 1\], got 2.0"),
        ({"name": "cosine", "alpha": "big"}, 100, r"optimizer.schedule.alpha: expected a number in \[0, 1\], got 'big'"),
        ({"name": "cosine", "warmup_steps": 5, "warmup_init": 1.5}, 100, r"optimizer.schedule.warmup_init: expected a number in \[0, 1\]"),
        ({"name": "inverse_time", "k": "fast"}, 100, r"optimizer.schedule.k: expected a number in \(0, inf\), got 'fast'"),
        ({"name": "exponential"}, 100, r"optimizer.schedule.k: required by schedule 'exponential'"),
        ({"name": "constant"}, 0, r"num_steps: expected a positive number of steps, got 0"),
    ],
)
def test_bad_schedule_config_names_the_field(block, num_steps, message):
  with pytest.raises(ConfigError, match=message):
    schedules.make_schedule(block, 0.1, num_steps)


# ---- penalties, decoupled decay, Polyak ----

def small_params():
  k = jax.random.split(jax.random.PRNGKey(0), 3)
  return {
      "Dense_0": {"kernel": jax.random.normal(k[0], (4, 3)), "bias": jax.random.normal(k[1], (3,))},
      "Conv_0": {"kernel": jax.random.normal(k[2], (3, 3, 1, 2)), "bias": jnp.ones((2,))},
  }


def test_penalty_gradient_equals_jax_grad_of_penalty():
  params = small_params()
  for l2, l1, penalize in [(0.3, 0.0, "kernels"), (0.0, 0.2, "kernels"), (0.3, 0.2, "all")]:
    expected = jax.grad(lambda p: penalties.penalty(p, l2, l1, penalize))(params)
    tx = penalties.add_penalty_gradient(l2, l1, penalize)
    zeros = jax.tree.map(jnp.zeros_like, params)
    got, _ = tx.update(zeros, tx.init(params), params)
    jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7), got, expected)
  # Biases are not penalised by default; kernels are: 2 * l2 * W.
  got, _ = penalties.add_penalty_gradient(0.5).update(zeros, optax.EmptyState(), params)
  np.testing.assert_array_equal(got["Dense_0"]["bias"], 0.0)
  np.testing.assert_allclose(got["Dense_0"]["kernel"], params["Dense_0"]["kernel"], rtol=1e-6)


def test_penalty_values_l2_l1_elastic():
  w = {"kernel": jnp.array([[1.0, -2.0], [0.5, 0.0]])}
  assert float(penalties.penalty(w, l2=1.0)) == pytest.approx(1 + 4 + 0.25)
  assert float(penalties.penalty(w, l1=1.0)) == pytest.approx(3.5)
  # Elastic net sum beta W^2 + |W| with beta = 2, strength lambda = 0.1.
  assert float(penalties.penalty(w, l2=0.1 * 2, l1=0.1)) == pytest.approx(0.1 * (2 * 5.25 + 3.5))


def test_sgd_with_l2_penalty_equals_sgd_with_decoupled_decay():
  """For plain SGD, an L2 penalty l2 and decoupled decay 2 l2 are the same update."""
  params, grads = small_params(), jax.tree.map(lambda p: 0.1 * p + 1.0, small_params())
  a = make_optimizer({"name": "sgd", "learning_rate": 0.1, "l2": 0.05}, 10)
  b = make_optimizer({"name": "sgd", "learning_rate": 0.1, "weight_decay": 0.1}, 10)
  ua, _ = a.update(grads, a.init(params), params)
  ub, _ = b.update(grads, b.init(params), params)
  jax.tree.map(lambda x, y: np.testing.assert_allclose(x, y, rtol=1e-6), ua, ub)


def test_adam_with_decoupled_decay_equals_optax_adamw():
  params = small_params()
  mask = jax.tree.map(lambda p: p.ndim >= 2, params)
  ours = make_optimizer({"name": "adam", "learning_rate": 1e-2, "weight_decay": 1e-2, "eps": 1e-8}, 10)
  theirs = optax.adamw(1e-2, eps=1e-8, weight_decay=1e-2, mask=mask)
  s1, s2, p1, p2 = ours.init(params), theirs.init(params), params, params
  for i in range(5):
    g = jax.tree.map(lambda p: jnp.sin(p + i), p1)
    u1, s1 = ours.update(g, s1, p1)
    u2, s2 = theirs.update(g, s2, p2)
    p1, p2 = optax.apply_updates(p1, u1), optax.apply_updates(p2, u2)
  jax.tree.map(lambda x, y: np.testing.assert_allclose(x, y, rtol=1e-5, atol=1e-7), p1, p2)


def test_polyak_average_is_the_slide_formula():
  """x_test = 0.995 x_test + 0.005 x, x_test starting at the initial parameters."""
  tx = make_optimizer({"name": "sgd", "learning_rate": 0.1, "ema_decay": 0.995}, 10)
  x = {"w": jnp.array([1.0, -2.0])}
  state = tx.init(x)
  x_test = np.array([1.0, -2.0])
  for i in range(4):
    updates, state = tx.update({"w": jnp.array([1.0, float(i)])}, state, x)
    x = optax.apply_updates(x, updates)
    x_test = 0.995 * x_test + 0.005 * np.asarray(x["w"])
  np.testing.assert_allclose(averaging.averaged_params(state)["w"], x_test, rtol=1e-6)
  with pytest.raises(ValueError, match="opt_state: holds no Polyak average"):
    averaging.averaged_params(make_optimizer({"name": "sgd", "learning_rate": 0.1}, 1).init(x))


def test_frozen_parameters_stay_bit_identical():
  params = small_params()
  tx = make_optimizer({"name": "adam", "learning_rate": 0.1, "weight_decay": 0.1, "frozen": ("^Conv_0/",)}, 10)
  state = tx.init(params)
  p = params
  for _ in range(3):
    updates, state = tx.update(jax.tree.map(jnp.ones_like, p), state, p)
    p = optax.apply_updates(p, updates)
  np.testing.assert_array_equal(p["Conv_0"]["kernel"], params["Conv_0"]["kernel"])
  np.testing.assert_array_equal(p["Conv_0"]["bias"], params["Conv_0"]["bias"])
  assert not np.allclose(p["Dense_0"]["kernel"], params["Dense_0"]["kernel"])
  # ``trainable`` is the complement: only matching parameters move.
  tx = make_optimizer({"name": "sgd", "learning_rate": 0.1, "trainable": ("kernel$",)}, 10)
  updates, _ = tx.update(jax.tree.map(jnp.ones_like, params), tx.init(params), params)
  np.testing.assert_array_equal(updates["Dense_0"]["bias"], 0.0)
  np.testing.assert_allclose(updates["Dense_0"]["kernel"], -0.1)


# ---- make_optimizer ----

@pytest.mark.parametrize("name", factory.OPTIMIZERS)
def test_make_optimizer_builds_the_lecture_rule(name):
  """The factory's rule gives the same updates as the lecture function with the same settings."""
  direct = {
      "sgd": transforms.sgd(0.1), "momentum": transforms.sgd_momentum(0.1, 0.9), "nesterov": transforms.nesterov(0.1, 0.9),
      "adagrad": transforms.adagrad(0.1), "rmsprop": transforms.rmsprop(0.1, 0.99), "adam": transforms.adam(0.1),
  }[name]
  built = make_optimizer(default_config(name, 0.1), 50)
  params = small_params()
  s1, s2 = built.init(params), direct.init(params)
  for i in range(3):
    g = jax.tree.map(lambda p: jnp.cos(p * (i + 1)), params)
    u1, s1 = built.update(g, s1, params)
    u2, s2 = direct.update(g, s2, params)
    jax.tree.map(lambda a, b: np.testing.assert_array_equal(a, b), u1, u2)


def test_make_optimizer_nesterov_flag_and_momentum_form():
  c = default_config("momentum", 0.1)
  c.nesterov = True
  params = {"w": jnp.ones(3)}
  a, b = make_optimizer(c, 10), transforms.nesterov(0.1, 0.9)
  sa, sb = a.init(params), b.init(params)
  for _ in range(2):
    ua, sa = a.update(params, sa, params)
    ub, sb = b.update(params, sb, params)
  np.testing.assert_array_equal(ua["w"], ub["w"])


def test_make_optimizer_with_schedule_and_clipping():
  c = default_config("sgd", 1.0)
  c.schedule.name = "step"
  c.schedule.decay_steps = 2
  c.schedule.decay_rate = 0.5
  c.grad_clip_norm = 1.0
  tx = make_optimizer(c, 10)
  params = {"w": jnp.zeros(2)}
  state = tx.init(params)
  steps = []
  for _ in range(4):
    u, state = tx.update({"w": jnp.array([30.0, 40.0])}, state, params)
    steps.append(float(jnp.linalg.norm(u["w"])))
  np.testing.assert_allclose(steps, [1.0, 1.0, 0.5, 0.5], rtol=1e-6)  # clipped to norm 1, then halved


@pytest.mark.parametrize(
    "changes,message",
    [
        ({"learning_rate": -0.1}, r"optimizer.learning_rate: expected a number in \(0, inf\), got -0.1"),
        ({"learning_rate": 0.0}, r"optimizer.learning_rate: expected a number in \(0, inf\)"),
        ({"learning_rate": None}, r"optimizer.learning_rate: required"),
        ({"momentum": 1.0}, r"optimizer.momentum: expected a number in \[0, 1\), got 1.0"),
        ({"momentum": -0.5}, r"optimizer.momentum"),
        ({"name": "adam", "b2": 1.0}, r"optimizer.b2: expected a number in \[0, 1\)"),
        ({"name": "rmsprop", "decay_rate": 1.2}, r"optimizer.decay_rate"),
        ({"eps": -1e-8}, r"optimizer.eps"),
        ({"weight_decay": -1.0}, r"optimizer.weight_decay"),
        ({"l2": -1.0}, r"optimizer.l2"),
        ({"grad_clip_norm": 0.0}, r"optimizer.grad_clip_norm"),
        ({"ema_decay": 1.0}, r"optimizer.ema_decay: expected a number in \(0, 1\)"),
        ({"name": "lbfgs"}, r"optimizer.name: expected one of"),
        ({"momentum_form": "C"}, r"optimizer.momentum_form: expected one of"),
        ({"penalize": "biases"}, r"optimizer.penalize: expected one of"),
        ({"frozen": ("(",)}, r"optimizer.frozen: '\(' is not a regular expression"),
        ({"learning_rate": "fast"}, r"optimizer.learning_rate: expected a number"),
        ({"name": "adam", "bias_correction": "no"}, r"optimizer.bias_correction: expected one of \(True, False\), got 'no'"),
        ({"nesterov": 1}, r"optimizer.nesterov: expected one of \(False, True\), got 1"),
        ({"name": "adagrad", "initial_accumulator": -0.1}, r"optimizer.initial_accumulator: expected a number in \[0, inf\)"),
    ],
)
def test_bad_optimizer_config_names_the_field(changes, message):
  c = dict(default_config("momentum", 0.1))
  c.update(changes)
  with pytest.raises(ConfigError, match=message):
    make_optimizer(c, 100)


def test_unknown_field_and_bad_num_steps():
  with pytest.raises(ConfigError, match=r"optimizer.lr: unknown field"):
    make_optimizer({"name": "sgd", "lr": 0.1}, 10)
  with pytest.raises(ConfigError, match=r"num_steps: expected a positive number of training steps, got 0"):
    make_optimizer({"name": "sgd", "learning_rate": 0.1}, 0)
  c = default_config("sgd", 0.1)
  c.schedule.name = "step"
  c.schedule.decay_steps = 0
  c.schedule.decay_rate = 0.5
  with pytest.raises(ConfigError, match=r"optimizer.schedule.decay_steps: expected a positive number of steps, got 0"):
    make_optimizer(c, 10)


def test_default_config_accepts_command_line_overrides():
  from cs231n_jax.config import apply_overrides

  c = default_config("sgd", 0.1)
  apply_overrides(c, ["name=adam", "learning_rate=3e-4", "grad_clip_norm=1.0", "schedule.decay_steps=5", "ema_decay=0.995"])
  assert c.name == "adam" and c.grad_clip_norm == 1.0 and c.schedule.decay_steps == 5
  tx = make_optimizer(c, 20)
  assert isinstance(tx, optax.GradientTransformation)
  lr = factory.learning_rate_schedule(c, 20)
  assert float(lr(0)) == pytest.approx(3e-4)


def test_rmsprop_eps_in_the_square_root_is_optaxs_rmsprop():
  params = small_params()
  built = make_optimizer({"name": "rmsprop", "learning_rate": 0.1, "decay_rate": 0.9, "eps": 1e-8, "eps_in_sqrt": True}, 50)
  direct = optax.rmsprop(0.1, decay=0.9, eps=1e-8, eps_in_sqrt=True)
  s1, s2 = built.init(params), direct.init(params)
  for i in range(3):
    g = jax.tree.map(lambda p: 1e-3 * jnp.cos(p * (i + 1)), params)  # small: eps's place matters
    u1, s1 = built.update(g, s1, params)
    u2, s2 = direct.update(g, s2, params)
    jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-6), u1, u2)
  with pytest.raises(ConfigError, match="optimizer.eps_in_sqrt"):
    make_optimizer({"name": "rmsprop", "learning_rate": 0.1, "eps_in_sqrt": "yes"}, 50)
