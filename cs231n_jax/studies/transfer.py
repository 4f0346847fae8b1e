"""Transfer learning with CNNs (lecture 7, seed lines 8614-8776), in miniature on digits.

"Train on ImageNet, then on your small data set": here, pretrain ``technique_convnet`` on digits
0-4, then learn digits 5-9 from ``k`` labelled examples per class, four ways:

- ``linear_probe``: keep every pretrained layer frozen, train a new ``head`` (the lecture's "use
  linear classifier on top layer" for very little, similar data);
- ``finetune_top``: train the new ``head`` and the ``fc`` layer below it ("finetune a few layers");
- ``finetune_all``: train everything, starting from the pretrained weights;
- ``scratch``: the same network from random initialisation.

Every run is an ordinary engine run (``tasks.classification.run``) of the study's config with a few fields
changed: ``data.classes`` picks the digits (relabelled 0-4), ``data.train_per_class`` /
``data.subset_seed`` draw the ``k``-shot training set, and freezing is the optimizer's job
(``optimizer.trainable``: :func:`~cs231n_jax.optim.make_optimizer` gives the other parameters zero
updates; the result records that they stayed bit-identical to the pretrained ones). The pretrained
run's best-validation parameters seed the fine-tuning runs through the engine's
``train.init_from``; the layers of ``transfer.new_layers`` (the ``head``: new classes) keep a
fresh initialisation (``train.init_keep_fresh``).

A fine-tuning run validates once, at its last step, so its reported test accuracy is that of its
final parameters (a few-shot learner has no large labelled validation set to pick a step with).
Accuracy is measured on every test image of digits 5-9, averaged over seeds (each seed draws its
own ``k``-shot subset and initialisation).
"""

from __future__ import annotations

import re
from typing import Any, Sequence

import ml_collections
import numpy as np
from etils import epath

from cs231n_jax.errors import ConfigError
from cs231n_jax.optim import factory
from cs231n_jax.studies import engine_runs as er
from cs231n_jax.techniques import checks

METHODS = {  # method -> (start from pretrained weights?, trainable parameter patterns)
    "linear_probe": (True, ("^head/",)),
    "finetune_top": (True, ("^fc/", "^head/")),
    "finetune_all": (True, ()),
    "scratch": (False, ()),
}
ALL_EXAMPLES = 0  # transfer.shots entry meaning "every training example of the target classes"


def pretrain_config(config: ml_collections.ConfigDict) -> ml_collections.ConfigDict:
  """The run on the source classes: every training example, ``transfer.pretrain_steps`` steps."""
  t = config.transfer
  return er.variant(config, **{"data.classes": tuple(t.source_classes), "data.train_per_class": 0,
                               "train.num_steps": int(t.pretrain_steps)})


def finetune_config(config: ml_collections.ConfigDict, method: str, shots: int, seed: int,
                    pretrain_workdir: str | epath.PathLike) -> ml_collections.ConfigDict:
  """The run of ``method`` on ``shots`` examples per target class (0: all), drawn with ``seed``.

  It validates (and checkpoints) only at its last step, and its batch is no larger than its
  training set. A method that uses the pretrained weights starts from the best parameters of the
  run in ``pretrain_workdir``, every layer but ``transfer.new_layers``.
  """
  t = config.transfer
  uses_pretrained, trainable = METHODS[method]
  steps = int(t.finetune_steps)
  batch = config.train.batch_size
  if shots != ALL_EXAMPLES:
    batch = min(batch, shots * len(t.target_classes))
  return er.variant(config, **{
      "seed": seed, "data.classes": tuple(t.target_classes), "data.train_per_class": int(shots),
      "data.subset_seed": seed, "train.num_steps": steps, "train.batch_size": batch,
      "train.eval_every": steps, "train.checkpoint_every": steps, "train.keep_checkpoints": 1,
      "optimizer.trainable": trainable, "optimizer.learning_rate": float(t.learning_rates[method]),
      "train.init_from": str(pretrain_workdir) if uses_pretrained else "",
      "train.init_keep_fresh": tuple(f"^{layer}/" for layer in t.new_layers),
  })


