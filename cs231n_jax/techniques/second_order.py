"""Second-order optimisation (lecture 7, seed lines 7933-8035): Newton's method and L-BFGS.

Whole-run programs that are themselves the object of study (full-batch Newton and L-BFGS
iterations, counted and timed), kept by design beside the engine.

- **Newton**: the second-order Taylor model ``J(t) ~ J(t0) + (t - t0)^T g + 1/2 (t - t0)^T H (t - t0)``
  is minimised by ``t* = t0 - H^{-1} g`` — "No hyperparameters! No learning rate!". On a quadratic
  one step lands on the minimiser (:func:`newton_step`, tested to 1e-10 in float64). The Hessian
  comes from ``jax.hessian`` and the step from a linear solve (never an explicit inverse).
- **Full-batch comparison**: L2-regularised softmax regression on digits (650 parameters, strongly
  convex). Newton, L-BFGS (``optax.lbfgs``, zoom line search — "if you can afford to do full batch
  updates then try out L-BFGS"), full-batch gradient descent and Adam race to within ``tol`` of the
  optimum (the loss Newton converges to). Reported: iterations to reach it and wall time (iterations
  x measured time per iteration of the compiled loop, compilation excluded).
- **Mini-batch L-BFGS**: "does not transfer very well to mini-batch setting. Gives bad results":
  the same L-BFGS on minibatches, measured on the full-batch loss.

Everything runs in float64 (``jax.enable_x64``) so "within 1e-4 of the optimum" is not limited by
float32 rounding.
"""

from __future__ import annotations

import time
from typing import Any, Callable

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax
from etils import epath
from jax.flatten_util import ravel_pytree

from cs231n_jax.errors import ConfigError
from cs231n_jax.optim import transforms
from cs231n_jax.plotting import save_figure, subplots
from cs231n_jax.techniques import checks


def newton_step(f: Callable[[jax.Array], jax.Array], theta: jax.Array) -> jax.Array:
  """``theta - H^{-1} grad f(theta)`` for a flat parameter vector."""
  g = jax.grad(f)(theta)
  h = jax.hessian(f)(theta)
  return theta - jnp.linalg.solve(h, g)


def softmax_regression_loss(x: jax.Array, y: jax.Array, reg: float, num_classes: int):
  """The flat-vector loss ``mean CE(x W + b, y) + reg * ||theta||^2`` and an unravel function."""
  template = {"W": jnp.zeros((x.shape[1], num_classes), x.dtype), "b": jnp.zeros((num_classes,), x.dtype)}
  flat0, unravel = ravel_pytree(template)

  def loss(theta, xb=x, yb=y):
    p = unravel(theta)
    logits = xb @ p["W"] + p["b"]
    return jnp.mean(optax.softmax_cross_entropy_with_integer_labels(logits, yb)) + reg * jnp.sum(theta * theta)

  return loss, flat0


def _time_per_iteration(run: Callable[[], Any], iterations: int) -> float:
  jax.block_until_ready(run())  # compile
  t = time.perf_counter()
  jax.block_until_ready(run())
  return (time.perf_counter() - t) / iterations


def first_within(losses: np.ndarray, target: float) -> int:
  """1-based iteration count at which ``losses`` first drop to ``target``; -1 if never."""
  hit = np.nonzero(losses <= target)[0]
  return int(hit[0] + 1) if len(hit) else -1


def newton_losses(loss, theta0, iterations):
  def body(theta, _):
    theta = newton_step(loss, theta)
    return theta, loss(theta)

  return jax.lax.scan(body, theta0, None, length=iterations)


def first_order_losses(loss, theta0, tx, iterations):
  def body(carry, _):
    theta, state = carry
    g = jax.grad(loss)(theta)
    updates, state = tx.update(g, state, theta)
    theta = optax.apply_updates(theta, updates)
    return (theta, state), loss(theta)

  (theta, _), losses = jax.lax.scan(body, (theta0, tx.init(theta0)), None, length=iterations)
  return theta, losses


def lbfgs_losses(loss, theta0, iterations, memory_size=10):
  opt = optax.lbfgs(memory_size=memory_size)
  value_and_grad = optax.value_and_grad_from_state(loss)

  def body(carry, _):
    theta, state = carry
    value, grad = value_and_grad(theta, state=state)
    updates, state = opt.update(grad, state, theta, value=value, grad=grad, value_fn=loss)
    theta = optax.apply_updates(theta, updates)
    return (theta, state), loss(theta)

  (theta, _), losses = jax.lax.scan(body, (theta0, opt.init(theta0)), None, length=iterations)
  return theta, losses


