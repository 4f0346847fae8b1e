"""Metric writers: one JSON line per record (``metrics.jsonl``) and TensorBoard event files.

Only process 0 writes. A resumed run first drops the records a killed run wrote after its last
checkpoint, so the log reads as if the run had never stopped.
"""

from __future__ import annotations

import json
import time
from typing import Any, Mapping

import jax
import numpy as np
from etils import epath

JSONL_NAME = "metrics.jsonl"
TENSORBOARD_DIR = "tensorboard"


def to_python(value: Any) -> Any:
  if isinstance(value, (np.ndarray, np.generic, jax.Array)):
    value = np.asarray(value)
    return value.item() if value.ndim == 0 else value.tolist()
  return value


def read_jsonl(path: str | epath.PathLike) -> list[dict[str, Any]]:
  path = epath.Path(path)
  if not path.exists():
    return []
  return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


class MetricWriter:
  """Writes ``{"step", "split", **scalars}`` records to JSONL and TensorBoard."""

  def __init__(self, workdir: str | epath.PathLike, tensorboard: bool = True):
    self.enabled = jax.process_index() == 0
    self.path = epath.Path(workdir) / JSONL_NAME
    self._tb = None
    if self.enabled:
      self.path.parent.mkdir(parents=True, exist_ok=True)
      if tensorboard:
        from tensorboardX import SummaryWriter

        self._tb = SummaryWriter(str(epath.Path(workdir) / TENSORBOARD_DIR))

  def truncate_after(self, step: int) -> None:
    """Forget records newer than ``step`` (written by a run that died before checkpointing them)."""
    if self.enabled and self.path.exists():
      kept = [r for r in read_jsonl(self.path) if r.get("step", 0) <= step]
      self.path.write_text("".join(json.dumps(r) + "\n" for r in kept))

  def write(self, step: int, split: str, scalars: Mapping[str, Any]) -> None:
    if not self.enabled:
      return
    record = {"step": int(step), "split": split, "time": time.time()}
    record.update({k: to_python(v) for k, v in scalars.items()})
    with self.path.open("a") as f:
      f.write(json.dumps(record) + "\n")
    if self._tb is not None:
      for k, v in record.items():
        if k not in ("step", "split", "time") and isinstance(v, (int, float)):
          self._tb.add_scalar(f"{split}/{k}", v, int(step))

  def close(self) -> None:
    if self._tb is not None:
      self._tb.close()
