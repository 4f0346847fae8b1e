"""Hyperparameter search (lecture 6, seed lines 6778-6948): random, coarse-to-fine, grid — with every
stage's K training runs compiled as one ``jax.vmap``-ed program.

A whole-run program that is itself the object of study (K runs as one vmapped XLA program), kept
by design beside the engine, which trains one run at a time.

- **Random search in log space**: ``reg = 10**uniform(-5, 5); lr = 10**uniform(-3, -6)`` on the
  slide ("note it's best to optimize in log space!"). :func:`log_uniform` draws from a PRNG key.
- **Coarse -> fine**: "First stage: only a few epochs to get rough idea of what params work. Second
  stage: longer running time, finer search ... (repeat as necessary)". :func:`refine_ranges`
  narrows each range to the span of the best coarse trials.
- **The worrying best**: the slide's best fine result sits at the edge of the searched learning-rate
  range ("But this best cross-validation result is worrying. Why?"): :func:`edge_warnings` flags a
  best value within 10% (in log space) of a range edge.
- **Random vs grid** (Bergstra and Bengio 2012): with one important and one unimportant parameter, a
  3 x 3 grid tries only 3 values of the important one, random search 9.
  :func:`random_vs_grid` measures it on a function built that way.
- **vmap vs one after another**: :func:`vmap_benchmark` times the same K runs as one vmapped
  program, as K calls of the compiled single-run program, and as K Python loops over a jitted step
  (the usual way to train), in the same process (speed ratios, not absolute claims), and checks that
  all three give the same accuracies.
"""

from __future__ import annotations

import math
import time
from typing import Any, Sequence

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
from etils import epath

from cs231n_jax.errors import ConfigError
from cs231n_jax.optim import transforms
from cs231n_jax.plotting import save_figure, subplots
from cs231n_jax.techniques import checks
from cs231n_jax.techniques import functional_mlp as fm

EDGE_FRACTION = 0.1  # "within 10% of a range edge" in log10 units
TOP_FRACTION = 0.2  # coarse -> fine: the best fifth of the trials defines the fine ranges
FINE_MARGIN = 0.25  # widen the fine range by a quarter decade each side


def log_uniform(key: jax.Array, n: int, low_exp: float, high_exp: float) -> np.ndarray:
  """``10**uniform(low_exp, high_exp)``, ``n`` samples (the slide's sampling, in either order)."""
  lo, hi = sorted((low_exp, high_exp))
  return np.asarray(10.0 ** jax.random.uniform(key, (n,), minval=lo, maxval=hi, dtype=jnp.float32), np.float64)


def _spec(config: ml_collections.ConfigDict, num_epochs: int) -> fm.RunSpec:
  opt = config.optimizer
  kwargs = (("rho", float(opt.momentum)),) if opt.name in ("momentum", "nesterov") else ()
  return fm.RunSpec(
      hidden_dims=tuple(config.model.hidden_dims), rule=opt.name, rule_kwargs=kwargs, num_epochs=num_epochs,
      batch_size=int(config.train.batch_size), lr_decay=float(opt.lr_decay),
  )


def run_trials(spec: fm.RunSpec, data: fm.Arrays, lrs: np.ndarray, regs: np.ndarray, key: jax.Array) -> list[dict[str, Any]]:
  """Train ``len(lrs)`` models at once; one row per trial (lr, reg, accuracies, stopped)."""
  keys = jax.random.split(key, len(lrs))
  out = fm.train_many(spec, data, lrs, regs, keys)
  rows = []
  for i in range(len(lrs)):
    rows.append({
        "lr": float(lrs[i]), "reg": float(regs[i]), "val_accuracy": float(out["val_accuracy"][i]),
        "train_accuracy": float(out["train_accuracy"][i]), "stopped": bool(out["stopped"][i]),
        "stop_step": int(out["stop_step"][i]),
    })
  return rows


