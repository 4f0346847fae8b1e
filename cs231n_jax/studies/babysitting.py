"""Babysitting the learning process (lecture 6, seed lines 6439-6997): the loss-curve diagnosis
figure (rate too low, too high, good; a bad initialisation) with the update/weight ratio of every
layer per step, after the slide's sanity checks.

The checks and monitors themselves (:func:`~cs231n_jax.techniques.babysitting.sanity_checks`,
``update_weight_ratios``, ``ExplosionStop``) live in :mod:`cs231n_jax.techniques.babysitting`; the
runs are one vmapped program of :mod:`cs231n_jax.techniques.functional_mlp`.
"""

from __future__ import annotations

from typing import Any

import jax
import ml_collections
import numpy as np
from etils import epath

from cs231n_jax.plotting import save_figure, subplots
from cs231n_jax.techniques import checks
from cs231n_jax.techniques import functional_mlp as fm
from cs231n_jax.techniques.babysitting import INITS, TARGET_RATIO, sanity_checks


def run_babysitting(config: ml_collections.ConfigDict, workdir: str) -> dict[str, Any]:
  """Sanity checks, then the loss curves and update ratios of four runs (one vmapped program)."""
  for field in ("epochs", "batch_size"):
    checks.integer(config[field], field)
  for label, run in config.runs.items():
    checks.one_of(run["init"], INITS, f"runs.{label}.init")
    checks.positive(run["lr"], f"runs.{label}.lr")
  workdir = epath.Path(workdir)
  workdir.mkdir(parents=True, exist_ok=True)
  sanity = sanity_checks(config.seed)
  data = fm.digits_arrays()
  runs = dict(config.runs)
  labels = list(runs)
  results = {"sanity_checks": sanity, "runs": {}}
  curves = {}
  for scale_label, scale in INITS.items():
    group = [l for l in labels if (runs[l]["init"] == scale_label)]
    if not group:
      continue
    spec = fm.RunSpec(hidden_dims=tuple(config.hidden_dims), rule="momentum", rule_kwargs=(("rho", 0.9),),
                      num_epochs=config.epochs, batch_size=config.batch_size, weight_scale=scale)
    lrs = [runs[l]["lr"] for l in group]
    keys = jax.random.split(jax.random.PRNGKey(config.seed), len(group))
    out = fm.train_many(spec, data, lrs, [config.reg] * len(group), keys)
    for i, label in enumerate(group):
      curves[label] = (out["loss"][i], out["update_ratio"][i], int(out["stop_step"][i]))
      ratio = out["update_ratio"][i][: max(int(out["stop_step"][i]), 1)]
      results["runs"][label] = {
          "lr": runs[label]["lr"], "init": runs[label]["init"], "stopped": bool(out["stopped"][i]),
          "stop_step": int(out["stop_step"][i]), "val_accuracy": float(out["val_accuracy"][i]),
          "first_loss": float(out["loss"][i][0]),
          # The loss of the last step run: the one that tripped the stop, for a stopped run.
          "last_loss": float(out["loss"][i][min(int(out["stop_step"][i]), len(out["loss"][i]) - 1)]),
          "median_update_ratio_per_layer": np.median(ratio, axis=0).tolist(),
      }
  _plot(curves, workdir / "babysitting.png")
  return results


def _plot(curves: dict[str, tuple[np.ndarray, np.ndarray, int]], path: epath.PathLike) -> None:
  fig, (ax_loss, ax_ratio) = subplots(1, 2, figsize=(11, 4))
  for label, (loss, ratio, stop) in curves.items():
    steps = np.arange(1, stop + 1)
    line, = ax_loss.plot(steps, loss[:stop], label=label)
    if stop < len(loss):
      ax_loss.plot(stop, loss[stop - 1], "x", color=line.get_color(), ms=10)
    for layer in range(ratio.shape[1]):
      ax_ratio.plot(steps, ratio[:stop, layer], color=line.get_color(), ls="-" if layer == 0 else "--",
                    label=f"{label} W{layer + 1}")
  ax_loss.set_yscale("log")
  ax_loss.set_xlabel("step")
  ax_loss.set_ylabel("minibatch loss")
  ax_loss.set_title("loss curves (x: stopped, cost > 3x initial or NaN)")
  ax_loss.legend(fontsize=7)
  ax_ratio.axhline(TARGET_RATIO, color="k", lw=0.8)
  ax_ratio.set_yscale("log")
  ax_ratio.set_xlabel("step")
  ax_ratio.set_ylabel("||update|| / ||W||")
  ax_ratio.set_title("update / weight ratio per layer (line: 1e-3)")
  ax_ratio.legend(fontsize=6, ncol=2)
  fig.tight_layout()
  save_figure(fig, path, dpi=100)
