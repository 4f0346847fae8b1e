"""Checkpoints, through orbax — the only module in the project that imports it.

A checkpoint is one step directory holding two items: ``state`` (a pytree of host arrays: the
TrainState's data, the best-so-far parameters, ...) and ``meta`` (JSON: data-iterator position,
config, best validation accuracy, plus a manifest of every leaf's shape/dtype and a SHA-256 of all
leaf bytes, written by this module).

Guarantees:

- Saves are asynchronous (training continues while orbax writes) and atomic: a process killed
  mid-save leaves a temporary directory that the next start ignores and cleans up.
- Restore checks the manifest before reading any array: a checkpoint of a different model config
  raises :class:`CheckpointError` naming the mismatched leaves (and the config keys that differ).
- A latest checkpoint that cannot be read, or whose bytes no longer match the stored checksum,
  is moved aside into ``<directory>_quarantine/`` (never deleted) with one warning, and the previous
  one is restored — no crash loop, no good checkpoint lost.
- A save that fails (full disk, read-only or vanished directory) raises :class:`StorageError`
  naming the step, the reason and the newest complete checkpoint; :meth:`CheckpointManager.abandon`
  releases orbax's threads on every error path, so a failed process always exits.
- Never more than ``keep`` complete step directories are left (checked after every save).
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import logging
import os
import time
import warnings
from typing import Any

import jax
import numpy as np
import orbax.checkpoint as ocp
from etils import epath

from cs231n_jax.errors import CheckpointError, StorageError

STATE_ITEM = "state"
META_ITEM = "meta"
QUARANTINE_SUFFIX = "_quarantine"
MAX_LISTED_MISMATCHES = 5


def leaf_paths(tree: Any) -> list[tuple[str, Any]]:
  """``(path, leaf)`` pairs with paths like ``state/params/Dense_0/kernel``."""

  def name(key):
    for attr in ("key", "name", "idx"):
      if hasattr(key, attr):
        return str(getattr(key, attr))
    return str(key)

  return [("/".join(name(k) for k in path), leaf) for path, leaf in jax.tree_util.tree_leaves_with_path(tree)]


def manifest(tree: Any) -> dict[str, list]:
  """Every leaf's shape and dtype, by path."""
  return {p: [list(np.shape(x)), str(np.asarray(x).dtype)] for p, x in leaf_paths(tree)}


def checksum(tree: Any) -> str:
  """SHA-256 over every leaf's path, shape, dtype and bytes (host arrays), in path order: a tree
  restored without a template (dicts for dataclass nodes such as a TrainState) sums the same."""
  h = hashlib.sha256()
  for p, x in sorted(leaf_paths(tree), key=lambda pair: pair[0]):
    x = np.ascontiguousarray(np.asarray(x))
    h.update(f"{p}{x.shape}{x.dtype}".encode())
    h.update(x.tobytes())
  return h.hexdigest()


def manifest_mismatches(saved: dict[str, list], wanted: dict[str, list]) -> list[str]:
  """Human-readable differences between a checkpoint's manifest and the target's."""
  out = []
  for p in sorted(set(saved) | set(wanted)):
    if p not in saved:
      out.append(f"{p}: missing in checkpoint")
    elif p not in wanted:
      out.append(f"{p}: not in this model")
    elif saved[p] != wanted[p]:
      (s_shape, s_dtype), (w_shape, w_dtype) = saved[p], wanted[p]
      out.append(f"{p}: checkpoint {tuple(s_shape)} {s_dtype} vs model {tuple(w_shape)} {w_dtype}")
  return out


def flat_config(d: Any, prefix: str = "") -> dict[str, Any]:
  if isinstance(d, dict):
    out = {}
    for k, v in d.items():
      out.update(flat_config(v, f"{prefix}{k}."))
    return out
  return {prefix[:-1]: d}


def config_differences(saved: dict | None, current: dict | None) -> list[str]:
  if not saved or not current:
    return []
  a, b = flat_config(saved), flat_config(current)
  return [f"{k}: {a.get(k)!r} -> {b.get(k)!r}" for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k)]


