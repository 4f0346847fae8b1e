"""The lecture's update rules against NumPy transcriptions of the slide code and against optax.

The problem: f(x) = 1/2 (x - x*)^T A (x - x*) in 10 dimensions, A = Q diag(1 .. 100) Q^T (condition
number 100, a random rotation), float64. Each NumPy loop below is the slide's code with only
``compute_gradient`` filled in.
"""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from cs231n_jax.optim import transforms

DIM = 10
STEPS = 100
CONDITION = 100.0


def quadratic(seed=0):
  rng = np.random.default_rng(seed)
  q, _ = np.linalg.qr(rng.standard_normal((DIM, DIM)))
  a = q @ np.diag(np.linspace(1.0, CONDITION, DIM)) @ q.T
  x_star = rng.standard_normal(DIM)
  x0 = rng.standard_normal(DIM)
  return a, x_star, x0


def compute_gradient_fn(a, x_star):
  return lambda x: a @ (x - x_star)


# ---- NumPy transcriptions of the slides (seed lines 7483-7883) ----

def numpy_sgd(x, grad, learning_rate):
  xs = []
  for _ in range(STEPS):
    dx = grad(x)
    x = x.copy()
    x -= learning_rate * dx
    xs.append(x)
  return np.array(xs)


def numpy_momentum_a(x, grad, learning_rate, rho):
  xs, vx = [], 0
  for _ in range(STEPS):
    dx = grad(x)
    vx = rho * vx + dx
    x = x - learning_rate * vx
    xs.append(x)
  return np.array(xs)


def numpy_momentum_b(x, grad, learning_rate, rho):
  xs, vx = [], 0
  for _ in range(STEPS):
    dx = grad(x)
    vx = rho * vx - learning_rate * dx
    x = x + vx
    xs.append(x)
  return np.array(xs)


def numpy_nesterov(x, grad, learning_rate, rho):
  xs, v = [], np.zeros_like(x)
  for _ in range(STEPS):
    dx = grad(x)
    old_v = v
    v = rho * v - learning_rate * dx
    x = x + (-rho * old_v + (1 + rho) * v)
    xs.append(x)
  return np.array(xs)


def numpy_adagrad(x, grad, learning_rate):
  xs, grad_squared = [], 0
  for _ in range(STEPS):
    dx = grad(x)
    grad_squared += dx * dx
    x = x - learning_rate * dx / (np.sqrt(grad_squared) + 1e-7)
    xs.append(x)
  return np.array(xs)


def numpy_rmsprop(x, grad, learning_rate, decay_rate):
  xs, grad_squared = [], 0
  for _ in range(STEPS):
    dx = grad(x)
    grad_squared = decay_rate * grad_squared + (1 - decay_rate) * dx * dx
    x = x - learning_rate * dx / (np.sqrt(grad_squared) + 1e-7)
    xs.append(x)
  return np.array(xs)


def numpy_adam_almost(x, grad, learning_rate, beta1, beta2):
  xs, first_moment, second_moment = [], 0, 0
  for _ in range(STEPS):
    dx = grad(x)
    first_moment = beta1 * first_moment + (1 - beta1) * dx
    second_moment = beta2 * second_moment + (1 - beta2) * dx * dx
    x = x - learning_rate * first_moment / (np.sqrt(second_moment) + 1e-7)
    xs.append(x)
  return np.array(xs)


def numpy_adam(x, grad, learning_rate, beta1, beta2):
  xs, first_moment, second_moment = [], 0, 0
  for t in range(1, STEPS + 1):
    dx = grad(x)
    first_moment = beta1 * first_moment + (1 - beta1) * dx
    second_moment = beta2 * second_moment + (1 - beta2) * dx * dx
    first_unbias = first_moment / (1 - beta1**t)
    second_unbias = second_moment / (1 - beta2**t)
    x = x - learning_rate * first_unbias / (np.sqrt(second_unbias) + 1e-7)
    xs.append(x)
  return np.array(xs)


def jax_trajectory(tx, a, x_star, x0, steps=STEPS):
  """Run ``tx`` for ``steps`` updates on the quadratic under jit/scan; the iterates."""
  a, x_star = jnp.asarray(a), jnp.asarray(x_star)

  def step(carry, _):
    x, state = carry
    updates, state = tx.update(a @ (x - x_star), state, x)
    x = optax.apply_updates(x, updates)
    return (x, state), x

  x0 = jnp.asarray(x0)
  _, xs = jax.lax.scan(step, (x0, tx.init(x0)), None, length=steps)
  return np.asarray(xs)


