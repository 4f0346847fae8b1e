"""``fit``: the one train / eval loop, for every task (:mod:`cs231n_jax.train.task`).

It ties the rooms together: the task's data (this process's slice of each global batch) → the
compiled step (``jit`` / ``sharded`` / ``pmap``) → metrics (JSONL, TensorBoard, progress bar) and
checkpoints (async, every N steps, with the data-iterator position, PRNG key and config). The
caller chooses the model and builds the task; this module knows no model and no lecture area.

Behaviour worth knowing:

- Restarting the same command in the same workdir resumes from the newest readable checkpoint and
  ends bitwise identical to an uninterrupted run (batches, keys and state all come from the
  checkpoint); a finished run reports that it is complete.
- SIGTERM / SIGINT (preemption, Ctrl-C) finish the current step, save, and return with
  ``status="preempted"`` (the CLI exits 0). With several processes, the hosts agree on the step
  through JAX's preemption sync point.
- A NaN or infinite loss raises :class:`TrainingDiverged` naming the step; nothing after the last
  good checkpoint is saved, so that checkpoint is what a restart resumes from. Before every save the
  parameters and optimizer state are checked too (a learning rate can overflow the weights while
  the step's loss, computed before the update, is still finite): the error names the non-finite leaves.
- One run per workdir (a lock naming the holder's host and PID); a signal during start-up or the final
  evaluation stops the run like one during training; on every error path orbax's threads are
  released, so the process exits. docs/reliability.md lists every promise with its test. With
  ``train.stop_loss_factor`` (lecture 6's babysitting: 3), so does a loss that many times the
  first step's.
- ``train.patience`` stops a run (``status="stopped_early"``) after that many validations without
  improvement: early stopping, never looking at the test set.
- The best state by the task's metric on ``val`` (``train.best_metric`` / ``train.best_mode``
  override the task's) is kept (as the course's Solver keeps ``best_params``), saved in every
  checkpoint, and used for the final evaluation of every split.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import math
import signal
import sys
import time
import warnings
from typing import Any, Iterable, Mapping

import jax
import ml_collections
import numpy as np
from etils import epath

from cs231n_jax.errors import ConfigError, Cs231nError
from cs231n_jax.train import lock as workdir_lock
from cs231n_jax.train import parallel, report
from cs231n_jax.train.checkpoint import CheckpointManager, config_differences, json_safe, nonfinite_leaves
from cs231n_jax.train.metrics import JSONL_NAME, MetricWriter, keep_aside, read_jsonl, write_whole
from cs231n_jax.train.steps import STEP_KINDS, Steps, build_steps, engine_state, init_key
from cs231n_jax.train.task import MODES, Batch, Data, Task

RESULTS_NAME = "results.json"
CHECKPOINT_DIR = "checkpoints"
CURVES_NAME = "curves.png"


class TrainingDiverged(Cs231nError):
  """The loss became NaN or infinite."""


def engine_config() -> ml_collections.ConfigDict:
  """Defaults of every ``config.train`` field ``fit`` reads; a task's base config adds its own."""
  return ml_collections.ConfigDict({
      "batch_size": 128,          # global: split over every device of every process
      "num_epochs": 10,
      "num_steps": 0,             # > 0 overrides num_epochs
      "eval_every": 0,            # steps between validations; 0 = once per epoch
      "log_every": 10,            # steps between training-metric records
      "checkpoint_every": 0,      # steps between checkpoints; 0 = at every validation
      "keep_checkpoints": 3,
      "async_checkpoints": True,
      "eval_batch_size": 500,
      "step": "jit",              # "jit" | "sharded" | "pmap" | "host" (a step that is not compiled)
      "progress": True,
      "best_metric": "",          # "" = the task's (e.g. accuracy, bits_per_char)
      "best_mode": "",            # "" = the task's; "max" | "min"
      "patience": 0,              # stop after this many validations without improvement (0 = never)
      # Babysitting (lecture 6): stop when the training loss exceeds this many times its initial
      # value (the lecture's 3; 0 = only NaN / inf stop a run).
      "stop_loss_factor": 0.0,
  })


