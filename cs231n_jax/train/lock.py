"""One run per workdir: an exclusive lock file, ``<workdir>/.lock``.

Two runs writing one workdir corrupt each other's checkpoints and logs, so a run holds an
exclusive ``flock`` on ``<workdir>/.lock`` while it works, with its host, PID and start time written
inside. A second run is refused at once with :class:`WorkdirBusy` naming them. The kernel drops a
``flock`` when its process dies however it dies (kill -9 included), so a lock left by a dead
process is taken over safely: the file's old contents only say whose it was (a warning names it).
On release the file is emptied, not deleted (deleting a lock file races with a run opening it).

Multi-host runs lock per host: process ``i`` locks ``.lock.<i>`` (two runs on the same hosts
collide host by host); only process 0 writes the shared files (metrics, config, results).

A remote workdir (``gs://...``) cannot be locked this way and is not locked. The lock is
re-entrant within a process (the CLI and the loop both take it), counted.
"""

from __future__ import annotations

import errno
import json
import os
import socket
import sys
import time
import warnings
from pathlib import Path

from cs231n_jax.errors import StorageError, UsageError, WorkdirBusy

LOCK_NAME = ".lock"
_held: dict[str, list] = {}  # resolved lock path -> [fd, count]


def lock_path(workdir: str | os.PathLike, process_index: int = 0, process_count: int = 1) -> Path:
  name = LOCK_NAME if process_count == 1 else f"{LOCK_NAME}.{process_index}"
  return Path(os.path.abspath(os.fspath(workdir))) / name


def _alive(pid: int) -> bool:
  try:
    os.kill(pid, 0)
  except ProcessLookupError:
    return False
  except PermissionError:
    return True
  return True


def _read_holder(fd: int) -> dict:
  try:
    os.lseek(fd, 0, os.SEEK_SET)
    raw = os.read(fd, 4096).decode(errors="replace").strip()
    return json.loads(raw) if raw else {}
  except (OSError, ValueError):
    return {}


def _describe(holder: dict) -> str:
  if not holder:
    return "another process (its lock file names no holder)"
  since = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(holder.get("started", 0)))
  return f"pid {holder.get('pid', '?')} on host {holder.get('host', '?')} (since {since})"


def _check_workdir(workdir: Path) -> None:
  if workdir.exists() and not workdir.is_dir():
    raise UsageError(f"--workdir: {workdir} is a file, expected a directory (or a path that does not exist yet)")


def acquire(workdir: str | os.PathLike, process_index: int = 0, process_count: int = 1) -> Path | None:
  """Lock ``workdir`` for this process (creating it); raise :class:`WorkdirBusy` if another run holds it.

  Returns the lock file's path (None for a remote workdir, which is not locked). Re-entrant: each
  ``acquire`` needs a :func:`release`.
  """
  if "://" in os.fspath(workdir):
    return None
  path = lock_path(workdir, process_index, process_count)
  key = str(path)
  if key in _held:
    _held[key][1] += 1
    return path
  _check_workdir(path.parent)
  try:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
  except OSError as e:
    raise StorageError(f"--workdir: cannot create {e.filename or path} ({(e.strerror or str(e)).lower()})") from None
  import fcntl

  try:
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
  except BlockingIOError:
    holder = _read_holder(fd)
    os.close(fd)
    raise WorkdirBusy(f"--workdir: {path.parent} is in use by another run: {_describe(holder)}; wait for it to "
                      "finish, stop it, or choose another --workdir") from None
  except OSError as e:  # a filesystem without locks (some network mounts): say so and go on unlocked
    if e.errno not in (errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOSYS, errno.EINVAL):
      os.close(fd)
      raise
    warnings.warn(f"--workdir: {path.parent} cannot be locked ({e.strerror}); make sure no other run uses it",
                  RuntimeWarning, stacklevel=2)
  previous = _read_holder(fd)
  me = {"host": socket.gethostname(), "pid": os.getpid(), "started": time.time(), "command": sys.argv[:8]}
  if previous and previous.get("pid") != me["pid"]:
    dead = previous.get("host") == me["host"] and isinstance(previous.get("pid"), int) and not _alive(previous["pid"])
    state = "no longer running" if dead else "its lock was released by the system"
    warnings.warn(f"--workdir: took over the lock of {path.parent} left by {_describe(previous)}, {state}",
                  RuntimeWarning, stacklevel=2)
  try:
    os.ftruncate(fd, 0)
    os.lseek(fd, 0, os.SEEK_SET)
    os.write(fd, (json.dumps(me) + "\n").encode())
    os.fsync(fd)
  except OSError as e:
    os.close(fd)
    raise StorageError(f"--workdir: cannot write {path} ({(e.strerror or str(e)).lower()})") from None
  _held[key] = [fd, 1]
  return path


def release(path: Path | None) -> None:
  """Undo one :func:`acquire`; the last one empties the file and drops the lock."""
  if path is None or str(path) not in _held:
    return
  entry = _held[str(path)]
  entry[1] -= 1
  if entry[1] > 0:
    return
  del _held[str(path)]
  fd = entry[0]
  try:
    os.ftruncate(fd, 0)  # a clean release leaves no holder for the next run to warn about
  except OSError:
    pass
  finally:
    os.close(fd)  # closing the descriptor drops the flock


def holds(workdir: str | os.PathLike, process_index: int = 0, process_count: int = 1) -> bool:
  return str(lock_path(workdir, process_index, process_count)) in _held


class WorkdirLock:
  """``with WorkdirLock(workdir):`` — :func:`acquire` / :func:`release` as a context manager."""

  def __init__(self, workdir: str | os.PathLike, process_index: int = 0, process_count: int = 1):
    self.args = (workdir, process_index, process_count)
    self.path: Path | None = None

  def __enter__(self) -> WorkdirLock:
    self.path = acquire(*self.args)
    return self

  def __exit__(self, *exc) -> None:
    release(self.path)
    self.path = None