CASES = {
    "sgd": (lambda: transforms.sgd(0.01), lambda x, g: numpy_sgd(x, g, 0.01)),
    "momentum_A": (lambda: transforms.sgd_momentum(0.005, 0.9, "A"), lambda x, g: numpy_momentum_a(x, g, 0.005, 0.9)),
    "momentum_B": (lambda: transforms.sgd_momentum(0.005, 0.9, "B"), lambda x, g: numpy_momentum_b(x, g, 0.005, 0.9)),
    "nesterov": (lambda: transforms.nesterov(0.005, 0.9), lambda x, g: numpy_nesterov(x, g, 0.005, 0.9)),
    "adagrad": (lambda: transforms.adagrad(0.5), lambda x, g: numpy_adagrad(x, g, 0.5)),
    "rmsprop": (lambda: transforms.rmsprop(0.01, 0.99), lambda x, g: numpy_rmsprop(x, g, 0.01, 0.99)),
    "adam_almost": (
        lambda: transforms.adam(0.05, 0.9, 0.999, bias_correction=False),
        lambda x, g: numpy_adam_almost(x, g, 0.05, 0.9, 0.999),
    ),
    "adam": (lambda: transforms.adam(0.05, 0.9, 0.999), lambda x, g: numpy_adam(x, g, 0.05, 0.9, 0.999)),
}


@pytest.mark.parametrize("name", list(CASES))
def test_rule_matches_numpy_transcription_of_slide(name):
  make_tx, numpy_loop = CASES[name]
  a, x_star, x0 = quadratic()
  expected = numpy_loop(x0.copy(), compute_gradient_fn(a, x_star))
  with jax.enable_x64(True):
    got = jax_trajectory(make_tx(), a, x_star, x0)
  assert got.dtype == np.float64
  np.testing.assert_allclose(got, expected, rtol=0, atol=1e-12)
  # The trajectory moved towards the minimum (the test would be vacuous on a frozen x).
  assert np.linalg.norm(got[-1] - x_star) < 0.5 * np.linalg.norm(x0 - x_star)


OPTAX_TWINS = {
    "sgd": (lambda: transforms.sgd(0.01), lambda: optax.sgd(0.01)),
    "momentum_A": (lambda: transforms.sgd_momentum(0.005, 0.9, "A"), lambda: optax.sgd(0.005, momentum=0.9)),
    "momentum_B": (lambda: transforms.sgd_momentum(0.005, 0.9, "B"), lambda: optax.sgd(0.005, momentum=0.9)),
    "nesterov": (lambda: transforms.nesterov(0.005, 0.9), lambda: optax.sgd(0.005, momentum=0.9, nesterov=True)),
    # optax puts eps inside the sqrt and starts at 0.1; with eps = 0 and a zero start they agree.
    "adagrad": (
        lambda: transforms.adagrad(0.5, eps=0.0),
        lambda: optax.adagrad(0.5, initial_accumulator_value=0.0, eps=0.0),
    ),
    "rmsprop": (
        lambda: transforms.rmsprop(0.01, 0.99, 1e-7),
        lambda: optax.rmsprop(0.01, decay=0.99, eps=1e-7, eps_in_sqrt=False),
    ),
    "adam": (lambda: transforms.adam(0.05, 0.9, 0.999, 1e-7), lambda: optax.adam(0.05, 0.9, 0.999, eps=1e-7)),
}


@pytest.mark.parametrize("name", list(OPTAX_TWINS))
def test_rule_matches_optax_configured_to_same_semantics(name):
  ours, theirs = OPTAX_TWINS[name]
  a, x_star, x0 = quadratic(1)
  with jax.enable_x64(True):
    got = jax_trajectory(ours(), a, x_star, x0)
    expected = jax_trajectory(theirs(), a, x_star, x0)
  np.testing.assert_allclose(got, expected, rtol=0, atol=1e-12)


def test_adam_almost_equals_optax_adam_with_rescaled_learning_rate():
  """optax has no un-debiased Adam: with eps = 0, "Adam (almost)" is Adam whose rate at step t is
  lr (1 - b1^t) / sqrt(1 - b2^t) (the bias corrections cancelled)."""
  lr, b1, b2 = 0.05, 0.9, 0.999
  schedule = lambda count: lr * (1 - b1 ** (count + 1)) / jnp.sqrt(1 - b2 ** (count + 1))
  a, x_star, x0 = quadratic(2)
  with jax.enable_x64(True):
    got = jax_trajectory(transforms.adam(lr, b1, b2, eps=0.0, bias_correction=False), a, x_star, x0)
    expected = jax_trajectory(optax.adam(schedule, b1, b2, eps=0.0), a, x_star, x0)
  np.testing.assert_allclose(got, expected, rtol=0, atol=1e-12)


