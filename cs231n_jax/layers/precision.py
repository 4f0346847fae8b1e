"""Float64 in, float64 out: the course's numerics on top of JAX's float32 default.

The course's notebooks build inputs with ``np.random.randn`` (float64) and expect relative errors
around 1e-9, which float32 cannot give. JAX computes in float32 unless 64-bit types are enabled,
and enabling them globally would slow every other model down. So each course layer is wrapped in
``follows_input_precision``: a call that is handed a concrete float64 array runs inside the scoped
``jax.enable_x64(True)`` context and hands back numpy arrays (as the course's numpy code does), so
that nothing float64 leaks into code running without 64-bit types. Calls on float32 data, and every
call made while tracing under ``jit`` (where inputs are tracers of the traced dtype), are untouched.
"""

from __future__ import annotations

import contextlib
import functools
from typing import Any, Callable, TypeVar

import jax
import numpy as np

F = TypeVar("F", bound=Callable[..., Any])


def x64_enabled() -> bool:
  """Whether 64-bit types are enabled right now (globally or by a scoped context)."""
  return bool(jax.config.jax_enable_x64)


def _is_concrete_array(leaf: Any) -> bool:
  return isinstance(leaf, np.ndarray) or (isinstance(leaf, jax.Array) and not isinstance(leaf, jax.core.Tracer))


def has_float64(tree: Any) -> bool:
  """Whether any array leaf of ``tree`` is float64 (strings and Python numbers are ignored)."""
  return any(
      _is_concrete_array(leaf) and leaf.dtype == np.float64 for leaf in jax.tree.leaves(tree)
  )


def _converts_to_numpy(leaf: Any) -> bool:
  # PRNG keys have no numpy equivalent; they stay JAX arrays.
  return (_is_concrete_array(leaf) and isinstance(leaf, jax.Array)
          and not jax.dtypes.issubdtype(leaf.dtype, jax.dtypes.prng_key))


def to_numpy(tree: Any) -> Any:
  """Every concrete JAX array in ``tree`` (PRNG keys excepted) as a numpy array."""
  return jax.tree.map(lambda leaf: np.asarray(leaf) if _converts_to_numpy(leaf) else leaf, tree)


@contextlib.contextmanager
def precision_of(tree: Any):
  """A context that enables 64-bit types while it is open if ``tree`` holds float64 arrays."""
  if has_float64(tree) and not x64_enabled():
    with jax.enable_x64(True):
      yield True
  else:
    yield False


def follows_input_precision(fn: F) -> F:
  """Run ``fn`` in float64 when it is handed float64 arrays, as numpy would (see module doc).

  Dict arguments that ``fn`` updates in place (the course's ``bn_param`` running averages, the
  optimizer ``config``) get numpy values too, for the same reason.
  """

  @functools.wraps(fn)
  def wrapper(*args, **kwargs):
    if x64_enabled() or not has_float64((args, kwargs)):
      return fn(*args, **kwargs)
    with jax.enable_x64(True):
      result = to_numpy(fn(*args, **kwargs))
      for arg in (*args, *kwargs.values()):
        if isinstance(arg, dict):
          for key, value in arg.items():
            arg[key] = to_numpy(value)
    return result

  return wrapper  # type: ignore[return-value]
