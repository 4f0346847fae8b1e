"""The project's error types. Each message is one line naming the field or file and what was
expected; the CLI prints it without a traceback and exits with the status
:func:`cs231n_jax.command_line.exit_code` gives it (docs/reliability.md lists them)."""


class Cs231nError(Exception):
  """Base class of errors caused by bad input or the environment rather than by a bug."""


class ConfigError(Cs231nError, ValueError):
  """A config key is unknown, has the wrong type, or holds an impossible value."""


class DataError(Cs231nError, ValueError):
  """A data file or directory is missing or malformed, or an example is bad."""


class CheckpointError(Cs231nError):
  """A checkpoint cannot be restored into the requested state."""


class WorkdirBusy(Cs231nError):
  """Another run (named by host and PID) holds the workdir's lock."""


class StorageError(Cs231nError):
  """The workdir cannot be written: full disk, read-only filesystem, no permission, failed save."""


class UsageError(Cs231nError):
  """A bad command line (the CLI exits 2); here so that the engine can raise it without the CLI."""