def check_engine_config(t: ml_collections.ConfigDict) -> None:
  """Raise ``ConfigError`` naming the first impossible ``train.*`` value the engine reads."""

  def positive(name, allow_zero=False):
    v = t[name]
    if isinstance(v, bool) or not isinstance(v, int) or v < 0 or (v == 0 and not allow_zero):
      raise ConfigError(f"train.{name}: expected a {'non-negative' if allow_zero else 'positive'} integer, got {v!r}")

  for name in ("batch_size", "eval_batch_size", "log_every", "keep_checkpoints"):
    positive(name)
  for name in ("num_epochs", "num_steps", "eval_every", "checkpoint_every"):
    positive(name, allow_zero=True)
  if "patience" in t:
    positive("patience", allow_zero=True)
  if t.num_steps == 0 and t.num_epochs == 0:
    raise ConfigError("train.num_epochs: set num_epochs or num_steps to a positive number")
  if t.step not in STEP_KINDS:
    raise ConfigError(f"train.step: expected one of {STEP_KINDS}, got {t.step!r}")
  factor = t.get("stop_loss_factor", 0.0)
  if isinstance(factor, bool) or not isinstance(factor, (int, float)) or not (factor == 0 or factor > 1):
    raise ConfigError(f"train.stop_loss_factor: expected 0 (off) or a number > 1, got {factor!r}")
  mode = t.get("best_mode", "")
  if mode and mode not in MODES:
    raise ConfigError(f"train.best_mode: expected one of {MODES} (or '' for the task's), got {mode!r}")


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
  # With several processes every host must stop at the same step: orbax's preemption sync point.
  return flag() or parallel.reached_preemption(step)


def evaluate(steps: Steps, device_state, batches: Iterable[Batch], task: Task, interrupted=None) -> dict[str, Any]:
  """The task's summarized metrics of ``device_state`` over ``batches`` (one pass of a split);
  ``interrupted()`` True (a signal) stops it between batches."""
  total = None
  for batch in batches:
    if interrupted is not None and interrupted():
      raise _StopEvaluation()
    sums = steps.get_metrics(steps.evaluate(device_state, steps.put_batch(batch)))
    total = sums if total is None else jax.tree.map(np.add, total, sums)
  if total is None:
    raise ConfigError("data: an evaluation split gave no batches")
  return task.summarize(total)


def scalars(values: Mapping[str, Any], prefix: str = "") -> dict[str, float]:
  """The scalar leaves of a (nested) metrics dict as ``{"a/b": float}``; arrays are left out."""
  out = {}
  for k, v in values.items():
    if isinstance(v, Mapping):
      out.update(scalars(v, f"{prefix}{k}/"))
    elif np.ndim(v) == 0:
      out[f"{prefix}{k}"] = float(v)
  return out


def best_settings(task: Task, t: ml_collections.ConfigDict) -> tuple[str, Task]:
  """The metric that picks the best state and the task with the config's mode, if any."""
  metric = t.get("best_metric", "") or task.metric
  mode = t.get("best_mode", "") or task.mode
  return metric, dataclasses.replace(task, metric=metric, mode=mode)


def checkpoint_template(task: Task, data: Data, config: ml_collections.ConfigDict) -> dict[str, Any]:
  """The structure of a run's checkpoints, from a fresh initialisation: ``{"state": the engine
  state (step, rng, task), "best": task.best(task state)}`` (host arrays)."""
  state = engine_state(parallel.to_host(task.init(init_key(config.seed), data.example)), config.seed)
  return {"state": state, "best": task.best(state["task"])}


class _StopEvaluation(Exception):
  """A signal arrived during the final evaluation."""