def random_stage(spec: fm.RunSpec, data: fm.Arrays, ranges: dict[str, tuple[float, float]], trials: int,
                 sample_key: jax.Array, run_key: jax.Array) -> tuple[list[dict[str, Any]], float]:
  """One stage of random search: ``trials`` log-uniform draws of lr and reg within ``ranges``
  (log10 exponents), trained as one vmapped program; the rows and the stage's wall time."""
  kl, kr = jax.random.split(sample_key)
  lrs = log_uniform(kl, trials, *ranges["lr"])
  regs = log_uniform(kr, trials, *ranges["reg"])
  t0 = time.time()
  rows = run_trials(spec, data, lrs, regs, run_key)
  return rows, time.time() - t0


def format_trial(row: dict[str, Any], i: int, total: int) -> str:
  """The slide's log line: ``val_acc: %f, lr: %e, reg: %e, (i / 100)``."""
  return f"val_acc: {row['val_accuracy']:f}, lr: {row['lr']:e}, reg: {row['reg']:e}, ({i} / {total})"


def refine_ranges(rows: Sequence[dict[str, Any]], top_fraction: float = TOP_FRACTION,
                  margin: float = FINE_MARGIN) -> dict[str, tuple[float, float]]:
  """log10 ranges spanning the best ``top_fraction`` of ``rows`` (by val accuracy), widened by ``margin``."""
  ranked = sorted(rows, key=lambda r: -r["val_accuracy"])
  top = ranked[: max(2, int(round(top_fraction * len(rows))))]
  out = {}
  for name in ("lr", "reg"):
    logs = [math.log10(r[name]) for r in top]
    out[name] = (min(logs) - margin, max(logs) + margin)
  return out


def edge_warnings(best: dict[str, Any], ranges: dict[str, tuple[float, float]],
                  fraction: float = EDGE_FRACTION) -> list[str]:
  """Warnings for a best value within ``fraction`` of its log10 range's width from an edge."""
  warnings = []
  for name, (lo, hi) in ranges.items():
    value = math.log10(best[name])
    width = hi - lo
    if value - lo < fraction * width or hi - value < fraction * width:
      edge = "lower" if value - lo < hi - value else "upper"
      warnings.append(f"best {name} {best[name]:.3e} is at the {edge} edge of the searched range "
                      f"[1e{lo:.2f}, 1e{hi:.2f}]: widen the range")
  return warnings


def random_vs_grid(key: jax.Array, budget_side: int = 3, repeats: int = 1000) -> dict[str, float]:
  """Bergstra and Bengio's argument, measured: maximise ``g(x) + 0.01 h(y)`` on the unit square
  with ``budget_side**2`` trials, where only ``x`` matters.

  ``g`` is a bump of width 0.05 at a random centre (drawn per repeat); ``h`` is a slow ripple in the
  unimportant ``y``. Grid: the cell centres of a ``budget_side`` x ``budget_side`` grid. Returns the
  mean best ``g`` found by each, and how often random search did at least as well.
  """
  n = budget_side * budget_side
  k_centre, k_points = jax.random.split(key)
  centres = np.asarray(jax.random.uniform(k_centre, (repeats,)))
  points = np.asarray(jax.random.uniform(k_points, (repeats, n, 2)))
  grid_axis = (np.arange(budget_side) + 0.5) / budget_side
  gx, gy = np.meshgrid(grid_axis, grid_axis, indexing="ij")
  grid = np.stack([gx.ravel(), gy.ravel()], axis=-1)

  def objective(p, centre):
    important = np.exp(-0.5 * ((p[..., 0] - centre) / 0.05) ** 2)
    unimportant = 0.01 * np.sin(2 * np.pi * p[..., 1])
    return important + unimportant

  best_random = np.array([objective(points[i], centres[i]).max() for i in range(repeats)])
  best_grid = np.array([objective(grid, centres[i]).max() for i in range(repeats)])
  return {
      "trials": n, "repeats": repeats,
      "distinct_x_random": n, "distinct_x_grid": budget_side,
      "mean_best_random": float(best_random.mean()), "mean_best_grid": float(best_grid.mean()),
      "random_at_least_as_good": float(np.mean(best_random >= best_grid)),
  }