@contextlib.contextmanager
def without_orbax_notice(prefix: str):
  """Drop absl log records starting with ``prefix`` while the block runs (orbax logs through absl)."""
  class Drop(logging.Filter):
    def filter(self, record):
      return not str(record.getMessage()).startswith(prefix)

  drop, absl_logger = Drop(), logging.getLogger("absl")
  absl_logger.addFilter(drop)
  try:
    yield
  finally:
    absl_logger.removeFilter(drop)


# Phrases of the OS errors behind a failed write, as tensorstore / orbax word them.
STORAGE_REASONS = ("No space left on device", "Read-only file system", "Permission denied", "Disk quota exceeded",
                   "File too large", "Input/output error", "No such file or directory", "Not a directory")


def failure_reason(e: BaseException) -> str:
  """A short reason for a failed save: the OS error where the message carries one."""
  text = str(e)
  for phrase in STORAGE_REASONS:
    if phrase.lower() in text.lower():
      return phrase.lower()
  if isinstance(e, OSError) and e.strerror:
    return e.strerror.lower()
  first = text.strip().splitlines()[0] if text.strip() else ""
  return f"{type(e).__name__}: {first[:200]}"


def nonfinite_leaves(tree: Any) -> list[str]:
  """Paths of the floating-point leaves of ``tree`` (host arrays) holding a NaN or an infinity."""
  out = []
  for p, x in leaf_paths(tree):
    a = np.asarray(x)
    if a.dtype.kind not in "fc":
      if not a.dtype.name.startswith(("bfloat", "float")):  # ml_dtypes (bfloat16, float8): kind 'V'
        continue
      a = a.astype(np.float32)
    if not np.isfinite(a).all():
      out.append(p)
  return out


@dataclasses.dataclass(frozen=True)
class Restored:
  step: int
  tree: Any
  meta: dict[str, Any]


