"""Config checks shared by the runners (techniques and studies): one-line :class:`ConfigError` naming the field."""

from __future__ import annotations

from typing import Any, Sequence

from cs231n_jax.errors import ConfigError


def integer(value: Any, field: str, minimum: int = 1) -> int:
  """``value`` as an int that is at least ``minimum`` (a count of steps, trials, seeds, ...)."""
  if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
    expected = "a positive integer" if minimum == 1 else f"an integer >= {minimum}"
    raise ConfigError(f"{field}: expected {expected}, got {value!r}")
  return value


def positive(value: Any, field: str) -> float:
  """``value`` as a float > 0 (a rate, a tolerance, a regularisation strength)."""
  if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
    raise ConfigError(f"{field}: expected a positive number, got {value!r}")
  return float(value)


def one_of(value: Any, choices: Sequence[Any], field: str) -> Any:
  if value not in choices:
    raise ConfigError(f"{field}: expected one of {tuple(choices)}, got {value!r}")
  return value