def plot_random_vs_grid(path: epath.PathLike, key: jax.Array, budget_side: int = 3) -> None:
  n = budget_side * budget_side
  grid_axis = (np.arange(budget_side) + 0.5) / budget_side
  gx, gy = np.meshgrid(grid_axis, grid_axis, indexing="ij")
  rnd = np.asarray(jax.random.uniform(key, (n, 2)))
  fig, axes = subplots(1, 2, figsize=(8, 4), sharey=True)
  xs = np.linspace(0, 1, 200)
  bump = np.exp(-0.5 * ((xs - 0.37) / 0.05) ** 2)
  for ax, (px, py), title in ((axes[0], (gx.ravel(), gy.ravel()), "grid layout"), (axes[1], (rnd[:, 0], rnd[:, 1]), "random layout")):
    ax.scatter(px, py, c="k")
    ax.plot(xs, 0.15 * bump - 0.2, c="g")
    for x in px:
      ax.axvline(x, ymin=0.0, ymax=0.1, c="r", lw=1)
    ax.set_title(title)
    ax.set_xlabel("important parameter")
    ax.set_xlim(0, 1)
    ax.set_ylim(-0.25, 1)
  axes[0].set_ylabel("unimportant parameter")
  fig.tight_layout()
  save_figure(fig, path, dpi=100)


def plot_scatter(rows: Sequence[dict[str, Any]], path: epath.PathLike, title: str) -> None:
  """The lecture's plot: val accuracy against learning rate and regularisation (colour)."""
  lr = np.array([r["lr"] for r in rows])
  reg = np.array([r["reg"] for r in rows])
  acc = np.array([r["val_accuracy"] for r in rows])
  fig, ax = subplots(figsize=(6, 4.5))
  sc = ax.scatter(lr, reg, c=acc, cmap="viridis", vmin=0, vmax=1, s=40, edgecolors="k")
  ax.set_xscale("log")
  ax.set_yscale("log")
  ax.set_xlabel("learning rate")
  ax.set_ylabel("regularization strength")
  ax.set_title(title)
  fig.colorbar(sc, label="val accuracy")
  fig.tight_layout()
  save_figure(fig, path, dpi=100)


def _check_search_config(config: ml_collections.ConfigDict) -> None:
  s = config.search
  checks.one_of(config.optimizer.name, tuple(transforms.RULES), "optimizer.name")
  checks.integer(config.train.batch_size, "train.batch_size")
  for stage in ("coarse", "fine"):
    checks.integer(s[stage].trials, f"search.{stage}.trials", minimum=2)
    checks.integer(s[stage].epochs, f"search.{stage}.epochs")
  for name in ("lr_range", "reg_range"):
    r = tuple(s.coarse[name])
    if len(r) != 2 or r[0] == r[1]:
      raise ConfigError(f"search.coarse.{name}: expected two different log10 exponents, got {r!r}")
  checks.integer(s.grid_side, "search.grid_side", minimum=2)


