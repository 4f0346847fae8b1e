"""Metric writers: one JSON line per record (``metrics.jsonl``) and TensorBoard event files.

Only process 0 writes. A resumed run first drops the records a killed run wrote after its last
checkpoint, so the log reads as if the run had never stopped.

A record that is not JSON (the torn last line of a run killed mid-write, or a disk that filled)
is skipped with a warning naming the line; before the log is next rewritten, its damaged original
is kept beside it as ``metrics.jsonl.damaged-<time>``, so no byte is lost silently.

Every file goes through ``etils.epath``, so a workdir may be a local directory or an object store
(``gs://``, with ``cs231n-jax[gcs]``). Object stores cannot append, so the writer keeps the run's
records and writes the whole ``metrics.jsonl`` again at every record, in one write: a store
replaces an object only once its upload is complete, and a local file is written beside the old
one and renamed over it, so a kill at any moment leaves the previous complete file. TensorBoard
events in a local workdir are written by tensorboardX itself; in a remote one through epath too
(:class:`EpathRecordWriter`): the event file is held in memory and uploaded whole at each of
tensorboardX's flushes (every ``TENSORBOARD_FLUSH_SECS`` and at close).
"""

from __future__ import annotations

import io
import json
import os
import time
from typing import Any, Mapping

import jax
import numpy as np
from etils import epath

JSONL_NAME = "metrics.jsonl"
TENSORBOARD_DIR = "tensorboard"
TENSORBOARD_FLUSH_SECS = 120  # tensorboardX's default: a remote event file is uploaded whole this often


def is_remote(path: str | os.PathLike) -> bool:
  """Whether ``path`` names an object store or other non-local filesystem (``gs://...``)."""
  return "://" in os.fspath(path)


def to_python(value: Any) -> Any:
  if isinstance(value, (np.ndarray, np.generic, jax.Array)):
    value = np.asarray(value)
    return value.item() if value.ndim == 0 else value.tolist()
  return value


def read_jsonl_checked(path: str | epath.PathLike) -> tuple[list[dict[str, Any]], list[int]]:
  """``(records, numbers of the lines that are not JSON records)``; those lines are skipped."""
  path = epath.Path(path)
  if not path.exists():
    return [], []
  records, bad = [], []
  for number, line in enumerate(path.read_bytes().decode(errors="replace").splitlines(), start=1):
    if not line.strip():
      continue
    try:
      record = json.loads(line)
    except ValueError:
      bad.append(number)
      continue
    if isinstance(record, dict):
      records.append(record)
    else:
      bad.append(number)
  return records, bad


def read_jsonl(path: str | epath.PathLike) -> list[dict[str, Any]]:
  """The records of a JSONL log; a torn or damaged line is skipped with a warning naming it."""
  records, bad = read_jsonl_checked(path)
  if bad:
    _warn_damaged(path, bad)
  return records


def _warn_damaged(path, bad: list[int]) -> None:
  import warnings

  where = f"its last line ({bad[0]}) is torn" if len(bad) == 1 else f"lines {', '.join(map(str, bad[:5]))} are not JSON"
  warnings.warn(f"{path}: {where} (a run killed while writing it?); skipped", RuntimeWarning, stacklevel=3)


def write_whole(path: str | epath.PathLike, data: str | bytes) -> None:
  """Replace the file at ``path`` with ``data`` in one write that a kill cannot leave half done:
  an object store's upload replaces the object only when complete; a local file is written to a
  temporary name beside it and renamed over it."""
  path = epath.Path(path)
  mode = "wb" if isinstance(data, bytes) else "w"
  if is_remote(path):
    with path.open(mode) as f:
      f.write(data)
    return
  tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
  try:
    with open(tmp, mode) as f:
      f.write(data)
      f.flush()
      os.fsync(f.fileno())  # the new bytes are on disk before the rename makes them the file
    os.replace(tmp, path)
  except BaseException:
    try:
      os.unlink(tmp)  # a full disk leaves no half-written temporary file behind
    except OSError:
      pass
    raise