def fit(task: Task, data: Data, config: ml_collections.ConfigDict, workdir: str | epath.PathLike) -> dict[str, Any]:
  """Train ``task`` on ``data`` as ``config.train`` says, in ``workdir``; returns the final results.

  ``results`` holds ``status``, ``steps``, ``best_step``, ``wall_time_s``, ``<split>_<metric>`` of
  the best state for every evaluation split, and whatever ``task.finish`` adds.

  The workdir is locked for the whole call (:mod:`cs231n_jax.train.lock`); SIGTERM / SIGINT are
  caught for the whole call too, so a signal during start-up or the final evaluation stops the run
  as one during training does (``status="preempted"``, nothing lost).
  """
  t = config.train
  check_engine_config(t)
  metric, task = best_settings(task, t)
  workdir = epath.Path(workdir)
  held = workdir_lock.acquire(workdir, jax.process_index(), jax.process_count())
  try:
    with preemption_flag() as preempted:
      return _fit(task, data, config, workdir, metric, preempted)
  finally:
    workdir_lock.release(held)


def _init_failed(config: ml_collections.ConfigDict, e: Exception) -> ConfigError:
  """A one-line error for a model that cannot be initialised, naming suspicious model.* values."""

  def negatives(node, prefix):
    for k, v in (node.items() if isinstance(node, Mapping) else []):
      if isinstance(v, Mapping):
        yield from negatives(v, f"{prefix}{k}.")
      elif isinstance(v, (tuple, list)) and any(isinstance(x, int) and not isinstance(x, bool) and x < 0 for x in v):
        yield f"{prefix}{k} = {tuple(v)}"
      elif isinstance(v, int) and not isinstance(v, bool) and v < 0:
        yield f"{prefix}{k} = {v}"

  model = config.get("model")
  found = list(negatives(model.to_dict() if model is not None else {}, "model."))
  hint = f"; negative sizes: {', '.join(found)} (expected positive integers)" if found else "; check the model.* settings"
  first = (str(e).strip().splitlines() or [""])[0][:300]
  return ConfigError(f"model: initialisation failed ({type(e).__name__}: {first}){hint}")


def total_steps(t: ml_collections.ConfigDict, steps_per_epoch: int) -> int:
  """The run's length in steps: ``train.num_steps`` when set, else ``train.num_epochs`` whole epochs.
  Tasks size their learning-rate schedules with it, so it must be the same number ``fit`` runs."""
  return t.num_steps or t.num_epochs * steps_per_epoch


