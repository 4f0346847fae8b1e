"""Activation statistics, optimizer race, schedules, second-order methods and babysitting tools."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from cs231n_jax.errors import ConfigError
from cs231n_jax.techniques import activation_stats as acts
from cs231n_jax.techniques import babysitting, optimizer_race, second_order


@pytest.fixture(scope="module")
def stats():
  key = jax.random.PRNGKey(0)
  return {s: acts.forward_stats(jax.random.fold_in(key, i), s) for i, s in enumerate(acts.SETTINGS)}


def test_tanh_small_init_collapses_to_zero(stats):
  s = stats["tanh_0.01"]["std"]
  assert abs(s[0] - 0.213) / 0.213 < 0.05  # slide: 0.213081
  assert abs(s[3] - 0.0024) / 0.0024 < 0.1  # slide: 0.002378
  assert s[9] < 1e-5
  assert all(b < a for a, b in zip(s, s[1:]))


def test_tanh_unit_init_saturates(stats):
  assert all(abs(v - 0.98) / 0.98 < 0.02 for v in stats["tanh_1.0"]["std"])  # slide: 0.9815 .. 0.9819


def test_xavier_tanh_matches_slide_table(stats):
  slide = [0.627953, 0.486051, 0.407723, 0.357108, 0.320917, 0.292116, 0.273387, 0.254935, 0.239266, 0.228008]
  np.testing.assert_allclose(stats["tanh_xavier"]["std"], slide, rtol=0.05)


def test_xavier_breaks_with_relu_and_he_fixes_it(stats):
  xr = stats["relu_xavier"]
  assert abs(xr["mean"][0] - 0.399) / 0.399 < 0.05 and abs(xr["std"][0] - 0.582) / 0.582 < 0.05
  assert all(b < a for a, b in zip(xr["std"], xr["std"][1:]))
  assert 0.01 <= xr["std"][9] <= 0.06  # slide: 0.027
  he = stats["relu_he"]["std"]
  assert abs(he[0] - 0.825) / 0.825 < 0.05  # ReLU of N(0, 2): sqrt(1 - 1/pi) = 0.826
  assert all(0.5 <= v <= 1.5 for v in he) and he[9] / he[0] > 0.5


def test_he_as_transcribed_on_the_slide_explodes(stats):
  """The slide's `/ np.sqrt(2/fan_in)` multiplies by sqrt(fan_in / 2): std ~2e2 after one layer."""
  s = stats["relu_he_as_transcribed"]["std"]
  assert 1e2 < s[0] < 1e3 and (not math.isfinite(s[2]) or s[2] > 1e6)
  assert acts.weight_scale("relu_he_as_transcribed", 500) == pytest.approx(math.sqrt(250.0))
  assert acts.weight_scale("relu_he", 500) == pytest.approx(math.sqrt(2 / 500))


def test_small_init_gives_vanishing_weight_gradients(stats):
  assert max(stats["tanh_0.01"]["grad_std"]) < 1e-3 * min(stats["relu_he"]["grad_std"])
  with pytest.raises(ValueError, match="setting: expected"):
    acts.forward_stats(jax.random.PRNGKey(0), "gelu_he")


def test_race_on_the_ill_conditioned_valley():
  """Each rule at its best rate of a log grid: momentum needs far fewer steps than SGD; per-coordinate
  rules (RMSProp) solve the axis-aligned valley in a few steps but not the rotated one."""
  grid = 10.0 ** np.linspace(-3, 0.5, 15)
  aligned = optimizer_race.race_surface("ill_conditioned", 600, grid, 1e-6)
  rotated = optimizer_race.race_surface("ill_conditioned_rotated", 600, grid, 1e-6)
  sgd, mom = aligned["SGD"]["steps_to_target"], aligned["SGD+Momentum"]["steps_to_target"]
  assert sgd > 0 and 0 < mom <= sgd / 2
  # SGD and momentum are rotation invariant: the same steps on both valleys.
  assert rotated["SGD"]["steps_to_target"] == sgd
  assert abs(rotated["SGD+Momentum"]["steps_to_target"] - mom) <= 1
  rms_aligned, rms_rotated = aligned["RMSProp"]["steps_to_target"], rotated["RMSProp"]["steps_to_target"]
  assert 0 < rms_aligned < 20 and (rms_rotated == -1 or rms_rotated > 5 * rms_aligned)


