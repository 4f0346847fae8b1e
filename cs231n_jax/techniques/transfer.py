"""Transfer learning with CNNs (lecture 7, seed lines 8614-8776), in miniature on digits.

"Train on ImageNet, then on your small data set": here, pretrain ``lecture7_convnet`` on digits
0-4, then learn digits 5-9 from ``k`` labelled examples per class, four ways:

- ``linear_probe``: keep every pretrained layer frozen, train a new ``head`` (the lecture's "use
  linear classifier on top layer" for very little, similar data);
- ``finetune_top``: train the new ``head`` and the ``fc`` layer below it ("finetune a few layers");
- ``finetune_all``: train everything, starting from the pretrained weights;
- ``scratch``: the same network from random initialisation.

Freezing is the optimizer's job: ``optimizer.trainable`` patterns (:func:`make_optimizer` gives
frozen parameters zero updates; the result records that they stayed bit-identical). The head is
always new (5 new classes). Accuracy is measured on every test image of digits 5-9, averaged over
seeds (each seed draws its own ``k``-shot subset and initialisation).

Training runs through the engine's pieces (model builder, TrainState, the compiled ``jit`` train
step, the batch iterator, ``evaluate``) in :func:`train_on_dataset`, because the engine's ``fit``
reads its data from ``config.data`` and has no class-subset / few-shot option yet; once it does,
these runs should become ordinary ``fit`` runs.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any, Sequence

import jax
import ml_collections
import numpy as np

from cs231n_jax import optim
from cs231n_jax.data import load_dataset
from cs231n_jax.data.dataset import ImageDataset, Split
from cs231n_jax.data.pipeline import BatchIterator
from cs231n_jax.errors import ConfigError
from cs231n_jax.train import loop
from cs231n_jax.train.state import create_train_state
from cs231n_jax.train.steps import build_steps

METHODS = {  # method -> (start from pretrained weights?, trainable parameter patterns)
    "linear_probe": (True, ("^head/",)),
    "finetune_top": (True, ("^fc/", "^head/")),
    "finetune_all": (True, ()),
    "scratch": (False, ()),
}


def class_subset(split: Split, classes: Sequence[int], per_class: int | None = None, seed: int = 0) -> Split:
  """The examples of ``classes`` relabelled ``0 .. len(classes) - 1``; with ``per_class``, a random
  ``per_class`` of each (drawn with ``seed``)."""
  rng = np.random.default_rng(seed)
  picked = []
  for c in classes:
    idx = np.nonzero(split.labels == c)[0]
    if per_class is not None:
      if per_class > len(idx):
        raise ConfigError(f"shots: {per_class} examples per class requested, class {c} has {len(idx)}")
      idx = np.sort(rng.choice(idx, per_class, replace=False))
    picked.append(idx)
  idx = np.concatenate(picked)
  relabel = {c: i for i, c in enumerate(classes)}
  return Split(split.images[idx], np.array([relabel[int(y)] for y in split.labels[idx]], np.int32))


def subset_dataset(ds: ImageDataset, classes: Sequence[int], per_class: int | None, seed: int) -> ImageDataset:
  return dataclasses.replace(
      ds, name=f"{ds.name}[{','.join(map(str, classes))}]",
      train=class_subset(ds.train, classes, per_class, seed), val=class_subset(ds.val, classes),
      test=class_subset(ds.test, classes), num_classes=len(classes), class_names=tuple(str(c) for c in classes),
  )


def train_on_dataset(config: ml_collections.ConfigDict, dataset: ImageDataset, num_steps: int, seed: int,
                     init_params: Any = None) -> dict[str, Any]:
  """Train ``config.model`` with ``config.optimizer`` on ``dataset`` for ``num_steps`` compiled
  engine steps; ``init_params`` (a params tree) replaces the initial parameters where its paths
  exist (the head stays freshly initialised). Returns test / val accuracy and the parameters."""
  model = loop.build_model(config.model, dataset.num_classes, "float32")
  tx = optim.make_optimizer(config.optimizer, num_steps)
  example = np.zeros((1, *dataset.image_shape), np.float32)
  state = create_train_state(model, tx, example, seed)
  if init_params is not None:
    params = _graft(state.params, init_params)
    state = state.replace(params=params, opt_state=tx.init(params))
  start_params = jax.tree.map(np.asarray, state.params)
  batch_size = min(config.train.batch_size, len(dataset.train))
  batches = BatchIterator(dataset.train, batch_size, dataset.num_classes, seed=seed, last_batch="pad",
                          image_shape=dataset.image_shape, name="train")
  steps = build_steps("jit")
  device_state = steps.put_state(state)
  for _ in range(num_steps):
    device_state, _ = steps.train(device_state, steps.put_batch(next(batches)))
  final = steps.get_state(device_state)
  evals = {s: loop.evaluate(steps, device_state, dataset.split(s), config.train.eval_batch_size, dataset.num_classes)
           for s in ("train", "val", "test")}
  return {"params": final.params, "start_params": start_params,
          **{f"{s}_accuracy": e["accuracy"] for s, e in evals.items()}}


def _graft(fresh: Any, pretrained: Any) -> Any:
  """``fresh`` with every leaf that also exists (same path, same shape) in ``pretrained`` replaced,
  except the ``head`` (new classes)."""
  out = {}
  for k, v in fresh.items():
    if k == "head" or k not in pretrained:
      out[k] = v
    elif isinstance(v, dict) or hasattr(v, "items"):
      out[k] = _graft(v, pretrained[k])
    else:
      out[k] = pretrained[k] if np.shape(pretrained[k]) == np.shape(v) else v
  return out


def frozen_unchanged(start: Any, final: Any, trainable: Sequence[str]) -> bool:
  """True if every parameter not matched by ``trainable`` is bit-identical after training."""
  import re

  if not trainable:
    return True
  pats = [re.compile(p) for p in trainable]
  ok = True
  for (path, a), b in zip(jax.tree_util.tree_flatten_with_path(start)[0], jax.tree.leaves(final)):
    name = optim.factory.param_path(path)
    if not any(p.search(name) for p in pats):
      ok &= bool(np.array_equal(np.asarray(a), np.asarray(b)))
  return ok


def run_transfer(config: ml_collections.ConfigDict, workdir: str) -> dict[str, Any]:
  """Pretrain on ``config.transfer.source_classes``, then every method x shot count x seed."""
  t = config.transfer
  unknown = [m for m in t.methods if m not in METHODS]
  if unknown:
    raise ConfigError(f"transfer.methods: {unknown[0]!r} is not one of {tuple(METHODS)}")
  if set(t.source_classes) & set(t.target_classes):
    raise ConfigError("transfer.target_classes: must not overlap transfer.source_classes")
  workdir = Path(workdir)
  workdir.mkdir(parents=True, exist_ok=True)
  full = load_dataset(config.data)
  source = subset_dataset(full, t.source_classes, None, config.seed)
  pre = train_on_dataset(config, source, t.pretrain_steps, config.seed)
  results: dict[str, Any] = {"pretrain_test_accuracy_on_source": pre["test_accuracy"], "table": {}}
  for shots in t.shots:
    per_class = None if shots == 0 else int(shots)
    label = "all" if per_class is None else f"{per_class}_per_class"
    row = {}
    for method in t.methods:
      pretrained, trainable = METHODS[method]
      c = ml_collections.ConfigDict(config.to_dict())
      c.optimizer.trainable = trainable
      c.optimizer.learning_rate = float(t.learning_rates[method])
      accs, frozen_ok = [], True
      for s in range(t.num_seeds):
        target = subset_dataset(full, t.target_classes, per_class, config.seed + 1 + s)
        r = train_on_dataset(c, target, t.finetune_steps, config.seed + 1 + s, pre["params"] if pretrained else None)
        accs.append(r["test_accuracy"])
        frozen_ok &= frozen_unchanged(r["start_params"], r["params"], trainable)
      row[method] = {"test_accuracy_mean": float(np.mean(accs)), "test_accuracy_std": float(np.std(accs)),
                     "frozen_parameters_unchanged": frozen_ok, "train_examples": len(target.train)}
    results["table"][label] = row
  (workdir / "transfer.md").write_text(format_table(results["table"], list(t.methods), t.num_seeds))
  return results


def format_table(table: dict[str, Any], methods: list[str], seeds: int) -> str:
  lines = [f"Test accuracy on digits 5-9 (mean +- std over {seeds} seeds)", "",
           "| labelled examples | " + " | ".join(methods) + " |", "|---|" + "---|" * len(methods)]
  for label, row in table.items():
    lines.append(f"| {label} | " + " | ".join(f"{row[m]['test_accuracy_mean']:.3f} +- {row[m]['test_accuracy_std']:.3f}"
                                           for m in methods) + " |")
  return "\n".join(lines) + "\n"