class CheckpointManager:
  """Save and restore ``(tree, meta)`` pairs under ``directory``, keeping the newest ``keep``."""

  def __init__(self, directory: str | epath.PathLike, keep: int = 3, async_save: bool = True,
               read_only: bool = False):
    """``read_only`` (for evaluating a run that may still be training): no directory is created,
    no temporary directory cleaned up, nothing moved; an unreadable checkpoint is only skipped."""
    if keep < 1:
      raise CheckpointError(f"train.keep_checkpoints: expected at least 1, got {keep}")
    # orbax needs absolute paths; remote ones (gs://...) already are.
    self.directory = epath.Path(directory if "://" in str(directory) else os.path.abspath(directory))
    self.quarantine_dir = self.directory.parent / (self.directory.name + QUARANTINE_SUFFIX)
    options = ocp.CheckpointManagerOptions(
        # A reader keeps and saves nothing: say so, rather than have orbax warn that it overrides us.
        max_to_keep=None if read_only else keep,
        save_interval_steps=0 if read_only else 1,
        enable_async_checkpointing=async_save,
        cleanup_tmp_directories=not read_only,  # debris of a save interrupted by a kill
        create=not read_only,
        read_only=read_only,
    )
    self.read_only = read_only
    self.keep = keep
    self._skipped: set[int] = set()
    self._in_flight: int | None = None  # the step whose asynchronous save may still be running
    with without_orbax_notice("Given directory is read only"):  # what read_only asked for, not news
      self._manager = ocp.CheckpointManager(self.directory, options=options, item_names=(STATE_ITEM, META_ITEM))

  def all_steps(self) -> list[int]:
    return sorted(set(self._manager.all_steps()) - self._skipped)

  def latest_step(self) -> int | None:
    steps = self.all_steps()
    return steps[-1] if steps else None

  def save(self, step: int, tree: Any, meta: dict[str, Any]) -> None:
    """Start an asynchronous save of ``tree`` (host arrays) and ``meta`` (JSON-able) at ``step``."""
    if step in self._manager.all_steps():
      return  # already saved (e.g. the final step of a run that is resumed after completion)
    meta = dict(meta, manifest=manifest(tree), checksum=checksum(tree), saved_at=time.time())
    self.wait()  # the previous save's failure is reported as that step's
    try:
      self._in_flight = step
      self._manager.save(
          step,
          args=ocp.args.Composite(**{STATE_ITEM: ocp.args.StandardSave(tree), META_ITEM: ocp.args.JsonSave(meta)}),
          force=True,
      )
    except Exception as e:
      raise self._save_failed(step, e) from e

  def complete_steps(self) -> list[int]:
    """The step directories on disk that orbax finished writing (a failed save leaves a temporary one)."""
    try:
      return sorted(int(p.name) for p in self.directory.iterdir() if p.name.isdigit())
    except OSError:
      return []

  def _save_failed(self, step: int, e: BaseException) -> StorageError:
    done = [s for s in self.complete_steps() if s != step]
    last = f"the newest complete checkpoint is step {done[-1]}" if done else "no complete checkpoint exists yet"
    return StorageError(f"checkpoint step {step} in {self.directory}: save failed ({failure_reason(e)}); {last}")

  def wait(self) -> None:
    """Block until every started save is on disk; a failed one raises :class:`StorageError`."""
    try:
      self._manager.wait_until_finished()
    except Exception as e:
      step, self._in_flight = self._in_flight, None
      raise self._save_failed(step if step is not None else -1, e) from e
    if self._in_flight is not None and not self.read_only:
      self._in_flight = None
      self._enforce_keep()

  def _enforce_keep(self) -> None:
    """Never more than ``keep`` complete checkpoints (orbax's own clean-up, checked)."""
    if jax.process_index() != 0 or "://" in str(self.directory):
      return
    steps = self.complete_steps()
    for step in steps[: max(len(steps) - self.keep, 0)]:
      import shutil

      shutil.rmtree(self.directory / str(step), ignore_errors=True)
    if len(steps) > self.keep:
      self._manager.reload()

  def read_meta(self, step: int) -> dict[str, Any]:
    return self._manager.restore(step, args=ocp.args.Composite(**{META_ITEM: ocp.args.JsonRestore()}))[META_ITEM]

  def restore(self, step: int, template: Any, config: dict | None = None) -> Restored:
    """Restore ``step`` into the structure of ``template`` (host arrays or ShapeDtypeStructs).

    Raises :class:`CheckpointError` if the checkpoint holds a different model; any other failure
    (unreadable files, checksum mismatch) propagates as the exception it is.
    """
    meta = self.read_meta(step)
    problems = manifest_mismatches(meta.get("manifest", {}), manifest(template))
    # Parameters first: the optimizer state and the best-params copy repeat the same shapes.
    problems.sort(key=lambda p: (not p.startswith("state/params/"), not p.startswith("state/"), p))
    if problems:
      more = f" (+{len(problems) - MAX_LISTED_MISMATCHES} more)" if len(problems) > MAX_LISTED_MISMATCHES else ""
      cfg = config_differences(meta.get("config"), config)
      cfg_text = f"; config differs: {', '.join(cfg[:MAX_LISTED_MISMATCHES])}" if cfg else ""
      raise CheckpointError(
          f"checkpoint step {step} in {self.directory} does not fit this model: "
          f"{'; '.join(problems[:MAX_LISTED_MISMATCHES])}{more}{cfg_text}"
      )
    restored = self._manager.restore(
        step, args=ocp.args.Composite(**{STATE_ITEM: ocp.args.StandardRestore(template)})
    )[STATE_ITEM]
    restored = jax.tree.map(np.asarray, restored)
    if checksum(restored) != meta.get("checksum"):
      raise ValueError(f"checkpoint step {step}: array bytes do not match the stored checksum")
    return Restored(step, restored, meta)

  def restore_as_saved(self, step: int) -> Restored:
    """Restore ``step`` with the structure it was saved with (host arrays), for reading another
    run's parameters; the checksum is verified as in :meth:`restore`."""
    meta = self.read_meta(step)
    restored = self._manager.restore(step, args=ocp.args.Composite(**{STATE_ITEM: ocp.args.StandardRestore()}))
    tree = jax.tree.map(np.asarray, restored[STATE_ITEM])
    if checksum(tree) != meta.get("checksum"):
      raise CheckpointError(f"checkpoint step {step} in {self.directory}: array bytes do not match the stored checksum")
    return Restored(step, tree, meta)

  def restore_latest(self, template: Any, config: dict | None = None) -> Restored | None:
    """The newest readable checkpoint, quarantining unreadable ones; None when there is none."""
    for step in reversed(self.all_steps()):
      try:
        return self.restore(step, template, config)
      except CheckpointError:
        raise
      except Exception as e:  # orbax/tensorstore/json raise many types for damaged files
        self.quarantine(step, e)
    return None

  def quarantine(self, step: int, reason: Exception) -> None:
    """Move a damaged step directory aside (never delete it) and forget it."""
    target = self.quarantine_dir / f"{step}-{time.strftime('%Y%m%d-%H%M%S')}"
    message = (f"checkpoint step {step} in {self.directory} is unreadable ({type(reason).__name__}: "
               f"{str(reason)[:200]}); {'skipped' if self.read_only else f'moved to {target}'}, "
               "restoring the previous one")
    warnings.warn(message, RuntimeWarning, stacklevel=2)  # once (not also through absl logging)
    if self.read_only:
      self._skipped.add(step)
      return
    if jax.process_index() == 0:
      self.quarantine_dir.mkdir(parents=True, exist_ok=True)
      if "://" in str(self.quarantine_dir):
        # An object store has no empty folders (mkdir makes nothing), and epath renames only into
        # a folder that exists: give it an object.
        (self.quarantine_dir / "README.txt").write_text("Checkpoint steps that could not be read, moved aside.\n")
      (self.directory / str(step)).rename(target)
    if jax.process_count() > 1:
      from jax.experimental import multihost_utils

      multihost_utils.sync_global_devices(f"quarantine checkpoint {step}")
    self._manager.reload()

  def close(self) -> None:
    """Finish pending saves (raising :class:`StorageError` if one failed) and release orbax's threads."""
    try:
      self.wait()
    finally:
      self.abandon()

  def abandon(self) -> None:
    """Release orbax's threads without raising, on an error path: an unfinished or failed save is
    left as a temporary directory that the next start removes. The process can always exit after."""
    with contextlib.suppress(Exception):
      self._manager.wait_until_finished()
    with contextlib.suppress(Exception):
      self._manager.close()