def run_hparam_search(config: ml_collections.ConfigDict, workdir: str) -> dict[str, Any]:
  """Coarse random search -> fine random search, and a grid of the same budget as the fine stage."""
  _check_search_config(config)
  workdir = epath.Path(workdir)
  workdir.mkdir(parents=True, exist_ok=True)
  data = fm.digits_arrays()
  key = jax.random.PRNGKey(config.seed)
  # Five keys (one once reserved for the grid, which has no randomness): the measured runs keep theirs.
  k_coarse, k_fine, _, k_runs, k_demo = jax.random.split(key, 5)
  s = config.search

  coarse_ranges = {"lr": tuple(sorted(s.coarse.lr_range)), "reg": tuple(sorted(s.coarse.reg_range))}
  coarse, coarse_s = random_stage(_spec(config, s.coarse.epochs), data, coarse_ranges, s.coarse.trials, k_coarse,
                                  jax.random.fold_in(k_runs, 0))
  fine_ranges = refine_ranges(coarse)
  fine, fine_s = random_stage(_spec(config, s.fine.epochs), data, fine_ranges, s.fine.trials, k_fine,
                              jax.random.fold_in(k_runs, 1))

  side = s.grid_side
  grid_lr = 10.0 ** np.linspace(*fine_ranges["lr"], side)
  grid_reg = 10.0 ** np.linspace(*fine_ranges["reg"], side)
  gl, gr = np.meshgrid(grid_lr, grid_reg, indexing="ij")
  grid = run_trials(_spec(config, s.fine.epochs), data, gl.ravel(), gr.ravel(), jax.random.fold_in(k_runs, 1))

  best = lambda rows: max(rows, key=lambda r: r["val_accuracy"])
  with (workdir / "trials.txt").open("w") as f:
    for stage, rows in (("coarse", coarse), ("fine", fine), ("grid", grid)):
      f.write(f"# {stage}\n")
      for i, r in enumerate(rows):
        f.write(format_trial(r, i, len(rows)) + ("  (stopped: cost > 3x initial or NaN)" if r["stopped"] else "") + "\n")
  plot_scatter(coarse, workdir / "coarse_scatter.png", f"coarse: {s.coarse.trials} trials, {s.coarse.epochs} epochs")
  plot_scatter(fine, workdir / "fine_scatter.png", f"fine: {s.fine.trials} trials, {s.fine.epochs} epochs")
  demo = random_vs_grid(k_demo, budget_side=3)
  plot_random_vs_grid(workdir / "random_vs_grid.png", k_demo)
  b_coarse, b_fine, b_grid = best(coarse), best(fine), best(grid)
  return {
      "coarse_best": b_coarse, "fine_best": b_fine, "grid_best": b_grid,
      "coarse_ranges_log10": coarse_ranges, "fine_ranges_log10": fine_ranges,
      "coarse_stopped": int(sum(r["stopped"] for r in coarse)),
      "coarse_wall_s": coarse_s, "fine_wall_s": fine_s,
      "fine_edge_warnings": edge_warnings(b_fine, fine_ranges),
      "random_vs_grid": demo,
  }


def vmap_benchmark(spec: fm.RunSpec, data: fm.Arrays, num_models: int, key: jax.Array,
                   lr_range=(-2.0, 0.0), reg_range=(-5.0, -2.0), repeats: int = 3) -> dict[str, Any]:
  """Time K runs as one ``jit(vmap(run))`` program vs K calls of ``jit(run)``, same process.

  Compile times are measured separately (``lower().compile()``); run times are the best of
  ``repeats`` interleaved rounds (``block_until_ready``). Also reports how far the accuracies of the
  three ways differ (float32 summation order differs between batched and single matrix multiplies;
  in float64 they agree to 1e-9, see the tests).
  """
  kl, kr, kk = jax.random.split(key, 3)
  lrs = jnp.asarray(log_uniform(kl, num_models, *lr_range), jnp.float32)
  regs = jnp.asarray(log_uniform(kr, num_models, *reg_range), jnp.float32)
  keys = jax.random.split(kk, num_models)
  run = fm.make_train_run(spec, data)

  t0 = time.perf_counter()
  batched = jax.jit(jax.vmap(run)).lower(lrs, regs, keys).compile()
  compile_vmap = time.perf_counter() - t0
  t0 = time.perf_counter()
  single = jax.jit(run).lower(lrs[0], regs[0], keys[0]).compile()
  compile_single = time.perf_counter() - t0

  loop = fm.make_python_loop_run(spec, data)
  jax.block_until_ready(loop(lrs[0], regs[0], keys[0]))  # compile its step outside the timing
  contenders = {
      "vmap": lambda: batched(lrs, regs, keys),
      "sequential": lambda: [single(lrs[i], regs[i], keys[i]) for i in range(num_models)],
      "loop": lambda: [loop(lrs[i], regs[i], keys[i]) for i in range(num_models)],
  }
  # Interleaved repeats, best of each: load from other processes hits all three alike.
  best = {name: math.inf for name in contenders}
  outs = {}
  for _ in range(repeats):
    for name, fn in contenders.items():
      t = time.perf_counter()
      outs[name] = jax.block_until_ready(fn())
      best[name] = min(best[name], time.perf_counter() - t)
  vmap_s, seq_s, loop_s = best["vmap"], best["sequential"], best["loop"]
  vmap_out, seq_out, loop_out = outs["vmap"], outs["sequential"], outs["loop"]
  seq_val = np.array([float(o["val_accuracy"]) for o in seq_out])
  loop_val = np.array([float(o["val_accuracy"]) for o in loop_out])
  vmap_val = np.asarray(vmap_out["val_accuracy"])
  steps = spec.num_epochs * spec.steps_per_epoch(int(data.x_train.shape[0]))
  return {
      "num_models": num_models, "steps_per_model": steps, "device": jax.devices()[0].device_kind,
      "compile_vmap_s": compile_vmap, "compile_single_s": compile_single,
      "vmap_run_s": vmap_s, "sequential_scan_run_s": seq_s, "sequential_step_loop_s": loop_s,
      "speedup_vs_sequential_scan": seq_s / vmap_s, "speedup_vs_step_loop": loop_s / vmap_s,
      # One compile each: what a user waits for, compilation included.
      "vmap_total_s": compile_vmap + vmap_s, "sequential_scan_total_s": compile_single + seq_s,
      "max_val_accuracy_difference": float(max(np.max(np.abs(seq_val - vmap_val)), np.max(np.abs(loop_val - vmap_val)))),
      "mean_val_accuracy": float(vmap_val.mean()),
  }


