"""A study (several engine runs plus analysis) stops as soon as one of its runs is preempted.

The engine's ``fit`` answers SIGTERM by saving a checkpoint and returning ``{"status":
"preempted"}`` (the CLI then exits 0, so a scheduler restarts the same command). A study that went
on to its next run, or read metrics the stopped run never wrote, would start work the machine is
about to lose or fail with a ``KeyError``. So each sub-run's results pass through
:func:`check_not_preempted`, and the study's runner is wrapped in :func:`stops_when_preempted`,
which turns the exception into the engine's own ``{"status": "preempted"}``; the same command
resumes every finished and unfinished run.
"""

from __future__ import annotations

import functools
import threading
from typing import Any

PREEMPTED = "preempted"


class Preempted(Exception):
  """A run of the study stopped on a signal (its checkpoint is saved)."""


def check_not_preempted(results: dict[str, Any], what: str) -> dict[str, Any]:
  """``results`` of one sub-run, or :class:`Preempted` if that run was preempted."""
  if results.get("status") == PREEMPTED:
    raise Preempted(f"{what}: preempted; run the same command to resume")
  return results


_nesting = threading.local()


def stops_when_preempted(study):
  """``study(config, workdir)`` returning ``{"status": "preempted"}`` as soon as one of its runs is
  preempted. A study called from inside another (a GAN run inside the evaluation study) re-raises, so
  the outermost study stops too instead of reading the inner one's missing results."""

  @functools.wraps(study)
  def wrapped(config, workdir):
    depth = getattr(_nesting, "depth", 0)
    _nesting.depth = depth + 1
    try:
      return study(config, workdir)
    except Preempted as e:
      if depth:
        raise
      print(str(e), flush=True)
      return {"status": PREEMPTED}
    finally:
      _nesting.depth = depth

  return wrapped