@pytest.mark.slow
def test_race_on_the_saddle_every_rule_escapes():
  """From (1, 1e-3), next to the saddle at the origin, the gradient along y is ~1e-3: every rule at
  its best rate still leaves the saddle for a minimum (0, +-1), where f = -1/4."""
  f, start, f_min = optimizer_race.SURFACES["saddle"]
  assert float(jnp.linalg.norm(jax.grad(f)(jnp.asarray(start, jnp.float32))[1])) < 2e-3
  race = optimizer_race.race_surface("saddle", 300, 10.0 ** np.linspace(-2, 0, 5), 1e-4)
  for label, r in race.items():
    assert 0 < r["steps_to_target"] <= 300, label
    assert abs(r["final_value"] - f_min) < 1e-4 and abs(abs(r["path"][-1, 1]) - 1.0) < 0.05, label


def test_steps_to_target_requires_staying_below():
  assert optimizer_race.steps_to_target(np.array([5, 0.1, 2, 0.1, 0.05]), 0.5) == 3
  assert optimizer_race.steps_to_target(np.array([5, 0.1, 2]), 0.5) == -1


def test_newton_solves_a_quadratic_in_one_step():
  with jax.enable_x64(True):
    rng = np.random.default_rng(0)
    q, _ = np.linalg.qr(rng.standard_normal((6, 6)))
    a = jnp.asarray(q @ np.diag(np.logspace(0, 3, 6)) @ q.T)
    b = jnp.asarray(rng.standard_normal(6))
    f = lambda t: 0.5 * t @ a @ t - b @ t + 3.0
    theta = second_order.newton_step(f, jnp.zeros(6, jnp.float64))
    np.testing.assert_allclose(theta, np.linalg.solve(np.asarray(a), np.asarray(b)), rtol=0, atol=1e-10)


@pytest.mark.slow
def test_newton_and_lbfgs_beat_gradient_descent_in_iterations():
  from cs231n_jax.techniques.functional_mlp import digits_arrays

  data = digits_arrays(num_train=300)
  with jax.enable_x64(True):
    loss, theta0 = second_order.softmax_regression_loss(jnp.asarray(data.x_train, jnp.float64), data.y_train, 1e-2, 10)
    theta0 = theta0.astype(jnp.float64)
    theta, newton = jax.jit(lambda: second_order.newton_losses(loss, theta0, 8))()
    best = float(newton[-1])
    assert float(jnp.linalg.norm(jax.grad(loss)(theta))) < 1e-10
    _, lbfgs = jax.jit(lambda: second_order.lbfgs_losses(loss, theta0, 100))()
    _, gd = jax.jit(lambda: second_order.first_order_losses(loss, theta0, optax.sgd(1.0), 100))()
    target = best + 1e-6
    n_newton = second_order.first_within(np.asarray(newton), target)
    n_lbfgs = second_order.first_within(np.asarray(lbfgs), target)
    n_gd = second_order.first_within(np.asarray(gd), target)
  assert 0 < n_newton <= 8 and 0 < n_lbfgs < 100 and n_newton < n_lbfgs
  assert n_gd == -1 or n_gd > n_lbfgs


