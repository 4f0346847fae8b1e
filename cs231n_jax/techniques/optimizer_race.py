"""The optimizer race of lecture 7 (seed lines 7407-7893): every update rule on the same surfaces,
and on the same digits network; plus the learning-rate schedules, plotted.

The race's runs are whole-run programs that are themselves the object of study (every rule's path,
step by step), kept by design beside the engine.

Surfaces (2-D, so the paths can be drawn):

- ``ill_conditioned``: ``f = (x^2 / 10 + 10 y^2) / 2``, condition number 100 ("loss changes quickly
  in one direction and slowly in another ... very slow progress along shallow dimension, jitter
  along steep direction").
- ``ill_conditioned_rotated``: the same valley turned by 45 degrees. AdaGrad, RMSProp and Adam scale
  each *coordinate*, which fixes an axis-aligned valley outright but not a rotated one — the
  difference between the two surfaces is the point.
- ``saddle``: ``f = x^2 / 2 - y^2 / 2 + y^4 / 4``, a saddle at the origin between minima at
  ``(0, +-1)``; starting just off the ridge (``y0 = 1e-3``) the gradient along ``y`` is tiny
  ("zero gradient, gradient descent gets stuck").

Every rule gets its *own best* learning rate: all rates of a log grid run at once (``jax.vmap`` over
the rate), and the one that first reaches ``f < f* + tol`` wins — the fair version of the race (the
lecture's plots use hand-picked rates). Reported: steps to the target for each rule at its best rate.

On digits, each rule trains the 2-layer net (the vmappable program of
:mod:`cs231n_jax.techniques.functional_mlp`) over a grid of rates x seeds in one program; the
curves of the best rate are drawn as mean +- std over seeds.
"""

from __future__ import annotations

from typing import Any, Callable

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax
from etils import epath

from cs231n_jax.errors import ConfigError
from cs231n_jax.optim import schedules, transforms
from cs231n_jax.plotting import save_figure, subplots
from cs231n_jax.techniques import checks
from cs231n_jax.techniques import functional_mlp as fm

RACE_RULES = {  # label -> (rule name, keyword arguments)
    "SGD": ("sgd", {}),
    "SGD+Momentum": ("momentum", {"rho": 0.9}),
    "Nesterov": ("nesterov", {"rho": 0.9}),
    "AdaGrad": ("adagrad", {}),
    "RMSProp": ("rmsprop", {"decay_rate": 0.99}),
    "Adam": ("adam", {}),
    "Adam (no bias correction)": ("adam", {"bias_correction": False}),
}


def ill_conditioned(p: jax.Array) -> jax.Array:
  return 0.5 * (p[0] ** 2 / 10.0 + 10.0 * p[1] ** 2)


ROTATION = np.array([[1.0, -1.0], [1.0, 1.0]]) / np.sqrt(2.0)  # 45 degrees


def ill_conditioned_rotated(p: jax.Array) -> jax.Array:
  """The same valley turned by 45 degrees, so it is no longer aligned with the coordinate axes."""
  return ill_conditioned(jnp.asarray(ROTATION.T, p.dtype) @ p)


def saddle(p: jax.Array) -> jax.Array:
  return 0.5 * p[0] ** 2 - 0.5 * p[1] ** 2 + 0.25 * p[1] ** 4


SURFACES: dict[str, tuple[Callable[[jax.Array], jax.Array], tuple[float, float], float]] = {
    # name -> (f, start, minimum value)
    "ill_conditioned": (ill_conditioned, (-9.0, 1.0), 0.0),
    "ill_conditioned_rotated": (ill_conditioned_rotated, tuple(ROTATION @ np.array([-9.0, 1.0])), 0.0),
    "saddle": (saddle, (1.0, 1e-3), -0.25),
}


def trajectory(f: Callable, start: jax.Array, tx: optax.GradientTransformation, num_steps: int) -> jax.Array:
  """The iterates ``(num_steps + 1, 2)`` of ``tx`` on ``f`` from ``start`` (one ``lax.scan``)."""

  def step(carry, _):
    p, state = carry
    updates, state = tx.update(jax.grad(f)(p), state, p)
    p = optax.apply_updates(p, updates)
    return (p, state), p

  _, path = jax.lax.scan(step, (start, tx.init(start)), None, length=num_steps)
  return jnp.concatenate([start[None], path])


def steps_to_target(values: np.ndarray, target: float) -> int:
  """The first step whose value is below ``target`` and stays below it; -1 if never."""
  below = values < target
  if not below[-1]:
    return -1
  above = np.nonzero(~below)[0]
  return int(above[-1] + 1) if len(above) else 0