def frozen_unchanged(reference: Any, final: Any, opt_config: ml_collections.ConfigDict) -> bool:
  """True if every parameter the optimizer block freezes is bit-identical in ``final`` and
  ``reference`` (the labels come from the factory's own ``trainable`` / ``frozen`` matching)."""
  compile_all = lambda patterns: tuple(re.compile(p) for p in ((patterns,) if isinstance(patterns, str) else patterns))
  labels = factory.trainable_labels(final, compile_all(opt_config.get("trainable") or ()),
                                    compile_all(opt_config.get("frozen") or ()))
  flat_labels = er.flatten(labels)
  flat_final, flat_ref = er.flatten(final), er.flatten(reference)
  return all(np.array_equal(flat_final[k], flat_ref[k]) for k, label in flat_labels.items() if label == factory.FROZEN)


def check_transfer_config(t: ml_collections.ConfigDict) -> None:
  unknown = [m for m in t.methods if m not in METHODS]
  if unknown:
    raise ConfigError(f"transfer.methods: {unknown[0]!r} is not one of {tuple(METHODS)}")
  if set(t.source_classes) & set(t.target_classes):
    raise ConfigError(f"transfer.target_classes: must not overlap transfer.source_classes, got {tuple(t.target_classes)} "
                      f"and {tuple(t.source_classes)}")
  bad = [s for s in t.shots if isinstance(s, bool) or not isinstance(s, int) or s < 0]
  if bad:
    raise ConfigError(f"transfer.shots: expected examples per class >= 1 (or 0 for all), got {bad[0]!r}")
  for field in ("pretrain_steps", "finetune_steps", "num_seeds"):
    checks.integer(t[field], f"transfer.{field}")
  missing = [m for m in t.methods if m not in t.learning_rates]
  if missing:
    raise ConfigError(f"transfer.learning_rates: no rate for method {missing[0]!r}")


def run_transfer(config: ml_collections.ConfigDict, workdir: str) -> dict[str, Any]:
  """Pretrain on ``transfer.source_classes``, then every method x shot count x seed on the targets."""
  t = config.transfer
  check_transfer_config(t)
  workdir = epath.Path(workdir)
  workdir.mkdir(parents=True, exist_ok=True)
  pre_config = pretrain_config(config)
  pre = er.fit_quietly(pre_config, workdir / "pretrain")
  pretrained = er.restore(pre_config, workdir / "pretrain")["tree"]["best"]
  results: dict[str, Any] = {"pretrain_test_accuracy_on_source": pre["test_accuracy"], "table": {}}
  for shots in t.shots:
    label = "all" if shots == ALL_EXAMPLES else f"{shots}_per_class"
    row = {}
    for method in t.methods:
      uses_pretrained, _ = METHODS[method]
      accs, frozen_ok, train_examples = [], True, 0
      for s in range(t.num_seeds):
        seed = config.seed + 1 + s
        c = finetune_config(config, method, shots, seed, workdir / "pretrain")
        r = er.fit_quietly(c, workdir / label / method / f"seed_{seed}")
        accs.append(r["test_accuracy"])
        restored = er.restore(c, workdir / label / method / f"seed_{seed}")
        train_examples = len(restored["dataset"].train)
        if uses_pretrained:
          frozen_ok &= frozen_unchanged(pretrained["params"], restored["tree"]["state"]["params"], c.optimizer)
      row[method] = {"test_accuracy_mean": float(np.mean(accs)), "test_accuracy_std": float(np.std(accs)),
                     "test_accuracies": accs, "frozen_parameters_unchanged": bool(frozen_ok),
                     "train_examples": train_examples}
    results["table"][label] = row
  (workdir / "transfer.md").write_text(format_table(results["table"], list(t.methods), t.num_seeds))
  return results


def format_table(table: dict[str, Any], methods: Sequence[str], seeds: int) -> str:
  lines = [f"Test accuracy on the target classes (mean +- std over {seeds} seeds)", "",
           "| labelled examples | " + " | ".join(methods) + " |", "|---|" + "---|" * len(methods)]
  for label, row in table.items():
    lines.append(f"| {label} | " + " | ".join(f"{row[m]['test_accuracy_mean']:.3f} +- {row[m]['test_accuracy_std']:.3f}"
                                           for m in methods) + " |")
  return "\n".join(lines) + "\n"
