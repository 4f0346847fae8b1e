"""Numerical gradients and the relative error: how the course checks every analytic gradient.

Lecture 3: "Numerical gradient: approximate, slow, easy to write. Analytic gradient: exact, fast,
error-prone. In practice: always use the analytic gradient, but check the implementation with the
numerical gradient." Every function here uses *centred* differences

    df/dx_i ≈ (f(x + h e_i) - f(x - h e_i)) / 2h,

whose error is O(h²) (the forward difference of the lecture's worked example is only O(h)). The
course notes write this quotient with the two terms swapped, ``(f(x-h) - f(x+h))/2h``, which is the
*negative* gradient; that is a typo, not a convention, and is not copied here.

Precision. Centred differences in float32 cannot resolve relative errors below ~1e-4, so each check
runs in float64 inside the scoped ``jax.enable_x64(True)`` context (never by flipping the global
flag): the functions below enter it themselves when they are handed float64 data, and
``three_way_errors`` always does.

Thresholds (``rel_error``, the course's max over elements of |a - b| / max(1e-8, |a| + |b|)):

* ``SMOOTH_THRESHOLD = 1e-7`` for smooth functions (affine, sigmoid, tanh, ELU, softmax, batch /
  layer / group norm, a conv layer without max pooling);
* ``KINK_THRESHOLD = 1e-5`` for functions with kinks (ReLU, leaky ReLU, hinge, max pooling, maxout):
  a perturbation of ±h that crosses a kink makes the difference quotient average two slopes, so tests
  draw inputs away from the kinks and still allow this looser bound (the course notes' table calls
  1e-5..1e-7 "acceptable for objectives with kinks").

The course's own API (``eval_numerical_gradient``, ``eval_numerical_gradient_array``,
``grad_check_sparse``, ``rel_error``) loops over coordinates and perturbs ``x`` *in place*, which is
what makes its idiom ``f = lambda _: model.loss(X, y)[0]; eval_numerical_gradient(f,
model.params['W1'])`` work; the course-contract models keep numpy parameters for exactly this
reason. ``numerical_vjp`` is the same centred difference for every coordinate at once (``jax.vmap``
under ``jit``), for pure JAX functions; the tests use it.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from cs231n_jax.layers.precision import precision_of, x64_enabled

SMOOTH_THRESHOLD = 1e-7
KINK_THRESHOLD = 1e-5
DEFAULT_STEP = 1e-5
# The denominator floor of ``rel_error`` (the course's), so that two zeros compare as equal.
REL_ERROR_FLOOR = 1e-8
# Coordinates perturbed per vectorised call of ``numerical_vjp`` (bounds its memory).
NUMERICAL_BATCH = 256
# Up to this many coordinates ``three_way_errors`` perturbs them one call at a time (no compile);
# beyond it, all at once with ``numerical_vjp`` (one compile, then fast).
LOOP_LIMIT = 4096


def rel_error(x: Any, y: Any) -> float:
  """The course's relative error: max over elements of |x - y| / max(1e-8, |x| + |y|)."""
  x = np.asarray(x, dtype=np.float64)
  y = np.asarray(y, dtype=np.float64)
  if x.shape != y.shape:
    raise ValueError(f"rel_error: shapes differ, x {x.shape} vs y {y.shape}")
  if x.size == 0:
    return 0.0
  return float(np.max(np.abs(x - y) / np.maximum(REL_ERROR_FLOOR, np.abs(x) + np.abs(y))))


def _as_mutable(x: Any) -> np.ndarray:
  """``x`` itself when it is a writable numpy array (so that in-place perturbation is seen by
  closures over it, as in the course), else a writable float copy."""
  if isinstance(x, np.ndarray) and x.flags.writeable and np.issubdtype(x.dtype, np.floating):
    return x
  return np.array(x, dtype=np.result_type(np.asarray(x).dtype, np.float32))


def _at_both_sides(f: Callable[[np.ndarray], Any], x: np.ndarray, ix: tuple[int, ...], h: float) -> tuple[Any, Any]:
  """(f(x + h e_ix), f(x - h e_ix)), perturbing ``x`` in place (so that closures over it see the
  change, the course's idiom) and restoring it afterwards. ``f`` must return a value that does not
  alias ``x`` (a float, or a copied array)."""
  old = x[ix].copy()
  x[ix] = old + h
  plus = f(x)
  x[ix] = old - h
  minus = f(x)
  x[ix] = old
  return plus, minus


def eval_numerical_gradient(
    f: Callable[[np.ndarray], Any], x: Any, verbose: bool = True, h: float = DEFAULT_STEP
) -> np.ndarray:
  """The numerical gradient of a scalar function ``f`` at ``x`` (the course's signature).

  ``x`` is perturbed in place one coordinate at a time and restored afterwards; ``f`` receives the
  perturbed array. Runs in float64 when ``x`` is float64.
  """
  x = _as_mutable(x)
  grad = np.zeros_like(x)
  with precision_of(x):
    it = np.nditer(x, flags=["multi_index"], op_flags=[["readwrite"]])
    while not it.finished:
      ix = it.multi_index
      fxph, fxmh = _at_both_sides(lambda v: float(f(v)), x, ix, h)
      grad[ix] = (fxph - fxmh) / (2 * h)
      if verbose:
        print(ix, grad[ix])
      it.iternext()
  return grad


