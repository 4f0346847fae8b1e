"""Reading checked values out of a config block (``optimizer`` and ``optimizer.schedule``).

Every impossible value raises :class:`~cs231n_jax.errors.ConfigError` with a one-line message that
names the field and the expected range, e.g. ``optimizer.momentum: expected a number in [0, 1), got
1.0``; absent or None fields give the default.
"""

from __future__ import annotations

import math
from typing import Any, Mapping

from cs231n_jax.errors import ConfigError


def number(block: Mapping[str, Any], key: str, default: float | None, lo: float, hi: float,
           lo_open: bool, hi_open: bool, where: str) -> float | None:
  """``block[key]`` checked to lie in the interval; None (or absent) gives ``default``."""
  value = block.get(key)
  if value is None:
    return default
  interval = f"{'(' if lo_open else '['}{lo:g}, {hi:g}{')' if hi_open else ']'}"
  if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value):
    raise ConfigError(f"{where}.{key}: expected a number in {interval}, got {value!r}")
  below = value <= lo if lo_open else value < lo
  above = value >= hi if hi_open else value > hi
  if below or above:
    raise ConfigError(f"{where}.{key}: expected a number in {interval}, got {value!r}")
  return float(value)


def choice(block: Mapping[str, Any], key: str, default: Any, choices: tuple, where: str) -> Any:
  """``block[key]``, which must be one of ``choices``; None (or absent) gives ``default``."""
  value = block.get(key)
  if value is None:
    return default
  # ``True in (1, 0)`` holds in Python: compare types too, so 1 is not accepted for True.
  if not any(value == c and type(value) is type(c) for c in choices):
    raise ConfigError(f"{where}.{key}: expected one of {choices}, got {value!r}")
  return value
