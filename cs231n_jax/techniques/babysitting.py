"""Babysitting the learning process (lecture 6, seed lines 6439-6997): checks, monitors, early stop.

- :func:`update_weight_ratios`: the slide's ``update_scale / param_scale`` (``||-lr dW|| / ||W||``)
  for every parameter of any pytree (Flax params included), "want ~1e-3".
- :class:`ExplosionStop`: "if the cost is ever > 3 * original cost, break out early", and NaN
  ("cost: NaN almost always means high learning rate"), for host-side training loops; the vmapped
  program of :mod:`~cs231n_jax.techniques.functional_mlp` applies the same rule inside the program.
- :func:`sanity_checks`: the slide's protocol — the initial loss is ln(10) for 10 classes with small
  weights and no regularisation; cranking up regularisation raises it; a small net overfits 20
  examples to 100% training accuracy with regularisation off.
- :func:`run_babysitting`: the loss-curve diagnosis figure (rate too low, too high, good; a bad
  initialisation) with the update/weight ratio of every layer per step.
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from cs231n_jax.optim.factory import param_path
from cs231n_jax.plotting import subplots
from cs231n_jax.techniques import checks
from cs231n_jax.techniques import functional_mlp as fm

TARGET_RATIO = 1e-3  # "want ~1e-3"
EXPLODE_FACTOR = fm.EXPLODE_FACTOR
SMALL_INIT = 1e-4  # the slide's 0.0001 * randn
OVERFIT_EXAMPLES = 20
TINY = 1e-12
INITS = {"he": None, "small": SMALL_INIT}  # a run's "init" -> weight std (None: He, sqrt(2 / fan_in))


def update_weight_ratios(params: Any, updates: Any) -> dict[str, float]:
  """``||update|| / ||param||`` for every leaf, keyed by its path (``"Dense_0/kernel"``)."""
  ratios = {}
  flat_p = jax.tree_util.tree_flatten_with_path(params)[0]
  flat_u = jax.tree.leaves(updates)
  if len(flat_p) != len(flat_u):
    raise ValueError(f"updates: expected the structure of params ({len(flat_p)} leaves), got {len(flat_u)} leaves")
  for (path, p), u in zip(flat_p, flat_u):
    if np.shape(p) != np.shape(u):
      raise ValueError(f"updates: {param_path(path)} has shape {np.shape(u)}, its parameter {np.shape(p)}")
    ratios[param_path(path)] = float(jnp.linalg.norm(u) / (jnp.linalg.norm(p) + TINY))
  return ratios


@dataclasses.dataclass
class ExplosionStop:
  """Feed it every loss; ``check(loss)`` returns ``None`` to go on, or why to stop."""

  factor: float = EXPLODE_FACTOR
  initial: float | None = None

  def check(self, loss: float) -> str | None:
    loss = float(loss)
    if not math.isfinite(loss):
      return f"loss is {loss}: the learning rate is almost certainly too high"
    if self.initial is None:
      self.initial = loss
      return None
    if loss > self.factor * self.initial:
      return f"loss {loss:.4g} > {self.factor:g} x initial {self.initial:.4g}: exploding"
    return None


def sanity_checks(seed: int = 0) -> dict[str, Any]:
  """The slide's three checks on the digits 2-layer net (hidden 50, weights 1e-4 * randn)."""
  data = fm.digits_arrays()
  key = jax.random.PRNGKey(seed)
  params = fm.init_mlp(key, data.input_dim, (50,), data.num_classes, SMALL_INIT)
  loss0 = float(fm.softmax_loss(params, data.x_train, data.y_train, 0.0))
  loss_reg = float(fm.softmax_loss(params, data.x_train, data.y_train, 1e3))
  tiny = fm.Arrays(data.x_train[:OVERFIT_EXAMPLES], data.y_train[:OVERFIT_EXAMPLES],
                   data.x_train[:OVERFIT_EXAMPLES], data.y_train[:OVERFIT_EXAMPLES], data.num_classes)
  # The slide: 200 epochs, full batch (sample_batches=False), sgd, reg 0; He init and lr 0.5 for digits.
  spec = fm.RunSpec(hidden_dims=(50,), rule="sgd", num_epochs=200, batch_size=OVERFIT_EXAMPLES, early_stop=False)
  out = jax.jit(fm.make_train_run(spec, tiny))(jnp.float32(0.5), jnp.float32(0.0), key)
  final_params = out["params"]
  return {
      "initial_loss": loss0, "ln_10": math.log(10.0), "initial_loss_reg_1e3": loss_reg,
      "overfit_train_accuracy": float(out["train_accuracy"]),
      "overfit_final_loss": float(fm.softmax_loss(final_params, tiny.x_train, tiny.y_train, 0.0)),
  }


def run_babysitting(config: ml_collections.ConfigDict, workdir: str) -> dict[str, Any]:
  """Sanity checks, then the loss curves and update ratios of four runs (one vmapped program)."""
  for field in ("epochs", "batch_size"):
    checks.integer(config[field], field)
  for label, run in config.runs.items():
    checks.one_of(run["init"], INITS, f"runs.{label}.init")
    checks.positive(run["lr"], f"runs.{label}.lr")
  workdir = Path(workdir)
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


def _plot(curves: dict[str, tuple[np.ndarray, np.ndarray, int]], path: Path) -> None:
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
  fig.savefig(path, dpi=100)