def run_vmap_benchmark(config: ml_collections.ConfigDict, workdir: str) -> dict[str, Any]:
  """:func:`vmap_benchmark` for each model size in ``config.benchmark.models`` ((hidden width,
  batch size) pairs) and each K in ``config.benchmark.num_models``."""
  b = config.benchmark
  checks.one_of(config.optimizer.name, tuple(transforms.RULES), "optimizer.name")
  for i, (hidden, batch) in enumerate(b.models):
    checks.integer(hidden, f"benchmark.models[{i}] hidden width")
    checks.integer(batch, f"benchmark.models[{i}] batch size")
  for k in b.num_models:
    checks.integer(k, "benchmark.num_models")
  checks.integer(b.epochs, "benchmark.epochs")
  checks.integer(b.repeats, "benchmark.repeats")
  workdir = epath.Path(workdir)
  workdir.mkdir(parents=True, exist_ok=True)
  data = fm.digits_arrays()
  key = jax.random.PRNGKey(config.seed)
  rows = []
  for hidden, batch in b.models:
    c = ml_collections.ConfigDict(config.to_dict())
    c.model.hidden_dims = (int(hidden),)
    c.train.batch_size = int(batch)
    spec = _spec(c, config.benchmark.epochs)
    for k in config.benchmark.num_models:
      r = vmap_benchmark(spec, data, int(k), jax.random.fold_in(key, int(k)), repeats=config.benchmark.repeats)
      rows.append({"hidden": int(hidden), "batch_size": int(batch), **r})
  with (workdir / "vmap_benchmark.txt").open("w") as f:
    for r in rows:
      f.write(f"hidden {r['hidden']}, batch {r['batch_size']}, K={r['num_models']} x {r['steps_per_model']} steps: "
              f"vmap {r['vmap_run_s']:.3f}s; one after another: whole-run programs "
              f"{r['sequential_scan_run_s']:.3f}s ({r['speedup_vs_sequential_scan']:.2f}x), jitted-step loops "
              f"{r['sequential_step_loop_s']:.3f}s ({r['speedup_vs_step_loop']:.2f}x); compile "
              f"{r['compile_vmap_s']:.2f}s vs {r['compile_single_s']:.2f}s\n")
  return {"runs": rows}