def race_surface(surface: str, num_steps: int, lr_grid: np.ndarray, tol: float) -> dict[str, Any]:
  """Every rule at every rate of ``lr_grid`` (vmapped over rates); the best rate per rule."""
  f, start, f_min = SURFACES[surface]
  start = jnp.asarray(start, jnp.float32)
  out = {}
  for label, (name, kwargs) in RACE_RULES.items():
    rule = transforms.RULES[name]
    paths = jax.jit(jax.vmap(lambda lr: trajectory(f, start, rule(lr, **kwargs), num_steps)))(jnp.asarray(lr_grid, jnp.float32))
    values = np.asarray(jax.vmap(jax.vmap(f))(paths))
    values = np.where(np.isfinite(values), values, np.inf)
    steps = np.array([steps_to_target(v, f_min + tol) for v in values])
    reached = steps >= 0
    if reached.any():
      best = int(np.argmin(np.where(reached, steps, np.iinfo(np.int64).max)))
    else:  # nobody reached the target: the rate with the lowest final value
      best = int(np.argmin(values[:, -1]))
    out[label] = {
        "best_lr": float(lr_grid[best]), "steps_to_target": int(steps[best]),
        "final_value": float(values[best, -1]), "path": np.asarray(paths[best]),
    }
  return out


def plot_race(surface: str, race: dict[str, Any], path: epath.PathLike, show_steps: int) -> None:
  f, start, f_min = SURFACES[surface]
  if surface == "ill_conditioned":
    xs, ys = np.linspace(-10, 10, 200), np.linspace(-2, 2, 200)
  elif surface == "ill_conditioned_rotated":
    xs, ys = np.linspace(-8, 8, 200), np.linspace(-8, 8, 200)
  else:
    xs, ys = np.linspace(-1.5, 1.5, 200), np.linspace(-1.5, 1.5, 200)
  gx, gy = np.meshgrid(xs, ys)
  z = np.asarray(jax.vmap(f)(jnp.stack([gx.ravel(), gy.ravel()], -1))).reshape(gx.shape)
  fig, ax = subplots(figsize=(7, 4.5))
  ax.contour(gx, gy, np.log10(z - f_min + 1e-3), levels=25, cmap="Greys", linewidths=0.6)  # log-spaced levels
  for label, r in race.items():
    p = r["path"][: show_steps + 1]
    steps = r["steps_to_target"]
    ax.plot(p[:, 0], p[:, 1], ".-", ms=2, lw=1, label=f"{label} (lr {r['best_lr']:.2g}, {steps if steps >= 0 else '>max'} steps)")
  ax.plot(*start, "k*", ms=10)
  ax.set_title(f"{surface}: first {show_steps} steps of each rule at its best rate")
  ax.set_xlim(xs[0], xs[-1])
  ax.set_ylim(ys[0], ys[-1])
  ax.legend(fontsize=7, loc="lower right")
  fig.tight_layout()
  save_figure(fig, path, dpi=100)


def digits_curves(config: ml_collections.ConfigDict, key: jax.Array) -> dict[str, Any]:
  """Each rule on the digits 2-layer net: rates x seeds in one vmapped program per rule."""
  data = fm.digits_arrays()
  d = config.digits
  lr_grid = np.asarray(10.0 ** np.linspace(*d.lr_log10_range, d.num_lrs))
  seeds = d.num_seeds
  out = {}
  for label, (name, kwargs) in RACE_RULES.items():
    spec = fm.RunSpec(hidden_dims=tuple(d.hidden_dims), rule=name, rule_kwargs=tuple(kwargs.items()),
                      num_epochs=d.epochs, batch_size=d.batch_size, early_stop=True)
    lrs = np.repeat(lr_grid, seeds)
    regs = np.full_like(lrs, d.reg)
    # The same init / data keys for every rate and every rule: only the rule and its rate differ.
    seed_keys = jax.random.split(key, seeds)
    res = fm.train_many(spec, data, lrs, regs, jnp.tile(seed_keys, (d.num_lrs, 1)))
    steps_per_epoch = spec.steps_per_epoch(int(data.x_train.shape[0]))
    epoch_loss = res["loss"].reshape(len(lrs), d.epochs, steps_per_epoch).mean(axis=-1)
    epoch_loss = np.where(res["stopped"][:, None], np.nan, epoch_loss)
    by_lr = epoch_loss.reshape(d.num_lrs, seeds, d.epochs)
    final = np.nanmean(np.where(np.isfinite(by_lr[:, :, -1]), by_lr[:, :, -1], np.inf), axis=1)
    final = np.where(np.isfinite(final), final, np.inf)
    best = int(np.argmin(final))
    val = res["val_accuracy"].reshape(d.num_lrs, seeds)[best]
    out[label] = {
        "best_lr": float(lr_grid[best]),
        "train_loss_mean": by_lr[best].mean(axis=0).tolist(), "train_loss_std": by_lr[best].std(axis=0).tolist(),
        "final_train_loss": float(final[best]), "val_accuracy_mean": float(val.mean()), "val_accuracy_std": float(val.std()),
    }
  return out


