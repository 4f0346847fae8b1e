"""``fit``: the train / eval loop every Flax classifier config runs (the default runner).

It ties the rooms together: data source → pipeline (this process's slice of each global batch)
→ compiled step (``jit`` / ``sharded`` / ``pmap``) → metrics (JSONL, TensorBoard, progress bar) and
checkpoints (async, every N steps, with the data-iterator position, PRNG key and config).

Behaviour worth knowing:

- Restarting the same command in the same workdir resumes from the newest readable checkpoint and
  ends bitwise identical to an uninterrupted run (batches, dropout keys and state all come from
  the checkpoint); a finished run reports that it is complete.
- SIGTERM / SIGINT (preemption, Ctrl-C) finish the current step, save, and return with
  ``status="preempted"`` (the CLI exits 0). With several processes, the hosts agree on the step
  through JAX's preemption sync point.
- A NaN or infinite loss raises :class:`TrainingDiverged` naming the step; nothing after the last
  good checkpoint is saved, so that checkpoint is what a restart resumes from. With
  ``train.stop_loss_factor`` (lecture 6's babysitting: 3), so does a loss that many times the
  first step's; ``train.log_update_ratio`` logs each layer's ||update|| / ||weights||.
- The best validation parameters are kept (as the course's Solver keeps ``best_params``), saved in
  every checkpoint, and used for the final test evaluation.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import math
import re
import signal
import sys
import time
from typing import Any

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
from etils import epath

from cs231n_jax.data import load_dataset
from cs231n_jax.data.pipeline import BatchIterator, eval_batches
from cs231n_jax.errors import ConfigError, Cs231nError
from cs231n_jax.models import get_model
from cs231n_jax import optim
from cs231n_jax.train import parallel, report
from cs231n_jax.train.checkpoint import CheckpointManager, json_safe, leaf_paths
from cs231n_jax.train.metrics import MetricWriter, read_jsonl
from cs231n_jax.train.state import TrainState, create_train_state
from cs231n_jax.train.steps import STEP_KINDS, Steps, build_steps, parse_augment, prepare_model

COMPUTE_DTYPES = {"float32": jnp.float32, "bfloat16": jnp.bfloat16}
RESULTS_NAME = "results.json"
CHECKPOINT_DIR = "checkpoints"
CURVES_NAME = "curves.png"
CONFUSION_NAME = "confusion_matrix.png"


class TrainingDiverged(Cs231nError):
  """The loss became NaN or infinite."""


def base_config() -> ml_collections.ConfigDict:
  """Defaults of every field ``fit`` reads; experiment configs start from this and override."""
  c = ml_collections.ConfigDict()
  c.runner = "cs231n_jax.train.loop:fit"
  c.seed = 0
  c.data = ml_collections.ConfigDict(
      {"name": "digits", "view": "8x8x1", "scale": True, "subtract_mean": True, "dir": "",
       "augment": "",  # e.g. "crop(padding=4) | flip": cs231n_jax.data.augment, run on the device
       "classes": (), "train_per_class": 0, "subset_seed": 0}  # subsets: cs231n_jax.data.load_dataset
  )
  c.model = ml_collections.ConfigDict({"name": "three_layer_convnet"})
  c.optimizer = optim.default_config("momentum", 0.1)  # fields: cs231n_jax.optim.factory
  c.train = ml_collections.ConfigDict({
      "batch_size": 128,          # global: split over every device of every process
      "num_epochs": 10,
      "num_steps": 0,             # > 0 overrides num_epochs
      "last_batch": "pad",        # the short last batch of an epoch: "pad" (masked) or "drop"
      "eval_every": 0,            # steps between validations; 0 = once per epoch
      "log_every": 10,            # steps between training-metric records
      "checkpoint_every": 0,      # steps between checkpoints; 0 = at every validation
      "keep_checkpoints": 3,
      "async_checkpoints": True,
      "eval_batch_size": 500,
      "step": "jit",              # "jit" | "sharded" | "pmap"
      "compute_dtype": "float32",  # "bfloat16": bf16 compute, float32 params and optimizer state
      "progress": True,
      # Weight of auxiliary classifiers' losses, for models that sow "aux_logits" (GoogLeNet's
      # paper: 0.3); models without auxiliary heads are unaffected.
      "aux_loss_weight": 0.3,
      # Start a fresh run from the best parameters of an earlier run's workdir (transfer learning):
      # leaves are matched by path; those matching a regex in init_keep_fresh keep this run's
      # initialisation (e.g. "^head/" for a new classifier).
      "init_from": "",
      "init_keep_fresh": (),
      # Babysitting (lecture 6): stop when the training loss exceeds this many times its initial
      # value (the lecture's 3; 0 = only NaN / inf stop a run), and log each layer's
      # ||update|| / ||weights|| (the lecture's ~1e-3) as train metrics update_ratio/<layer>.
      "stop_loss_factor": 0.0,
      "log_update_ratio": False,
  })
  return c


def check_config(config: ml_collections.ConfigDict) -> None:
  """Raise ``ConfigError`` naming the first impossible value."""
  t = config.train

  def positive(name, allow_zero=False):
    v = t[name]
    if not isinstance(v, int) or v < 0 or (v == 0 and not allow_zero):
      raise ConfigError(f"train.{name}: expected a {'non-negative' if allow_zero else 'positive'} integer, got {v!r}")

  positive("batch_size")
  positive("eval_batch_size")
  positive("log_every")
  positive("keep_checkpoints")
  for name in ("num_epochs", "num_steps", "eval_every", "checkpoint_every"):
    positive(name, allow_zero=True)
  if t.num_steps == 0 and t.num_epochs == 0:
    raise ConfigError("train.num_epochs: set num_epochs or num_steps to a positive number")
  if t.step not in STEP_KINDS:
    raise ConfigError(f"train.step: expected one of {STEP_KINDS}, got {t.step!r}")
  if t.compute_dtype not in COMPUTE_DTYPES:
    raise ConfigError(f"train.compute_dtype: expected one of {tuple(COMPUTE_DTYPES)}, got {t.compute_dtype!r}")
  factor = t.get("stop_loss_factor", 0.0)
  if isinstance(factor, bool) or not isinstance(factor, (int, float)) or not (factor == 0 or factor > 1):
    raise ConfigError(f"train.stop_loss_factor: expected 0 (off) or a number > 1, got {factor!r}")
  if "name" not in config.model:
    raise ConfigError("model.name: every config names its model")
  parse_augment(config.data.get("augment", ""))


def build_model(model_config: ml_collections.ConfigDict, num_classes: int, compute_dtype: str):
  kwargs = {k: v for k, v in model_config.items() if k != "name"}
  kwargs = {k: (v.to_dict() if isinstance(v, ml_collections.ConfigDict) else v) for k, v in kwargs.items()}
  try:
    probe = get_model(model_config.name)
  except ValueError as e:
    raise ConfigError(str(e)) from None
  fields = getattr(type(probe), "__dataclass_fields__", {})
  if "num_classes" in fields:
    kwargs.setdefault("num_classes", num_classes)
  if compute_dtype != "float32":
    if "dtype" not in fields:
      raise ConfigError(f"train.compute_dtype: model {model_config.name!r} has no dtype field for {compute_dtype} compute")
    kwargs["dtype"] = COMPUTE_DTYPES[compute_dtype]
  try:
    return get_model(model_config.name, **kwargs)
  except (TypeError, ValueError) as e:
    raise ConfigError(str(e).splitlines()[0]) from None


@contextlib.contextmanager
def preemption_flag():
  """Yields ``flag()``: True once SIGTERM or SIGINT has arrived (handlers restored on exit).

  With several processes, SIGTERM is left to JAX's preemption service (every host must stop at the
  same step), so only SIGINT is caught here.
  """
  received = []
  signals = [signal.SIGINT] if jax.process_count() > 1 else [signal.SIGTERM, signal.SIGINT]
  previous = {}
  try:
    for s in signals:
      previous[s] = signal.signal(s, lambda signum, frame: received.append(signum))
  except ValueError:  # not the main thread (e.g. a notebook worker): no handlers, no flag
    previous = {}
  try:
    yield lambda: bool(received)
  finally:
    for s, h in previous.items():
      signal.signal(s, h)


def should_stop(flag, step: int) -> bool:
  if flag():
    return True
  if jax.process_count() > 1:
    from jax.experimental import multihost_utils

    return multihost_utils.reached_preemption_sync_point(step)
  return False


def evaluate(steps: Steps, device_state, split, batch_size: int, num_classes: int) -> dict[str, Any]:
  """Loss, accuracy and confusion matrix of ``device_state`` on a whole split."""
  total = None
  for batch in eval_batches(split, batch_size, num_classes, jax.process_index(), jax.process_count()):
    sums = steps.get_metrics(steps.evaluate(device_state, steps.put_batch(batch)))
    total = sums if total is None else jax.tree.map(np.add, total, sums)
  count = max(float(total["count"]), 1.0)
  return {"loss": float(total["loss_sum"]) / count, "accuracy": float(total["correct"]) / count,
          "confusion": total["confusion"]}


@dataclasses.dataclass
class Run:
  """What a config builds before any training: data, batches, model, optimizer, initial state."""

  dataset: Any
  train_iter: BatchIterator
  num_steps: int
  state: TrainState  # host (numpy) state, freshly initialised

  def template(self) -> dict[str, Any]:
    """The checkpointed tree's structure: the state's data and the best parameters."""
    return {"state": self.state.data(),
            "best": {"params": self.state.params, "model_state": self.state.model_state}}


def build_run(config: ml_collections.ConfigDict) -> Run:
  check_config(config)
  parallel.initialize()
  t = config.train
  dataset = load_dataset(config.data)
  if t.step != "jit":
    parallel.check_batch_size(t.batch_size)
  train_iter = BatchIterator(
      dataset.train, t.batch_size, dataset.num_classes, seed=config.seed, last_batch=t.last_batch,
      process_index=jax.process_index(), process_count=jax.process_count(),
      image_shape=dataset.image_shape, name="train",
  )
  num_steps = t.num_steps or t.num_epochs * train_iter.steps_per_epoch
  model = prepare_model(build_model(config.model, dataset.num_classes, t.compute_dtype), t.step)
  tx = optim.make_optimizer(config.optimizer, num_steps)
  example = np.zeros((1, *dataset.image_shape), np.float32)
  state = parallel.to_host(create_train_state(model, tx, example, config.seed))
  return Run(dataset, train_iter, num_steps, state)


def init_from_run(state: TrainState, source_workdir: str, keep_fresh=()) -> tuple[TrainState, str]:
  """``state`` with the parameters and model state of ``source_workdir``'s best checkpoint.

  Every leaf is taken from the source at the same path, except those whose path matches a regex in
  ``keep_fresh``; a leaf missing from the source, or of another shape, is an error naming it
  (unless kept fresh). The optimizer state is re-initialised on the new parameters.
  """
  directory = epath.Path(source_workdir) / CHECKPOINT_DIR
  source = CheckpointManager(directory, read_only=True) if directory.exists() else None
  step = source.latest_step() if source else None
  if step is None:
    raise ConfigError(f"train.init_from: no checkpoint in {directory}")
  saved = source.restore_as_saved(step).tree["best"]
  source.close()
  fresh = [re.compile(p) for p in keep_fresh]
  counts = {"copied": 0, "fresh": 0}

  def graft(tree, collection):
    """``tree`` with each leaf replaced by the saved leaf at the same path (relative to the
    collection, as in the optimizer's ``trainable`` / ``frozen`` patterns)."""
    available = dict(leaf_paths(saved[collection]))

    def take(path, leaf):
      if any(p.search(path) for p in fresh):
        counts["fresh"] += 1
        return leaf
      if path not in available:
        raise ConfigError(f"train.init_from: {collection} {path} is not in {directory}; "
                          "add a pattern for it to train.init_keep_fresh")
      if available[path].shape != np.shape(leaf):
        raise ConfigError(f"train.init_from: {collection} {path} is {available[path].shape} there, "
                          f"{np.shape(leaf)} here; add a pattern for it to train.init_keep_fresh")
      counts["copied"] += 1
      return available[path].astype(np.asarray(leaf).dtype)

    pairs = leaf_paths(tree)
    return jax.tree.unflatten(jax.tree.structure(tree), [take(p, x) for p, x in pairs])

  params = graft(state.params, "params")
  state = state.replace(params=params, model_state=graft(state.model_state, "model_state"),
                        opt_state=parallel.to_host(state.tx.init(params)))
  return state, (f"initialised {counts['copied']} arrays from {directory} (step {step}); "
                 f"kept fresh: {counts['fresh']}")


def fit(config: ml_collections.ConfigDict, workdir: str) -> dict[str, Any]:
  """Train ``config.model`` on ``config.data`` in ``workdir``; returns the final results."""
  run = build_run(config)
  t = config.train
  workdir = epath.Path(workdir)
  is_main = jax.process_index() == 0
  dataset, train_iter, num_steps, state = run.dataset, run.train_iter, run.num_steps, run.state
  steps_per_epoch = train_iter.steps_per_epoch
  eval_every = t.eval_every or steps_per_epoch
  checkpoint_every = t.checkpoint_every or eval_every

  best = {"params": state.params, "model_state": state.model_state}
  best_val, best_step = -1.0, 0
  initial_loss = None  # the first step's training loss (train.stop_loss_factor)

  config_json = json_safe(config.to_dict())
  checkpoints = CheckpointManager(workdir / CHECKPOINT_DIR, keep=t.keep_checkpoints, async_save=t.async_checkpoints)
  restored = checkpoints.restore_latest(run.template(), config=config_json)
  if restored is not None:
    state = state.replace(**restored.tree["state"])
    best = restored.tree["best"]
    best_val, best_step = restored.meta["best_val_accuracy"], restored.meta["best_step"]
    initial_loss = restored.meta.get("initial_loss")
    train_iter.restore(restored.meta["data_iterator"])
  elif t.init_from:
    state, message = init_from_run(state, t.init_from, t.init_keep_fresh)
    best = {"params": state.params, "model_state": state.model_state}
    if is_main:
      print(message)
  start = int(state.step)
  writer = MetricWriter(workdir)
  writer.truncate_after(start)
  if is_main:
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "config.json").write_text(json.dumps(config_json, indent=2))

  stop_factor = t.get("stop_loss_factor", 0.0)
  steps = build_steps(t.step, augment_ops=parse_augment(config.data.get("augment", "")),
                      aux_loss_weight=t.aux_loss_weight, log_update_ratio=t.get("log_update_ratio", False))
  status = "complete" if start >= num_steps else "trained"
  if start >= num_steps and is_main:
    print(f"run in {workdir} is complete ({start} of {num_steps} steps); evaluating its best parameters")
  elif start and is_main:
    print(f"resuming from step {start} of {num_steps} ({workdir / CHECKPOINT_DIR})")

  def save(step, device_state):
    checkpoints.save(step, {"state": steps.get_state(device_state).data(), "best": best}, {
        "data_iterator": train_iter.state(), "config": config_json, "best_val_accuracy": best_val,
        "best_step": best_step, "num_steps": num_steps, "initial_loss": window["initial_loss"],
    })

  device_state = steps.put_state(state)
  window = {"loss": 0.0, "accuracy": 0.0, "n": 0, "t0": time.time(), "update_ratio": {},
            "initial_loss": initial_loss}
  wall_start = time.time()

  def diverged(message):
    checkpoints.wait()
    last = checkpoints.latest_step()
    kept = f"the last good checkpoint (step {last}) is kept in {checkpoints.directory}" if last else "no checkpoint was written"
    return TrainingDiverged(f"{message}; training stopped and {kept}")

  def record(step, metrics):
    """Check one step's metrics (host values) and add them to the logging window."""
    loss = float(metrics["loss"])
    if not math.isfinite(loss):
      raise diverged(f"loss is {loss} at step {step}")
    if window["initial_loss"] is None:
      window["initial_loss"] = loss  # the run's first step (kept in the checkpoints for a resumed run)
    if stop_factor and loss > stop_factor * window["initial_loss"]:
      raise diverged(f"loss {loss:.4g} at step {step} is more than train.stop_loss_factor = {stop_factor:g} "
                     f"times its initial {window['initial_loss']:.4g}")
    window["loss"] += loss
    window["accuracy"] += float(metrics["accuracy"])
    for layer, ratio in metrics.get("update_ratio", {}).items():
      window["update_ratio"][layer] = window["update_ratio"].get(layer, 0.0) + float(ratio)
    window["n"] += 1

  progress = None
  if is_main and t.progress and start < num_steps:
    from tqdm.auto import tqdm

    progress = tqdm(total=num_steps, initial=start, desc="train", unit="step", mininterval=1.0,
                    dynamic_ncols=True, file=sys.stderr)

  pending = None  # (step, device metrics) read one step late, so the host never stalls the device
  try:
    with preemption_flag() as preempted:
      for step in range(start + 1, num_steps + 1):
        batch = train_iter.__next__()
        device_state, metrics = steps.train(device_state, steps.put_batch(batch))
        if pending is not None:
          record(pending[0], steps.get_metrics(pending[1]))
          pending = None
        stop = should_stop(preempted, step)
        log_now = step % t.log_every == 0
        eval_now = step % eval_every == 0 or step == num_steps
        save_now = step % checkpoint_every == 0 or step == num_steps or stop
        if log_now or eval_now or save_now:
          record(step, steps.get_metrics(metrics))  # a sync point: check before saving
        else:
          pending = (step, metrics)
        if progress is not None:
          progress.update(1)
        if log_now:
          elapsed = max(time.time() - window["t0"], 1e-9)
          n = window["n"]
          train_metrics = {"loss": window["loss"] / n, "accuracy": window["accuracy"] / n,
                           "examples_per_sec": n * t.batch_size / elapsed, "epoch": step / steps_per_epoch,
                           **{f"update_ratio/{k}": v / n for k, v in window["update_ratio"].items()}}
          writer.write(step, "train", train_metrics)
          if progress is not None:
            progress.set_postfix(loss=f"{train_metrics['loss']:.4f}", ex_per_s=f"{train_metrics['examples_per_sec']:.0f}")
          window.update(loss=0.0, accuracy=0.0, n=0, t0=time.time(), update_ratio={})
        if eval_now:
          val = evaluate(steps, device_state, dataset.val, t.eval_batch_size, dataset.num_classes)
          writer.write(step, "val", {"loss": val["loss"], "accuracy": val["accuracy"]})
          if val["accuracy"] > best_val:
            best_val, best_step = val["accuracy"], step
            host = steps.get_state(device_state)
            best = {"params": host.params, "model_state": host.model_state}
        if save_now:
          save(step, device_state)
        if stop:
          status = "preempted"
          break
  except TrainingDiverged:
    # Nothing after the last good checkpoint is saved; release the files before reporting.
    for resource in (progress, checkpoints, writer):
      if resource is not None:
        resource.close()
    raise
  if progress is not None:
    progress.close()
  checkpoints.wait()
  final_step = int(steps.get_state(device_state).step)

  if status == "preempted":
    checkpoints.close()
    writer.close()
    if is_main:
      print(f"preempted: saved step {final_step} in {checkpoints.directory}; run the same command to resume")
    return {"status": status, "step": final_step}

  best_state = steps.put_state(state.replace(params=best["params"], model_state=best["model_state"]))
  results = {"status": status, "steps": num_steps, "best_step": best_step}
  for name in ("train", "val", "test"):
    r = evaluate(steps, best_state, dataset.split(name), t.eval_batch_size, dataset.num_classes)
    results[f"{name}_accuracy"], results[f"{name}_loss"] = r["accuracy"], r["loss"]
    if name == "test":
      confusion = r["confusion"]
  results["wall_time_s"] = time.time() - wall_start
  checkpoints.close()
  writer.close()
  if is_main:
    (workdir / RESULTS_NAME).write_text(json.dumps(results, indent=2))
    report.plot_curves(read_jsonl(writer.path), workdir / CURVES_NAME)
    report.plot_confusion(confusion, dataset.class_names, workdir / CONFUSION_NAME)
    print(report.summary_table([
        ("model", config.model.name), ("data", dataset.name), ("steps", num_steps),
        ("best step (val)", best_step), ("train accuracy", results["train_accuracy"]),
        ("val accuracy", results["val_accuracy"]), ("test accuracy", results["test_accuracy"]),
        ("test loss", results["test_loss"]), ("workdir", str(workdir)),
    ]))
  return results



def evaluate_run(config: ml_collections.ConfigDict, workdir: str, split: str = "test") -> dict[str, Any]:
  """Evaluate the best parameters of the newest checkpoint in ``workdir`` on ``split``."""
  run = build_run(config)
  t = config.train
  directory = epath.Path(workdir) / CHECKPOINT_DIR
  if not directory.exists():
    raise ConfigError(f"--workdir: no checkpoints in {directory}")
  checkpoints = CheckpointManager(directory, keep=t.keep_checkpoints, read_only=True)
  restored = checkpoints.restore_latest(run.template(), config=json_safe(config.to_dict()))
  checkpoints.close()
  if restored is None:
    raise ConfigError(f"--workdir: no readable checkpoint in {directory}")
  best = restored.tree["best"]
  steps = build_steps(t.step)
  device_state = steps.put_state(run.state.replace(params=best["params"], model_state=best["model_state"]))
  r = evaluate(steps, device_state, run.dataset.split(split), t.eval_batch_size, run.dataset.num_classes)
  return {"split": split, "checkpoint_step": restored.step, "best_step": restored.meta["best_step"],
          "accuracy": r["accuracy"], "loss": r["loss"]}