def test_update_weight_ratios_per_layer():
  params = {"Dense_0": {"kernel": jnp.full((2, 2), 3.0), "bias": jnp.ones(2)}}
  updates = {"Dense_0": {"kernel": jnp.full((2, 2), 3e-3), "bias": jnp.zeros(2)}}
  r = babysitting.update_weight_ratios(params, updates)
  assert r == {"Dense_0/bias": 0.0, "Dense_0/kernel": pytest.approx(1e-3)}
  with pytest.raises(ValueError, match="updates: Dense_0/kernel has shape"):
    babysitting.update_weight_ratios(params, {"Dense_0": {"kernel": jnp.ones(3), "bias": jnp.zeros(2)}})


def test_explosion_stop_on_nan_and_three_times_initial():
  stop = babysitting.ExplosionStop()
  assert stop.check(2.3) is None and stop.check(6.8) is None
  assert "exploding" in stop.check(7.0)
  assert "too high" in babysitting.ExplosionStop().check(float("nan"))


@pytest.mark.slow
def test_sanity_checks_of_the_slides():
  r = babysitting.sanity_checks()
  assert abs(r["initial_loss"] - math.log(10)) < 0.01  # slide: 2.30261216167
  assert r["initial_loss_reg_1e3"] > r["initial_loss"]
  assert r["overfit_train_accuracy"] == 1.0 and r["overfit_final_loss"] < 0.01


def test_bad_study_configs_name_the_field(tmp_path):
  from cs231n_jax.config import load_config

  c = load_config("techniques/optimizer_race.py")
  c.surfaces = ("banana",)
  with pytest.raises(ConfigError, match="surfaces: 'banana' is not one of"):
    optimizer_race.run_optimizer_race(c, str(tmp_path))
  c = load_config("techniques/second_order.py")
  c.reg = 0.0
  with pytest.raises(ConfigError, match="reg: expected a positive L2 strength"):
    second_order.run_second_order(c, str(tmp_path))
  c = load_config("techniques/activation_statistics.py")
  c.width = 0
  with pytest.raises(ConfigError, match="width: expected a positive integer"):
    acts.run_activation_statistics(c, str(tmp_path))
  cases = [
      ("optimizer_race.py", "num_lrs", 0, optimizer_race.run_optimizer_race, "num_lrs: expected a positive integer, got 0"),
      ("optimizer_race.py", "tolerance", -1e-6, optimizer_race.run_optimizer_race, "tolerance: expected a positive number"),
      ("second_order.py", "newton_iterations", 0, second_order.run_second_order,
       "newton_iterations: expected a positive integer, got 0"),
      ("second_order.py", "gd_lrs", (), second_order.run_second_order, "gd_lrs: expected at least one learning rate"),
  ]
  for name, field, value, runner, message in cases:
    c = load_config(f"techniques/{name}")
    c[field] = value
    with pytest.raises(ConfigError, match=message):
      runner(c, str(tmp_path / field))


def test_study_figures_never_touch_pyplot(tmp_path):
  """Library figures are bare ``Figure`` objects (cs231n_jax.plotting.subplots): pyplot would
  register them with the notebook's backend, and ``matplotlib.use`` would switch inline plots off."""
  import pathlib

  import matplotlib

  import cs231n_jax.studies
  import cs231n_jax.techniques

  studies = pathlib.Path(cs231n_jax.studies.__file__).parent
  moved = ("activation_study", "babysitting", "engine_runs", "ensembles", "regularizer_study", "transfer")
  paths = [*pathlib.Path(cs231n_jax.techniques.__file__).parent.glob("*.py"), *(studies / f"{m}.py" for m in moved)]
  for path in paths:
    source = path.read_text()
    assert "pyplot" not in source and "matplotlib.use" not in source, path.name
  backend = matplotlib.get_backend()
  named = {"cosine": optax.cosine_decay_schedule(0.1, 20), "constant": optax.constant_schedule(0.05)}
  optimizer_race.plot_schedules(named, 20, tmp_path / "schedules.png")
  assert (tmp_path / "schedules.png").stat().st_size > 1000
  assert matplotlib.get_backend() == backend