def plot_digits_curves(curves: dict[str, Any], path: epath.PathLike) -> None:
  fig, ax = subplots(figsize=(7, 4.5))
  for label, c in curves.items():
    mean, std = np.array(c["train_loss_mean"]), np.array(c["train_loss_std"])
    epochs = np.arange(1, len(mean) + 1)
    ax.plot(epochs, mean, label=f"{label} (lr {c['best_lr']:.2g})")
    ax.fill_between(epochs, mean - std, mean + std, alpha=0.2)
  ax.set_yscale("log")
  ax.set_xlabel("epoch")
  ax.set_ylabel("training loss (epoch mean of minibatch losses)")
  ax.set_title("digits 2-layer net: each rule at its best rate (mean +- std over seeds)")
  ax.legend(fontsize=7)
  fig.tight_layout()
  save_figure(fig, path, dpi=100)


def run_optimizer_race(config: ml_collections.ConfigDict, workdir: str) -> dict[str, Any]:
  """The 2-D races (figures ``race_<surface>.png``) and the digits curves (``digits_curves.png``)."""
  checks.integer(config.num_steps, "num_steps")
  checks.integer(config.num_lrs, "num_lrs")
  checks.integer(config.show_steps, "show_steps")
  checks.positive(config.tolerance, "tolerance")
  unknown = [s for s in config.surfaces if s not in SURFACES]
  if unknown:
    raise ConfigError(f"surfaces: {unknown[0]!r} is not one of {tuple(SURFACES)}")
  if config.digits.enabled:
    for field in ("epochs", "batch_size", "num_lrs", "num_seeds"):
      checks.integer(config.digits[field], f"digits.{field}")
  workdir = epath.Path(workdir)
  workdir.mkdir(parents=True, exist_ok=True)
  lr_grid = 10.0 ** np.linspace(*config.lr_log10_range, config.num_lrs)
  results: dict[str, Any] = {}
  for surface in config.surfaces:
    race = race_surface(surface, config.num_steps, lr_grid, config.tolerance)
    plot_race(surface, race, workdir / f"race_{surface}.png", config.show_steps)
    results[surface] = {k: {kk: vv for kk, vv in v.items() if kk != "path"} for k, v in race.items()}
  if config.digits.enabled:
    curves = digits_curves(config, jax.random.PRNGKey(config.seed))
    plot_digits_curves(curves, workdir / "digits_curves.png")
    results["digits"] = curves
  return results


def plot_schedules(named: dict[str, optax.Schedule], num_steps: int, path: epath.PathLike) -> None:
  steps = np.arange(num_steps)
  fig, ax = subplots(figsize=(7, 4))
  for label, s in named.items():
    ax.plot(steps, np.asarray(jax.vmap(s)(jnp.asarray(steps))), label=label)
  ax.set_xlabel("step")
  ax.set_ylabel("learning rate")
  ax.set_title("learning-rate schedules")
  ax.legend(fontsize=7)
  fig.tight_layout()
  save_figure(fig, path, dpi=100)


def run_schedules(config: ml_collections.ConfigDict, workdir: str) -> dict[str, Any]:
  """Build every schedule block of ``config.schedules`` with ``make_schedule`` and plot them."""
  workdir = epath.Path(workdir)
  workdir.mkdir(parents=True, exist_ok=True)
  named = {}
  for label, block in config.schedules.items():
    named[label] = schedules.make_schedule(dict(block), config.learning_rate, config.num_steps, f"schedules.{label}")
  plot_schedules(named, config.num_steps, workdir / "schedules.png")
  probe = [0, config.num_steps // 4, config.num_steps // 2, config.num_steps - 1]
  return {label: {str(t): float(s(t)) for t in probe} for label, s in named.items()}