def test_adagrad_defaults_differ_from_optax_defaults():
  """The slide's AdaGrad (start 0, eps outside) is not optax's default (start 0.1, eps inside):
  after one step on gradient 1 the slide moves lr/(1 + 1e-7), optax lr/sqrt(1.1 + 1e-7)."""
  g = {"x": jnp.ones(())}
  ours, _ = transforms.adagrad(1.0).update(g, transforms.adagrad(1.0).init(g))
  theirs, _ = optax.adagrad(1.0).update(g, optax.adagrad(1.0).init(g))
  np.testing.assert_allclose(float(ours["x"]), -1.0 / (1.0 + 1e-7), rtol=1e-6)
  np.testing.assert_allclose(float(theirs["x"]), -1.0 / np.sqrt(1.1 + 1e-7), rtol=1e-6)
  assert abs(float(ours["x"]) - float(theirs["x"])) > 0.04


@pytest.mark.parametrize("sign", [1.0, -1.0])
def test_adam_first_step_with_and_without_bias_correction(sign):
  """The slide's "Q: What happens at first timestep?": lr 1e-3, b1 0.9, b2 0.999."""
  lr = 1e-3
  magnitudes = np.array([1.0, 1e-3, 1e3])
  with jax.enable_x64(True):
    g = jnp.asarray(sign * magnitudes, jnp.float64)
    almost = transforms.adam(lr, bias_correction=False)
    full = transforms.adam(lr)
    step_almost = -np.asarray(almost.update(g, almost.init(g))[0]) * sign
    step_full = -np.asarray(full.update(g, full.init(g))[0]) * sign
  ratio = (1 - 0.9) / np.sqrt(1 - 0.999)
  np.testing.assert_allclose(ratio, 3.16227766, rtol=1e-8)
  # Exactly the slide's arithmetic: lr * 0.1|g| / (sqrt(0.001)|g| + 1e-7), and lr for full Adam.
  np.testing.assert_allclose(step_almost, lr * 0.1 * magnitudes / (np.sqrt(0.001) * magnitudes + 1e-7), rtol=1e-12)
  np.testing.assert_allclose(step_full, lr * magnitudes / (magnitudes + 1e-7), rtol=1e-12)
  # The slide's numbers: 3.162e-3 without bias correction, 1e-3 with it (|g| = 1).
  np.testing.assert_allclose(step_almost[0], 3.162e-3, rtol=1e-4)
  np.testing.assert_allclose(step_full[0], 1e-3, rtol=1e-6)
  np.testing.assert_allclose(step_almost[0] / step_full[0], ratio, rtol=1e-5)


def test_adagrad_step_decays_to_zero():
  """The slide's "Q2": with a constant gradient the step at t is lr / sqrt(t): step_100 / step_1 = 0.1."""
  with jax.enable_x64(True):
    tx = transforms.adagrad(0.1)
    g = jnp.ones((), jnp.float64)
    state = tx.init(g)
    steps = []
    for _ in range(100):
      update, state = tx.update(g, state)
      steps.append(-float(update))
  assert abs(steps[99] / steps[0] - 0.1) < 1e-3
  assert all(b < a for a, b in zip(steps, steps[1:]))


def test_momentum_forms_agree_only_with_constant_learning_rate():
  """Forms A and B give the same x for a constant rate (above); under a schedule they do not,
  because form B's velocity carries old learning rates."""
  schedule = optax.piecewise_constant_schedule(0.005, {20: 0.1})
  a, x_star, x0 = quadratic(3)
  with jax.enable_x64(True):
    xa = jax_trajectory(transforms.sgd_momentum(schedule, 0.9, "A"), a, x_star, x0)
    xb = jax_trajectory(transforms.sgd_momentum(schedule, 0.9, "B"), a, x_star, x0)
  np.testing.assert_allclose(xa[:20], xb[:20], atol=1e-12)
  assert np.max(np.abs(xa[20:] - xb[20:])) > 1e-3


def test_rules_keep_float32_and_accept_schedules_under_jit():
  params = {"w": jnp.ones((3, 2), jnp.float32), "b": jnp.zeros((2,), jnp.float32)}
  schedule = optax.cosine_decay_schedule(0.1, 10)
  for name, factory in transforms.RULES.items():
    tx = factory(schedule)
    state = tx.init(params)
    update = jax.jit(tx.update)
    for _ in range(3):
      updates, state = update(params, state, params)
    assert all(u.dtype == jnp.float32 for u in jax.tree.leaves(updates)), name
    assert all(bool(jnp.all(jnp.isfinite(u))) for u in jax.tree.leaves(updates)), name
    assert int(state.count) == 3, name


def test_schedule_is_evaluated_at_zero_based_count():
  """The first update uses schedule(0), as every optax schedule does."""
  seen = []
  tx = transforms.sgd(lambda count: 0.5 * (count + 1))
  g = jnp.ones(())
  state = tx.init(g)
  for _ in range(3):
    u, state = tx.update(g, state)
    seen.append(-float(u))
  assert seen == [0.5, 1.0, 1.5]


def test_bad_momentum_form_names_the_argument():
  with pytest.raises(ValueError, match="form: expected one of"):
    transforms.sgd_momentum(0.1, 0.9, form="C")
