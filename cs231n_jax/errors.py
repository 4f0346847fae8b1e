"""The project's error types. Each message is one line naming the field or file and what was
expected; the CLI prints it without a traceback and exits with status 2."""


class Cs231nError(Exception):
  """Base class of errors caused by bad input rather than by a bug."""


class ConfigError(Cs231nError, ValueError):
  """A config key is unknown, has the wrong type, or holds an impossible value."""


class DataError(Cs231nError, ValueError):
  """A data file or directory is missing or malformed, or an example is bad."""


class CheckpointError(Cs231nError):
  """A checkpoint cannot be restored into the requested state."""
