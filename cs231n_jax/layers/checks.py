"""Shape checks at the layers' boundaries: one-line ``ValueError``s that name both shapes.

A wrong shape in numpy-style code is usually broadcast into a silently wrong answer; these checks run
on static shapes, so they cost nothing under ``jit``.
"""

from __future__ import annotations

from typing import Any, Sequence


def shape_of(x: Any) -> tuple[int, ...]:
  return tuple(getattr(x, "shape", ()))


def check_ndim(fn: str, name: str, x: Any, ndims: int | Sequence[int], layout: str = "") -> None:
  """``x`` must have one of ``ndims`` dimensions (``layout`` names them, e.g. ``"(N, C, H, W)"``)."""
  allowed = (ndims,) if isinstance(ndims, int) else tuple(ndims)
  if len(shape_of(x)) not in allowed:
    want = layout or " or ".join(f"{n}-d" for n in allowed)
    raise ValueError(f"{fn}: {name} must be {want}, got shape {shape_of(x)}")


def check_labels(fn: str, scores: Any, y: Any) -> None:
  """``y`` holds one integer label per row of ``scores`` (N, C)."""
  s, t = shape_of(scores), shape_of(y)
  if len(s) != 2:
    raise ValueError(f"{fn}: scores must be (N, C), got shape {s}")
  if t != (s[0],):
    raise ValueError(f"{fn}: labels y must have shape ({s[0]},) to match scores {s}, got {t}")


def check_vector(fn: str, name: str, v: Any, length: int, against: str, against_shape: Any) -> None:
  """``v`` must be a vector of ``length`` entries (a per-feature parameter such as gamma)."""
  if shape_of(v) != (length,):
    raise ValueError(
        f"{fn}: {name} must have shape ({length},) to match {against} {tuple(against_shape)}, got {shape_of(v)}"
    )


def check_dout(fn: str, dout: Any, expected: Sequence[int]) -> None:
  """The upstream gradient must have the forward output's shape. A backward pass that loops over
  ``dout``'s positions (the naive conv and pooling) would otherwise return a wrong gradient
  silently when handed a smaller one."""
  if shape_of(dout) != tuple(expected):
    raise ValueError(f"{fn}: dout {shape_of(dout)} must have the forward output's shape {tuple(expected)}")
