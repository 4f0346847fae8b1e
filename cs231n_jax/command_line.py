"""What every ``cs231n-jax`` subcommand's parser shares: one-line usage errors, exit status 2, and
the table of exit codes.

The main command (:mod:`cs231n_jax.cli`) and the subcommands with parsers of their own
(``bench``, ``convert-weights``) import this module, never each other, so the command modules
form no import cycle.

Exit codes (docs/reliability.md):

====  =====================================================================================
0     success; also a run stopped by SIGTERM / SIGINT (its state saved, or nothing yet to save)
1     training diverged (NaN / inf loss or parameters; the last good checkpoint is kept)
2     usage or bad input: command line, config file or value, data files, untrusted pickles,
      a checkpoint of another model, ``--workdir`` that is a file
3     the workdir is in use by another run (its lock names the host and PID)
4     storage: the workdir cannot be written (full disk, read-only, no permission, failed save)
70    internal error (a bug): one line on the terminal, the traceback in the log file
====  =====================================================================================
"""

from __future__ import annotations

import argparse
import errno

from cs231n_jax.errors import Cs231nError, StorageError, UsageError, WorkdirBusy  # noqa: F401  (UsageError: re-exported)

PROG = "cs231n-jax"
EXIT_OK = 0
EXIT_FAILED = 1     # training diverged
EXIT_USAGE = 2      # bad command line / config / data / checkpoint for another model
EXIT_BUSY = 3       # workdir locked by another run
EXIT_STORAGE = 4    # cannot write the workdir
EXIT_INTERNAL = 70  # a bug (EX_SOFTWARE)

# errno values that mean "the filesystem will not take this write" rather than a bug.
STORAGE_ERRNOS = {errno.ENOSPC, errno.EROFS, errno.EACCES, errno.EPERM, errno.EDQUOT, errno.EFBIG, errno.EIO,
                  errno.ENOTDIR, errno.EISDIR, errno.ENAMETOOLONG}


class Parser(argparse.ArgumentParser):
  """argparse, but a usage error is one line and exit status 2 (no usage dump)."""

  def error(self, message):
    command = self.prog[len(PROG):].strip()
    raise UsageError(f"{command}: {message}" if command else message)


def is_storage_error(e: BaseException) -> bool:
  return isinstance(e, StorageError) or (isinstance(e, OSError) and e.errno in STORAGE_ERRNOS)


def exit_code(e: BaseException) -> int:
  """The documented exit status of a failure (see the table above)."""
  if isinstance(e, WorkdirBusy):
    return EXIT_BUSY
  if is_storage_error(e):
    return EXIT_STORAGE
  if type(e).__name__ == "TrainingDiverged":  # cs231n_jax.train.loop (not imported here: no jax)
    return EXIT_FAILED
  if isinstance(e, Cs231nError):
    return EXIT_USAGE
  return EXIT_INTERNAL


def one_line(e: BaseException) -> str:
  """``e`` as one line: an OSError as ``<file>: <reason>``, anything else its message's first line."""
  if isinstance(e, OSError) and not isinstance(e, Cs231nError) and e.strerror:
    where = f"{e.filename}: " if e.filename else ""
    return f"{where}{e.strerror.lower()}"
  text = str(e).strip()
  first = text.splitlines()[0] if text else ""
  if not isinstance(e, Cs231nError):
    first = f"{type(e).__name__}: {first}" if first else type(e).__name__
  return first[:1000]