def minibatch_lbfgs_losses(loss, theta0, x, y, batch_size, iterations, key, memory_size=10):
  """L-BFGS fed a fresh minibatch loss at every iteration; returns the *full-batch* loss curve."""
  opt = optax.lbfgs(memory_size=memory_size)
  n = x.shape[0]

  def body(carry, i):
    theta, state = carry
    idx = jax.random.randint(jax.random.fold_in(key, i), (batch_size,), 0, n)
    batch_loss = lambda t: loss(t, x[idx], y[idx])
    value, grad = jax.value_and_grad(batch_loss)(theta)
    updates, state = opt.update(grad, state, theta, value=value, grad=grad, value_fn=batch_loss)
    theta = optax.apply_updates(theta, updates)
    return (theta, state), loss(theta)

  (theta, _), losses = jax.lax.scan(body, (theta0, opt.init(theta0)), jnp.arange(iterations))
  return theta, losses


def tune_first_order(loss, theta0, make_tx, lrs, iterations):
  """The rate of ``lrs`` with the lowest final loss (all rates in one vmapped program)."""
  finals = jax.jit(jax.vmap(lambda lr: first_order_losses(loss, theta0, make_tx(lr), iterations)[1][-1]))(jnp.asarray(lrs))
  finals = np.where(np.isfinite(np.asarray(finals)), np.asarray(finals), np.inf)
  return float(lrs[int(np.argmin(finals))])


def run_second_order(config: ml_collections.ConfigDict, workdir: str) -> dict[str, Any]:
  """Newton vs L-BFGS vs gradient descent vs Adam on full-batch softmax regression (digits)."""
  if isinstance(config.reg, bool) or not isinstance(config.reg, (int, float)) or config.reg <= 0:
    raise ConfigError(f"reg: expected a positive L2 strength (it makes the problem strongly convex), got {config.reg!r}")
  checks.positive(config.tolerance, "tolerance")
  for field in ("newton_iterations", "first_order_iterations", "minibatch_size"):
    checks.integer(config[field], field)
  for field in ("gd_lrs", "adam_lrs"):
    if not config[field]:
      raise ConfigError(f"{field}: expected at least one learning rate to try")
    for lr in config[field]:
      checks.positive(lr, field)
  workdir = epath.Path(workdir)
  workdir.mkdir(parents=True, exist_ok=True)
  from cs231n_jax.techniques.functional_mlp import digits_arrays

  data = digits_arrays()
  with jax.enable_x64(True):
    x = jnp.asarray(data.x_train, jnp.float64)
    y = jnp.asarray(data.y_train)
    loss, theta0 = softmax_regression_loss(x, y, config.reg, data.num_classes)
    theta0 = theta0.astype(jnp.float64)
    n_newton, n_first = config.newton_iterations, config.first_order_iterations

    newton = jax.jit(lambda: newton_losses(loss, theta0, n_newton))
    theta_star, newton_curve = newton()
    best = float(loss(theta_star))
    target = best + config.tolerance
    grad_norm = float(jnp.linalg.norm(jax.grad(loss)(theta_star)))

    lbfgs = jax.jit(lambda: lbfgs_losses(loss, theta0, n_first))
    gd_lr = tune_first_order(loss, theta0, transforms.sgd, np.asarray(config.gd_lrs), n_first)
    adam_lr = tune_first_order(loss, theta0, lambda lr: transforms.adam(lr), np.asarray(config.adam_lrs), n_first)
    gd = jax.jit(lambda: first_order_losses(loss, theta0, transforms.sgd(gd_lr), n_first))
    adam = jax.jit(lambda: first_order_losses(loss, theta0, transforms.adam(adam_lr), n_first))
    minibatch = jax.jit(lambda: minibatch_lbfgs_losses(loss, theta0, x, y, config.minibatch_size, n_first,
                                                      jax.random.PRNGKey(config.seed)))

    methods = {"newton": (newton, n_newton), "lbfgs": (lbfgs, n_first), "gradient_descent": (gd, n_first),
               "adam": (adam, n_first), "lbfgs_minibatch": (minibatch, n_first)}
    results: dict[str, Any] = {"optimum_loss": best, "optimum_grad_norm": grad_norm, "target_loss": target,
                               "num_parameters": int(theta0.size), "gd_lr": gd_lr, "adam_lr": adam_lr}
    curves = {}
    for name, (fn, iters) in methods.items():
      curve = np.asarray(fn()[1])
      per_iter = _time_per_iteration(fn, iters)
      its = first_within(curve, target)
      curves[name] = curve
      results[name] = {
          "iterations_to_target": its, "seconds_per_iteration": per_iter,
          "seconds_to_target": its * per_iter if its > 0 else None, "final_loss": float(curve[-1]),
      }
  _plot(curves, best, workdir / "second_order.png")
  return results


def _plot(curves: dict[str, np.ndarray], best: float, path: epath.PathLike) -> None:
  fig, ax = subplots(figsize=(7, 4.5))
  for name, c in curves.items():
    ax.semilogy(np.arange(1, len(c) + 1), np.maximum(c - best, 1e-16), label=name)
  ax.set_xscale("log")
  ax.set_xlabel("iteration")
  ax.set_ylabel("full-batch loss - optimum")
  ax.set_title("softmax regression on digits (float64)")
  ax.legend()
  fig.tight_layout()
  save_figure(fig, path, dpi=100)
