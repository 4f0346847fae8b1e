"""Does each regulariser of lecture 7 matter? Train/val gaps on digits, with and without it.

Every variant is an engine run (``tasks.classification.run``) of the same base config with a few fields
changed — the regulariser's own fields: ``optimizer.l2`` / ``l1`` / ``weight_decay``,
``model.dropout_keep_ratio``, ``model.dropconnect_keep``, ``model.final_survival`` (stochastic
depth on residual blocks), ``model.normalization``, ``model.pool`` (fractional max pooling), or
``data.augment``. Each variant names the baseline it is compared with (the same model without the
regulariser). Reported per variant, for the *final* parameters (the engine also keeps the
best-validation ones, which would hide overfitting late in training), averaged over seeds: train /
val / test accuracy, the accuracy gap ``train - val``, the loss gap ``val NLL - train NLL`` (the
smoother measure of overfitting), and their changes against the baseline as mean +- std of the
per-seed differences (a variant and its baseline share the seed, hence the initialisation's key,
the batch order and, with ``data.train_per_class``, the training subset: ``data.subset_seed``
follows the seed).

On the full digits training set the baselines already reach ~97% and the effects are a few images
(``experiments/configs/techniques/regularization.py``); ``regularization_small_data.py`` trains on 10
images per class, where overfitting is real.
"""

from __future__ import annotations

from typing import Any, Mapping

import ml_collections
import numpy as np
from etils import epath

from cs231n_jax.errors import ConfigError
from cs231n_jax.studies import engine_runs as er
from cs231n_jax.techniques import checks

CHANGES = ("val_accuracy", "test_accuracy", "accuracy_gap", "loss_gap")  # compared with the baseline per seed


def merge(config: ml_collections.ConfigDict, overrides: Mapping[str, Any], where: str = "") -> ml_collections.ConfigDict:
  """A copy of ``config`` with the nested ``overrides`` written over it (new keys allowed)."""
  c = ml_collections.ConfigDict(config.to_dict())

  def write(node, upd, path):
    for k, v in upd.items():
      if isinstance(v, Mapping) and not isinstance(v, str):
        if k not in node:
          node[k] = ml_collections.ConfigDict()
        if not isinstance(node[k], ml_collections.ConfigDict):
          raise ConfigError(f"{path}{k}: is a value in the base config, cannot hold fields")
        write(node[k], v, f"{path}{k}.")
      else:
        node[k] = v

  write(c, dict(overrides), where)
  return c


def run_regularization(config: ml_collections.ConfigDict, workdir: str) -> dict[str, Any]:
  """Every variant of ``config.variants`` (name -> {"baseline": name or "", "overrides": {...}}).

  Overrides are merged into the base config field by field, except a ``model`` override that names
  a model, which replaces the whole ``model`` block.
  """
  workdir = epath.Path(workdir)
  workdir.mkdir(parents=True, exist_ok=True)
  variants = config.variants.to_dict()
  for name, v in variants.items():
    if v.get("baseline") and v["baseline"] not in variants:
      raise ConfigError(f"variants.{name}.baseline: {v['baseline']!r} is not a variant; expected one of {sorted(variants)}")
  checks.integer(config.num_seeds, "num_seeds")
  seeds = [config.seed + i for i in range(config.num_seeds)]
  rows: dict[str, Any] = {}
  per_seed: dict[str, list[dict[str, float]]] = {}
  for name, v in variants.items():
    base = {k: val for k, val in config.to_dict().items() if k not in ("variants", "num_seeds")}
    if "name" in v.get("overrides", {}).get("model", {}):  # another model: its block replaces the base's
      base["model"] = {}
    c = merge(ml_collections.ConfigDict(base), v.get("overrides", {}), f"variants.{name}.overrides.")
    # With data.train_per_class, the seed also draws the training subset (data.subset_seed): a
    # variant and its baseline see the same examples at the same seed, so changes are paired.
    per_seed[name] = [final_metrics(er.variant(c, **{"seed": seed, "data.subset_seed": seed}),
                                    workdir / name / f"seed_{seed}") for seed in seeds]
    row = {k: float(np.mean([m[k] for m in per_seed[name]])) for k in per_seed[name][0]}
    row["val_accuracy_std"] = float(np.std([m["val_accuracy"] for m in per_seed[name]]))
    row["baseline"] = v.get("baseline", "")
    rows[name] = row
  for name, row in rows.items():
    if row["baseline"]:
      for k in CHANGES:
        diffs = [m[k] - b[k] for m, b in zip(per_seed[name], per_seed[row["baseline"]])]
        row[f"{k}_change"], row[f"{k}_change_std"] = float(np.mean(diffs)), float(np.std(diffs))
  (workdir / "regularization.md").write_text(format_table(rows, len(seeds)))
  return rows


def final_metrics(config: ml_collections.ConfigDict, workdir: epath.Path) -> dict[str, float]:
  """Train the config, then evaluate its *final* parameters (not the best-validation ones) on
  train / val / test: accuracies, mean NLLs, and the gaps train - val (accuracy), val - train (NLL)."""
  er.fit_quietly(config, workdir)
  restored = er.restore(config, workdir)
  state = restored["tree"]["state"]
  variables = er.variables_of(state["params"], state["model_state"])
  out = {}
  for split in ("train", "val", "test"):
    s = restored["dataset"].split(split)
    probs = er.predict_probs(restored["model"], variables, s.images)
    out[f"{split}_accuracy"] = er.accuracy(probs, s.labels)
    out[f"{split}_nll"] = er.nll(probs, s.labels)
  out["accuracy_gap"] = out["train_accuracy"] - out["val_accuracy"]
  out["loss_gap"] = out["val_nll"] - out["train_nll"]
  return out


def format_table(rows: Mapping[str, Mapping[str, Any]], num_seeds: int) -> str:
  lines = [f"Final parameters, mean over {num_seeds} seeds; changes against the baseline are mean +- std of the "
           "per-seed differences. Gaps: accuracy train - val; NLL val - train.", "",
           "| variant | vs | train acc | val acc | test acc | acc gap | NLL gap | val change | test change | "
           "acc gap change | NLL gap change |",
           "|---|---|---|---|---|---|---|---|---|---|---|"]
  for name, r in rows.items():
    change = (" | ".join(f"{r[f'{k}_change']:+.4f} +- {r[f'{k}_change_std']:.4f}" for k in CHANGES)
              if "val_accuracy_change" in r else "- | - | - | -")
    lines.append(f"| {name} | {r['baseline'] or '-'} | {r['train_accuracy']:.4f} | {r['val_accuracy']:.4f} | "
                 f"{r['test_accuracy']:.4f} | {r['accuracy_gap']:.4f} | {r['loss_gap']:.3f} | {change} |")
  return "\n".join(lines) + "\n"
