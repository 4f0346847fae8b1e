"""Lecture 10's copy-task study: a vanilla RNN, an LSTM and a GRU trained alike on the copy task.

Every cell in ``config.cells`` is one engine run of :mod:`cs231n_jax.tasks.copy` in
``<workdir>/<cell>`` (same hidden size, optimiser, clipping and number of steps); its best
parameters (by val accuracy) are measured on the test sequences, and the gradient-flow profile
‖∂(correct logit)/∂state_t‖ of the trained network is taken over one test sequence. The study
writes ``results.json`` (accuracy per cell, chance, the first-to-last gradient ratio) and
``copy_task.png`` (held-out accuracy curves and the profiles).
"""

from __future__ import annotations

import json
import time
from typing import Any

import jax
import ml_collections
import numpy as np
from etils import epath

from cs231n_jax.plotting import save_figure, subplots
from cs231n_jax.tasks import copy as copy_task
from cs231n_jax.text.copy_task import trained_gradient_profile
from cs231n_jax.train import loop
from cs231n_jax.train.metrics import read_jsonl

FIGURE_NAME = "copy_task.png"
PROFILE_SEED_OFFSET = 7


def cell_config(config: ml_collections.ConfigDict, cell: str) -> ml_collections.ConfigDict:
  c = ml_collections.ConfigDict(config.to_dict())
  c.model.cell = cell
  return c


def run(config: ml_collections.ConfigDict, workdir: str) -> dict[str, Any]:
  """Train every cell in ``config.cells``; accuracies, curves and gradient profiles."""
  copy_task.check_config(config)
  workdir = epath.Path(workdir)
  workdir.mkdir(parents=True, exist_ok=True)
  start = time.time()
  t = config.task
  results: dict[str, Any] = {"chance": 1.0 / t.num_symbols, "length": t.length, "accuracy": {}, "val_accuracy": {},
                             "gradient_ratio_first_to_last": {}}
  curves, profiles = {}, {}
  for cell in config.cells:
    c = cell_config(config, cell)

    model = copy_task.build_model(c)

    def finish(state, evals, _, model=model):
      del evals
      key = jax.random.PRNGKey(config.seed + PROFILE_SEED_OFFSET)
      return {"gradient_profile": trained_gradient_profile(model, state["params"], t.length, t.num_distractors, key).tolist()}

    task, data, _ = copy_task.build(c, finish)
    out = loop.fit(task, data, c, workdir / cell)
    records = read_jsonl(workdir / cell / "metrics.jsonl")
    curves[cell] = [(r["step"], r["accuracy"]) for r in records if r["split"] == "val"]
    profiles[cell] = np.asarray(out["gradient_profile"])
    results["accuracy"][cell] = out["test_accuracy"]
    results["val_accuracy"][cell] = out["val_accuracy"]
    results["gradient_ratio_first_to_last"][cell] = float(profiles[cell][0] / max(profiles[cell][-1], 1e-30))
    print(f"{cell:5s} test accuracy {out['test_accuracy']:.3f} (chance {results['chance']:.3f})")
  plot_copy_task(curves, profiles, results["chance"], workdir / FIGURE_NAME)
  results["wall_time_s"] = time.time() - start
  (workdir / "results.json").write_text(json.dumps(results, indent=2))
  return results


def plot_copy_task(curves, profiles, chance: float, path) -> None:
  fig, (a, b) = subplots(1, 2, figsize=(10, 3.8))
  for cell, curve in curves.items():
    steps, acc = zip(*curve)
    a.plot(steps, acc, label=cell)
  a.axhline(chance, ls=":", color="gray", label="chance")
  a.set_xlabel("training step")
  a.set_ylabel("held-out accuracy")
  a.set_title("copy task: recall the first symbol")
  a.legend()
  for cell, norms in profiles.items():
    b.semilogy(np.arange(len(norms))[::-1], np.maximum(norms, 1e-30) / max(norms[-1], 1e-30), label=cell)
  b.set_xlabel("steps back from the query (k)")
  b.set_ylabel("‖∂ correct logit / ∂ state‖ (relative)")
  b.set_title("gradient flow in the trained networks")
  b.legend()
  fig.tight_layout()
  save_figure(fig, path, dpi=100)