class EpathRecordWriter:
  """A tensorboardX record writer for any epath location: keeps the event file in memory and
  writes it whole at every flush (object stores cannot append)."""

  def __init__(self, path: str):
    self.path = path
    self.buffer = io.BytesIO()
    self.closed = False

  def write(self, data: bytes) -> None:
    self.buffer.write(data)

  def flush(self) -> None:
    if not self.closed:
      write_whole(self.path, self.buffer.getvalue())

  def close(self) -> None:
    if not self.closed:
      self.flush()
      self.closed = True


class EpathRecordWriterFactory:
  def open(self, path: str) -> EpathRecordWriter:
    return EpathRecordWriter(path)

  def directory_check(self, path: str) -> None:
    epath.Path(path).mkdir(parents=True, exist_ok=True)


def tensorboard_writer(logdir: epath.Path):
  """tensorboardX's SummaryWriter for ``logdir``; a remote one writes through epath."""
  from tensorboardX import SummaryWriter, record_writer

  if is_remote(logdir):
    # tensorboardX picks a writer by the path's scheme; its own gs:// one goes through
    # google-cloud-storage's client instead of epath (and s3:// through boto3).
    record_writer.register_writer_factory(os.fspath(logdir).split("://")[0], EpathRecordWriterFactory())
  return SummaryWriter(os.fspath(logdir), flush_secs=TENSORBOARD_FLUSH_SECS)


def keep_aside(path: epath.Path, why: str) -> epath.Path | None:
  """Copy ``path`` to ``<path>.<why>-<time>`` (never overwriting one); returns the copy's path."""
  path = epath.Path(path)
  if not path.exists():
    return None
  target = path.with_name(f"{path.name}.{why}-{time.strftime('%Y%m%d-%H%M%S')}")
  n = 1
  while target.exists():
    target = path.with_name(f"{path.name}.{why}-{time.strftime('%Y%m%d-%H%M%S')}-{n}")
    n += 1
  write_whole(target, path.read_bytes())
  return target


class MetricWriter:
  """Writes ``{"step", "split", **scalars}`` records to JSONL and TensorBoard.

  The records of the run so far (those already in ``metrics.jsonl`` when it starts, then each
  new one) are kept, and the file is rewritten whole at every :meth:`write`.
  """

  def __init__(self, workdir: str | epath.PathLike, tensorboard: bool = True):
    self.enabled = jax.process_index() == 0
    self.path = epath.Path(workdir) / JSONL_NAME
    self._tb = None
    self._records: list[dict[str, Any]] = []
    if self.enabled:
      self.path.parent.mkdir(parents=True, exist_ok=True)
      self._records, bad = read_jsonl_checked(self.path)
      if bad:  # keep the damaged original beside the log before it is rewritten without those lines
        _warn_damaged(self.path, bad)
        keep_aside(self.path, "damaged")
      if tensorboard:
        self._tb = tensorboard_writer(epath.Path(workdir) / TENSORBOARD_DIR)

  @property
  def records(self) -> list[dict[str, Any]]:
    return list(self._records)

  def flush(self) -> None:
    if self.enabled:
      write_whole(self.path, "".join(json.dumps(r) + "\n" for r in self._records))

  def truncate_after(self, step: int) -> None:
    """Forget records newer than ``step`` (written by a run that died before checkpointing them)."""
    if not self.enabled:
      return
    kept = [r for r in self._records if r.get("step", 0) <= step]
    if len(kept) != len(self._records):
      self._records = kept
      self.flush()

  def write(self, step: int, split: str, scalars: Mapping[str, Any]) -> None:
    if not self.enabled:
      return
    record = {"step": int(step), "split": split, "time": time.time()}
    record.update({k: to_python(v) for k, v in scalars.items()})
    self._records.append(record)
    self.flush()
    if self._tb is not None:
      for k, v in record.items():
        if k not in ("step", "split", "time") and isinstance(v, (int, float)):
          self._tb.add_scalar(f"{split}/{k}", v, int(step))

  def close(self) -> None:
    if self._tb is not None:
      self._tb.close()
      self._tb = None