def _fit(task: Task, data: Data, config: ml_collections.ConfigDict, workdir: epath.Path, metric: str,
         preempted) -> dict[str, Any]:
  t = config.train
  is_main = jax.process_index() == 0
  train_iter = data.train
  steps_per_epoch = train_iter.steps_per_epoch
  num_steps = total_steps(t, steps_per_epoch)
  eval_every = t.eval_every or steps_per_epoch
  checkpoint_every = t.checkpoint_every or eval_every
  has_val = "val" in data.eval and task.eval_step is not None

  try:
    template = checkpoint_template(task, data, config)
  except Cs231nError:
    raise
  except Exception as e:  # e.g. a negative width: flax / jax raise many types from deep inside
    raise _init_failed(config, e) from e
  state, best = template["state"], template["best"]
  best_value, best_step = None, 0
  initial_loss = None  # the first step's training loss (train.stop_loss_factor)
  log_window = {"sums": {}, "n": 0}  # training metrics since the last log record

  config_json = json_safe(config.to_dict())
  checkpoints = CheckpointManager(workdir / CHECKPOINT_DIR, keep=t.keep_checkpoints,
                                  async_save=t.get("async_checkpoints", True))
  writer = progress = None
  try:
    had_checkpoints = checkpoints.all_steps()
    restored = checkpoints.restore_latest(template, config=config_json)
    if restored is not None:
      state, best = restored.tree["state"], restored.tree["best"]
      best_value, best_step = restored.meta["best_value"], restored.meta["best_step"]
      initial_loss = restored.meta.get("initial_loss")
      log_window = restored.meta.get("log_window") or log_window
      train_iter.restore(restored.meta["data_iterator"])
      if is_main:
        _report_config_changes(restored, config_json, num_steps)
    else:
      if had_checkpoints and is_main:
        kept = keep_aside(workdir / JSONL_NAME, "before-restart")
        old = f"; the old metrics log is kept as {kept}" if kept else ""
        warnings.warn(f"every checkpoint in {checkpoints.directory} (steps {had_checkpoints}) is unreadable and was "
                      f"moved to {checkpoints.quarantine_dir}: training starts again from step 0{old}",
                      RuntimeWarning, stacklevel=2)
      if task.start is not None:
        state = {**state, "task": parallel.to_host(task.start(state["task"]))}
        best = task.best(state["task"])
    start = int(state["step"])
    writer = MetricWriter(workdir)
    writer.truncate_after(start)
    if is_main:
      workdir.mkdir(parents=True, exist_ok=True)
      write_whole(workdir / "config.json", json.dumps(config_json, indent=2))

    stop_factor = t.get("stop_loss_factor", 0.0)
    patience = t.get("patience", 0)
    steps = build_steps(task, t.step)
    status = "complete" if start >= num_steps or (restored is not None and restored.meta.get("stopped_early")) else "trained"
    if start >= num_steps and is_main:
      print(f"run in {workdir} is complete ({start} of {num_steps} steps); evaluating its best state")
    elif start and is_main:
      print(f"resuming from step {start} of {num_steps} ({workdir / CHECKPOINT_DIR})")

    def save(step, device_state):
      nonlocal best
      host = steps.get_state(device_state)
      # "Last good" must be good: the loss checked at this step was computed before its update.
      bad = nonfinite_leaves({"state": host["task"], "best": best})
      if bad:
        more = f" (+{len(bad) - 5} more)" if len(bad) > 5 else ""
        raise diverged(f"parameters are not finite after step {step} ({', '.join(bad[:5])}{more}) although the "
                       "step's loss was; nothing after the previous checkpoint is saved")
      if not has_val:  # nothing to choose by: the newest state is the best one
        best = task.best(host["task"])
      checkpoints.save(step, {"state": host, "best": best}, {
          "data_iterator": train_iter.state(), "config": config_json, "best_value": best_value,
          "best_metric": metric, "best_step": best_step, "num_steps": num_steps,
          "initial_loss": window["initial_loss"], "stopped_early": status == "stopped_early",
          "log_window": {"sums": dict(window["sums"]), "n": window["n"]},  # a copy: an async save writes it later
      })

    device_state = steps.put_state(state)
    window = {"sums": dict(log_window["sums"]), "n": int(log_window["n"]), "t0": time.time(), "initial_loss": initial_loss}
    wall_start = time.time()

    def diverged(message):
      checkpoints.wait()
      last = checkpoints.latest_step()
      kept = f"the last good checkpoint (step {last}) is kept in {checkpoints.directory}" if last else "no checkpoint was written"
      return TrainingDiverged(f"{message}; training stopped and {kept}")

    def record(step, metrics):
      """Check one step's metrics (host values) and add them to the logging window."""
      values = scalars(metrics)
      loss = values.get("loss", 0.0)
      if not math.isfinite(loss):
        raise diverged(f"loss is {loss} at step {step}")
      if window["initial_loss"] is None:
        window["initial_loss"] = loss  # the run's first step (kept in the checkpoints for a resumed run)
      if stop_factor and loss > stop_factor * window["initial_loss"]:
        raise diverged(f"loss {loss:.4g} at step {step} is more than train.stop_loss_factor = {stop_factor:g} "
                       f"times its initial {window['initial_loss']:.4g}")
      for k, v in values.items():
        window["sums"][k] = window["sums"].get(k, 0.0) + v
      window["n"] += 1

    log_lines = is_main and t.progress and not sys.stderr.isatty()
    if is_main and t.progress and start < num_steps and not log_lines and status == "trained" and not preempted():
      from tqdm.auto import tqdm

      progress = tqdm(total=num_steps, initial=start, desc="train", unit="step", mininterval=1.0,
                      dynamic_ncols=True, file=sys.stderr)

    def say(line):
      """A progress or evaluation line: above the bar on a terminal, a plain line elsewhere."""
      if progress is not None:
        progress.write(line, file=sys.stderr)
      elif log_lines:
        print(line, file=sys.stderr, flush=True)

    if preempted() and status == "trained":  # a signal during start-up: stop before the first step
      status = "preempted"
    first_step_s = None  # this process's first call of the train step: its compile time, for a compiled step
    pending = None  # (step, device metrics) read one step late, so the host never stalls the device
    for step in range(start + 1, num_steps + 1 if status == "trained" else start + 1):
      batch = next(train_iter)
      called = time.time()
      device_state, metrics = steps.train(device_state, steps.put_batch(batch))
      if first_step_s is None:  # tracing and compiling happen inside the first call; running it is asynchronous
        first_step_s = time.time() - called
      if pending is not None:
        record(pending[0], steps.get_metrics(pending[1]))
        pending = None
      stop = should_stop(preempted, step)
      log_now = step % t.log_every == 0
      eval_now = has_val and (step % eval_every == 0 or step == num_steps)
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
        train_metrics = {**{k: v / n for k, v in window["sums"].items()},
                         "examples_per_sec": n * data.batch_size / elapsed, "epoch": step / steps_per_epoch}
        writer.write(step, "train", train_metrics)
        if progress is not None:
          progress.set_postfix(loss=f"{train_metrics.get('loss', float('nan')):.4f}",
                               ex_per_s=f"{train_metrics['examples_per_sec']:.0f}")
        else:
          say(f"step {step}/{num_steps} (epoch {step / steps_per_epoch:.2f}): "
              f"loss {train_metrics.get('loss', float('nan')):.4f}, {train_metrics['examples_per_sec']:.0f} examples/s")
        window.update(sums={}, n=0, t0=time.time())
      if eval_now:
        val = scalars(evaluate(steps, device_state, data.eval["val"](), task))
        writer.write(step, "val", val)
        say(f"step {step}/{num_steps} val: " + ", ".join(f"{k} {v:.4f}" for k, v in sorted(val.items())))
        if metric not in val:
          raise ConfigError(f"train.best_metric: the evaluation gives {sorted(val)}, not {metric!r}")
        if task.improved(val[metric], best_value):
          best_value, best_step = val[metric], step
          best = task.best(steps.get_state(device_state)["task"])
        elif patience and (step - best_step) // eval_every >= patience:
          status, stop, save_now = "stopped_early", True, True
      if save_now:
        save(step, device_state)
      if stop:
        status = "stopped_early" if status == "stopped_early" else "preempted"
        break
    if progress is not None:
      progress.close()
      progress = None
    checkpoints.wait()
    host_state = steps.get_state(device_state)
    final_step = int(host_state["step"])

    if status == "preempted":
      checkpoints.close()
      writer.close()
      if is_main:
        saved = f"saved step {final_step} in {checkpoints.directory}" if final_step else "nothing to save yet"
        print(f"preempted: {saved}; run the same command to resume")
      return {"status": status, "step": final_step}

    if not has_val:
      best, best_step = task.best(host_state["task"]), final_step
    best_task_state = task.with_best(host_state["task"], best)
    results: dict[str, Any] = {"status": status, "steps": num_steps, "best_step": best_step}
    if first_step_s is not None:
      results["first_step_s"] = first_step_s
    evals = {}
    try:
      if task.eval_step is not None:
        best_device_state = steps.put_state({**host_state, "task": best_task_state})
        for name, batches in data.eval.items():
          evals[name] = evaluate(steps, best_device_state, batches(), task, interrupted=preempted)
          results.update({f"{name}_{k}": v for k, v in scalars(evals[name]).items()})
    except _StopEvaluation:
      checkpoints.close()
      writer.close()
      if is_main:
        print(f"preempted during the final evaluation: step {final_step} is saved in {checkpoints.directory}; "
              "run the same command to finish")
      return {"status": "preempted", "step": final_step}
    checkpoints.close()
    writer.close()
  except BaseException:
    # Nothing after the last good checkpoint is saved; release the files and orbax's threads
    # (abandon never raises, so the original error is what is reported and the process exits).
    if progress is not None:
      with contextlib.suppress(Exception):
        progress.close()
    checkpoints.abandon()
    if writer is not None:
      with contextlib.suppress(Exception):
        writer.close()
    raise
  if task.finish is not None:
    results.update(task.finish(best_task_state, evals, workdir) or {})
  results["wall_time_s"] = time.time() - wall_start
  if is_main:
    write_whole(workdir / RESULTS_NAME, json.dumps(results, indent=2, default=float))
    report.plot_curves(read_jsonl(writer.path), workdir / CURVES_NAME, ("loss", metric))
  return results


