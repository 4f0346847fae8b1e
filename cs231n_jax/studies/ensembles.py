"""Model ensembles, snapshot ensembles and Polyak averaging (lecture 7, seed lines 8060-8112).

- **Independent ensembles**: "1. Train multiple independent models 2. At test time average their
  results (take average of predicted probability distributions, then choose argmax)". The slide's
  "enjoy 2% extra performance" is a claim to measure, not to assume.
- **Snapshot ensembles** (Huang et al. 2017, with SGDR's cyclic cosine rate): one run, rate restarted
  every cycle; the parameters at the end of each cycle are the members. The engine saves a
  checkpoint at every cycle end (``train.checkpoint_every`` = cycle length, ``keep_checkpoints`` =
  number of cycles) and the members are restored from them.
- **Polyak averaging**: ``x_test = 0.995 x_test + 0.005 x`` kept by the optimizer
  (``optimizer.ema_decay``) and read back from the last checkpoint's optimizer state; compared with
  the raw final parameters of the same run.

All runs are ordinary engine runs (``tasks.classification.run``), each in its own sub-directory.
"""

from __future__ import annotations

from typing import Any

import ml_collections
import numpy as np
from etils import epath

from cs231n_jax.errors import ConfigError
from cs231n_jax.optim.averaging import averaged_params
from cs231n_jax.studies import engine_runs as er
from cs231n_jax.techniques import checks


def _probs_for(config, workdir, params, model_state, restored) -> dict[str, np.ndarray]:
  variables = er.variables_of(params, model_state)
  ds = restored["dataset"]
  return {split: er.predict_probs(restored["model"], variables, ds.split(split).images) for split in ("val", "test")}


def independent_ensemble(config: ml_collections.ConfigDict, workdir: epath.Path) -> dict[str, Any]:
  members = []
  for i in range(config.ensemble.num_models):
    c = er.variant(config, seed=config.seed + i)
    wd = workdir / f"member_{i}"
    er.fit_quietly(c, wd)
    restored = er.restore(c, wd)
    best = restored["tree"]["best"]
    members.append(_probs_for(c, wd, best["params"], best["model_state"], restored))
  ds = restored["dataset"]
  out = {}
  for split in ("val", "test"):
    labels = ds.split(split).labels
    singles = [er.accuracy(m[split], labels) for m in members]
    mean_probs = np.mean([m[split] for m in members], axis=0)
    ens = er.accuracy(mean_probs, labels)
    out[split] = {"single_mean": float(np.mean(singles)), "single_std": float(np.std(singles)),
                  "single_best": float(np.max(singles)), "ensemble": ens, "gain_over_mean": ens - float(np.mean(singles)),
                  "single_nll_mean": float(np.mean([er.nll(m[split], labels) for m in members])),
                  "ensemble_nll": er.nll(mean_probs, labels)}
  out["num_models"] = config.ensemble.num_models
  return out


def snapshot_ensemble(config: ml_collections.ConfigDict, workdir: epath.Path) -> dict[str, Any]:
  s = config.snapshot
  cycle = s.cycle_steps
  c = er.variant(config, **{
      "optimizer.schedule.name": "cosine_restarts", "optimizer.schedule.decay_steps": cycle,
      "train.num_steps": cycle * s.num_cycles, "train.checkpoint_every": cycle,
      "train.keep_checkpoints": s.num_cycles, "train.eval_every": cycle,
  })
  wd = workdir / "snapshot"
  er.fit_quietly(c, wd)
  steps = er.checkpoint_steps(c, wd)
  members, restored = [], None
  for step in steps:
    restored = er.restore(c, wd, step)
    state = restored["tree"]["state"]
    members.append(_probs_for(c, wd, state["params"], state["model_state"], restored))
  ds = restored["dataset"]
  out = {"snapshot_steps": steps}
  for split in ("val", "test"):
    labels = ds.split(split).labels
    accs = [er.accuracy(m[split], labels) for m in members]
    mean_probs = np.mean([m[split] for m in members], axis=0)
    out[split] = {"snapshots": accs, "last_snapshot": accs[-1], "ensemble": er.accuracy(mean_probs, labels),
                  "last_snapshot_nll": er.nll(members[-1][split], labels), "ensemble_nll": er.nll(mean_probs, labels)}
  return out


def polyak(config: ml_collections.ConfigDict, workdir: epath.Path) -> dict[str, Any]:
  c = er.variant(config, **{"optimizer.ema_decay": config.polyak.decay, "optimizer.schedule.name": "constant",
                            "optimizer.learning_rate": config.polyak.learning_rate})
  wd = workdir / "polyak"
  er.fit_quietly(c, wd)
  restored = er.restore(c, wd)
  state = restored["tree"]["state"]
  raw = _probs_for(c, wd, state["params"], state["model_state"], restored)
  ema = _probs_for(c, wd, averaged_params(state["opt_state"]), state["model_state"], restored)
  ds = restored["dataset"]
  out = {}
  for split in ("val", "test"):
    labels = ds.split(split).labels
    out[split] = {"raw_final": er.accuracy(raw[split], labels), "polyak": er.accuracy(ema[split], labels),
                  "raw_final_nll": er.nll(raw[split], labels), "polyak_nll": er.nll(ema[split], labels)}
  return out


def run_ensembles(config: ml_collections.ConfigDict, workdir: str) -> dict[str, Any]:
  """Independent ensemble, snapshot ensemble and Polyak averaging, each measured on val and test."""
  checks.integer(config.ensemble.num_models, "ensemble.num_models", minimum=2)
  checks.integer(config.snapshot.num_cycles, "snapshot.num_cycles", minimum=2)
  checks.integer(config.snapshot.cycle_steps, "snapshot.cycle_steps")
  if not 0.0 < config.polyak.decay < 1.0:
    raise ConfigError(f"polyak.decay: expected a number in (0, 1), got {config.polyak.decay!r}")
  workdir = epath.Path(workdir)
  workdir.mkdir(parents=True, exist_ok=True)
  return {
      "independent": independent_ensemble(config, workdir),
      "snapshot": snapshot_ensemble(config, workdir),
      "polyak": polyak(config, workdir),
  }