def save_tree(directory: str | os.PathLike, tree: Any, overwrite: bool = False) -> epath.Path:
  """Write one pytree of arrays as a standalone orbax checkpoint directory (e.g. converted
  pretrained weights); an existing directory is an error unless ``overwrite``."""
  path = epath.Path(directory if "://" in str(directory) else os.path.abspath(directory))
  if path.exists() and not overwrite:
    raise CheckpointError(f"{path}: already exists (pass overwrite to replace it)")
  checkpointer = ocp.StandardCheckpointer()
  checkpointer.save(path, tree, force=overwrite)
  checkpointer.wait_until_finished()
  return path


def load_tree(directory: str | os.PathLike, template: Any) -> Any:
  """Read a checkpoint written by :func:`save_tree` into the structure of ``template``."""
  path = epath.Path(directory if "://" in str(directory) else os.path.abspath(directory))
  if not path.exists():
    raise CheckpointError(f"{path}: no such checkpoint")
  return ocp.StandardCheckpointer().restore(path, template)


def json_safe(tree: Any) -> Any:
  """A JSON round-trip of ``tree`` (tuples become lists), for configs stored in ``meta``."""
  return json.loads(json.dumps(tree, default=str))


def reached_preemption(step: int) -> bool:
  """Whether all processes have reached the step at which to save for a preemption.

  orbax's multi-host sync point (``orbax.checkpoint.multihost.reached_preemption``, JAX's
  preemption service underneath: once any host is sent SIGTERM, every host gets True at the same
  ``step``); JAX's ``multihost_utils.reached_preemption_sync_point`` where orbax lacks it. False
  with one process, and where the preemption service is off. Call it at every step on every host.
  """
  if jax.process_count() == 1:
    return False
  orbax_reached = getattr(getattr(ocp, "multihost", None), "reached_preemption", None)
  if orbax_reached is not None:
    return bool(orbax_reached(step))
  from jax.experimental import multihost_utils

  try:
    return bool(multihost_utils.reached_preemption_sync_point(step))
  except RuntimeError:  # the preemption service is disabled (jax_enable_preemption_service)
    return False
