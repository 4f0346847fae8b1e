"""What every ``cs231n-jax`` subcommand's parser shares: one-line usage errors, exit status 2.

The main command (:mod:`cs231n_jax.cli`) and the subcommands with parsers of their own
(``bench``, ``convert-weights``) import this module, never each other, so the command modules
form no import cycle.
"""

from __future__ import annotations

import argparse

from cs231n_jax.errors import Cs231nError

PROG = "cs231n-jax"
EXIT_USAGE = 2
EXIT_FAILED = 1


class UsageError(Cs231nError):
  pass


class Parser(argparse.ArgumentParser):
  """argparse, but a usage error is one line and exit status 2 (no usage dump)."""

  def error(self, message):
    command = self.prog[len(PROG):].strip()
    raise UsageError(f"{command}: {message}" if command else message)