def _report_config_changes(restored, config_json: dict, num_steps: int) -> None:
  """Say which config fields differ from the checkpoint's run (compatible ones: the model fits)."""
  changes = config_differences(restored.meta.get("config"), config_json)
  if not changes:
    return
  saved_steps = restored.meta.get("num_steps")
  schedule = ""
  if saved_steps is not None and saved_steps != num_steps:
    schedule = (f"; train.num_steps / train.num_epochs: this run has {num_steps} steps, the checkpoint's run had "
                f"{saved_steps}: a schedule that depends on the run's length (warm-up, cosine, step decay) "
                "now differs from the one its first steps were trained with")
  more = f" (+{len(changes) - 8} more)" if len(changes) > 8 else ""
  warnings.warn(f"resuming from step {restored.step} with a changed config: {', '.join(changes[:8])}{more}{schedule}",
                UserWarning, stacklevel=3)


def restore_best(task: Task, data: Data, config: ml_collections.ConfigDict, workdir: str | epath.PathLike):
  """``(task state with the best part restored, checkpoint step, its metadata)`` of the newest
  readable checkpoint in ``workdir`` (host arrays)."""
  directory = epath.Path(workdir) / CHECKPOINT_DIR
  if not directory.exists():
    raise ConfigError(f"--workdir: no checkpoints in {directory}")
  checkpoints = CheckpointManager(directory, keep=config.train.keep_checkpoints, read_only=True)
  try:
    restored = checkpoints.restore_latest(checkpoint_template(task, data, config), config=json_safe(config.to_dict()))
  finally:
    checkpoints.close()
  if restored is None:
    raise ConfigError(f"--workdir: no readable checkpoint in {directory}")
  task_state = task.with_best(restored.tree["state"]["task"], restored.tree["best"])
  return {**restored.tree["state"], "task": task_state}, restored.step, restored.meta


def evaluate_run(task: Task, data: Data, config: ml_collections.ConfigDict, workdir: str | epath.PathLike,
                 split: str = "test") -> dict[str, Any]:
  """The task's metrics of the best state of the newest checkpoint in ``workdir`` on ``split``."""
  if split not in data.eval:
    raise ConfigError(f"--split: expected one of {tuple(data.eval)}, got {split!r}")
  state, step, meta = restore_best(task, data, config, workdir)
  steps = build_steps(task, config.train.step)
  values = evaluate(steps, steps.put_state(state), data.eval[split](), task)
  return {"split": split, "checkpoint_step": step, "best_step": meta["best_step"], **scalars(values)}