def eval_numerical_gradient_array(
    f: Callable[[np.ndarray], Any], x: Any, df: Any, h: float = DEFAULT_STEP
) -> np.ndarray:
  """The numerical gradient of sum(f(x) * df) at ``x``: the vector-Jacobian product that a layer's
  backward pass computes for upstream gradient ``df`` (the course's signature)."""
  x = _as_mutable(x)
  df = np.asarray(df)
  grad = np.zeros_like(x)
  with precision_of((x, df)):
    it = np.nditer(x, flags=["multi_index"], op_flags=[["readwrite"]])
    while not it.finished:
      ix = it.multi_index
      pos, neg = _at_both_sides(lambda v: np.array(f(v), dtype=np.float64, copy=True), x, ix, h)
      if pos.shape != df.shape:
        raise ValueError(f"eval_numerical_gradient_array: f(x) has shape {pos.shape} but df has {df.shape}")
      grad[ix] = np.sum((pos - neg) * df) / (2 * h)
      it.iternext()
  return grad


def grad_check_sparse(
    f: Callable[[np.ndarray], Any],
    x: Any,
    analytic_grad: Any,
    num_checks: int = 10,
    h: float = DEFAULT_STEP,
    seed: int | None = None,
    verbose: bool = True,
) -> list[float]:
  """Compare ``analytic_grad`` with centred differences at ``num_checks`` random coordinates.

  Prints one line per coordinate as the course does, and returns the relative errors so that code
  can assert on them.
  """
  x = _as_mutable(x)
  analytic_grad = np.asarray(analytic_grad)
  if analytic_grad.shape != x.shape:
    raise ValueError(f"grad_check_sparse: analytic_grad has shape {analytic_grad.shape}, x has {x.shape}")
  rng = np.random.default_rng(seed)
  errors = []
  with precision_of(x):
    for _ in range(num_checks):
      ix = tuple(int(rng.integers(m)) for m in x.shape)
      fxph, fxmh = _at_both_sides(lambda v: float(f(v)), x, ix, h)
      numerical = (fxph - fxmh) / (2 * h)
      analytic = float(analytic_grad[ix])
      err = abs(numerical - analytic) / max(REL_ERROR_FLOOR, abs(numerical) + abs(analytic))
      errors.append(err)
      if verbose:
        print(f"numerical: {numerical:f} analytic: {analytic:f}, relative error: {err:e}")
  return errors


def numerical_vjp(f: Callable[[jax.Array], jax.Array], x: Any, df: Any, h: float = DEFAULT_STEP) -> np.ndarray:
  """Centred-difference gradient of sum(f(x) * df) for every coordinate of ``x`` at once.

  ``f`` must be a pure JAX function. The perturbed copies are evaluated ``NUMERICAL_BATCH`` at a time
  with ``jax.lax.map`` under ``jit``; the arithmetic is the same as ``eval_numerical_gradient_array``.
  """
  x = jnp.asarray(x)
  df = jnp.asarray(df)
  flat = x.ravel()

  def directional(i):
    step = jnp.zeros_like(flat).at[i].set(h)
    # Two separate reductions, subtracted at the end: had XLA fused (plus - minus) * df into one
    # loop, its fused multiply-adds would round plus and minus differently and leave ~1e-11
    # where the true difference is exactly 0 (a dropped unit), which rel_error reports as 1e-3.
    plus = jnp.vdot(f((flat + step).reshape(x.shape)), df)
    minus = jnp.vdot(f((flat - step).reshape(x.shape)), df)
    return (plus - minus) / (2 * h)

  grads = jax.jit(lambda: jax.lax.map(directional, jnp.arange(flat.size), batch_size=NUMERICAL_BATCH))()
  return np.asarray(grads).reshape(x.shape)


def three_way_errors(
    f: Callable[..., jax.Array],
    inputs: Sequence[Any],
    dout: Any,
    hand_written: Sequence[Any],
    h: float = DEFAULT_STEP,
) -> list[dict[str, float]]:
  """Hand-written gradients vs ``jax.vjp`` of the forward vs centred differences, in float64.

  ``f(*inputs)`` is a layer's forward output, ``hand_written[k]`` its hand-written gradient with
  respect to ``inputs[k]`` for upstream gradient ``dout``. Returns, per input, the relative errors
  ``{"hand_vs_autodiff", "hand_vs_numerical", "autodiff_vs_numerical"}``. The caller computes
  ``hand_written`` in float64 too (inside ``jax.enable_x64(True)``).
  """
  if len(hand_written) != len(inputs):
    raise ValueError(f"three_way_errors: {len(inputs)} inputs but {len(hand_written)} hand-written gradients")
  with jax.enable_x64(True):
    xs = [jnp.asarray(x, dtype=jnp.float64) for x in inputs]
    d = jnp.asarray(dout, dtype=jnp.float64)
    f_jit = jax.jit(f)  # one compile serves the VJP and every numerical evaluation
    _, vjp = jax.vjp(f_jit, *xs)
    autodiff = vjp(d)
    results = []
    for k, x in enumerate(xs):
      def f_k(xk, k=k):
        args = list(xs)
        args[k] = jnp.asarray(xk)
        return f_jit(*args)

      if x.size <= LOOP_LIMIT:
        numerical = eval_numerical_gradient_array(f_k, np.array(x), np.asarray(d), h)
      else:
        numerical = numerical_vjp(f_k, x, d, h)
      hand = np.asarray(hand_written[k], dtype=np.float64)
      results.append({
          "hand_vs_autodiff": rel_error(hand, autodiff[k]),
          "hand_vs_numerical": rel_error(hand, numerical),
          "autodiff_vs_numerical": rel_error(autodiff[k], numerical),
      })
  return results


def max_error(results: Sequence[dict[str, float]]) -> float:
  """The largest of the relative errors ``three_way_errors`` returns."""
  return max((v for r in results for v in r.values()), default=0.0)


__all__ = [
    "SMOOTH_THRESHOLD", "KINK_THRESHOLD", "rel_error", "eval_numerical_gradient",
    "eval_numerical_gradient_array", "grad_check_sparse", "numerical_vjp", "three_way_errors",
    "max_error", "x64_enabled",
]
