"""Fast (im2col / reshape) vs naive (loops over output positions) conv and max pooling, one run.

    python -m cs231n_jax.layers.benchmark [--repeats 20]

Uses the course's benchmark shapes (its ConvolutionalNetworks notebook): conv x (100, 3, 31, 31),
w (25, 3, 3, 3), stride 2, pad 1; max pool x (100, 3, 32, 32), 2x2, stride 2 (the reshape path),
plus a 3x3 stride-2 pool on (100, 3, 31, 31) (the im2col path). Every function is jitted; the table
gives the first call (trace + compile + run) and the median steady-state time of ``--repeats``
calls, with XLA's own ``lax.conv_general_dilated`` / ``lax.reduce_window`` (and their autodiff
VJPs for the backward rows) as a third peer. Every input is a jit argument (a closed-over array would
be constant-folded into the program). Speed-ups are ratios measured in the same process.
"""

from __future__ import annotations

import argparse
import functools
import platform
import statistics
import time
from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np

from cs231n_jax.layers import conv, fast

CONV_X = (100, 3, 31, 31)
CONV_W = (25, 3, 3, 3)
CONV_STRIDE, CONV_PAD = 2, 1
POOL_X = (100, 3, 32, 32)
POOL_OVERLAP_X = (100, 3, 31, 31)
DEFAULT_REPEATS = 20


def _time(fn: Callable, *args, repeats: int) -> tuple[float, float]:
  """(first call seconds, median steady-state seconds) of ``fn(*args)``. Compilation caches are
  cleared first, so the first call includes tracing and compiling."""
  jax.clear_caches()
  t0 = time.perf_counter()
  jax.block_until_ready(fn(*args))
  first = time.perf_counter() - t0
  times = []
  for _ in range(repeats):
    t0 = time.perf_counter()
    jax.block_until_ready(fn(*args))
    times.append(time.perf_counter() - t0)
  return first, statistics.median(times)


def _lax_conv(x, w, b):
  out = jax.lax.conv_general_dilated(x, w, (CONV_STRIDE, CONV_STRIDE), [(CONV_PAD, CONV_PAD)] * 2,
                                     dimension_numbers=("NCHW", "OIHW", "NCHW"))
  return out + b[None, :, None, None]


def _lax_pool(x, size, stride):
  return jax.lax.reduce_window(x, -jnp.inf, jax.lax.max, (1, 1, size, size), (1, 1, stride, stride), "VALID")


def run(repeats: int = DEFAULT_REPEATS, seed: int = 0) -> list[dict]:
  """Time every (operation, implementation) pair; returns rows of the table."""
  rng = np.random.default_rng(seed)
  x = jnp.asarray(rng.standard_normal(CONV_X), jnp.float32)
  w = jnp.asarray(rng.standard_normal(CONV_W), jnp.float32)
  b = jnp.asarray(rng.standard_normal(CONV_W[0]), jnp.float32)
  cp = dict(stride=CONV_STRIDE, pad=CONV_PAD)
  out_shape = conv.conv_forward_naive(x[:1], w, b, cp)[0].shape[1:]
  dout = jnp.asarray(rng.standard_normal((CONV_X[0],) + out_shape), jnp.float32)
  _, cols = fast._conv_forward_im2col(x, w, b, **cp)

  rows = []

  def add(op: str, impls: dict[str, tuple[Callable, tuple]]):
    timed = {name: _time(fn, *args, repeats=repeats) for name, (fn, args) in impls.items()}
    rows.append({"op": op, **{name: t for name, t in timed.items()}})

  add("conv forward", {
      "naive": (functools.partial(conv._conv_forward_naive, **cp), (x, w, b)),
      "fast": (lambda x, w, b: fast._conv_forward_im2col(x, w, b, **cp)[0], (x, w, b)),
      "lax": (jax.jit(_lax_conv), (x, w, b)),
  })
  add("conv backward", {
      "naive": (functools.partial(conv._conv_backward_naive, **cp), (dout, x, w)),
      "fast": (functools.partial(fast._conv_backward_im2col, x_shape=CONV_X, **cp), (dout, w, cols)),
      "lax": (jax.jit(lambda d, x, w, b: jax.vjp(_lax_conv, x, w, b)[1](d)), (dout, x, w, b)),
  })
  for op_name, shape, size, stride in (("max pool 2x2/2 (reshape path)", POOL_X, 2, 2),
                                       ("max pool 3x3/2 (im2col path)", POOL_OVERLAP_X, 3, 2)):
    xp = jnp.asarray(rng.standard_normal(shape), jnp.float32)
    pool = dict(ph=size, pw=size, stride=stride)
    pooled = fast._max_pool_forward_fast(xp, **pool)
    dp = jnp.asarray(rng.standard_normal(pooled.shape), jnp.float32)
    add(f"{op_name} forward", {
        "naive": (functools.partial(conv._max_pool_forward_naive, **pool), (xp,)),
        "fast": (functools.partial(fast._max_pool_forward_fast, **pool), (xp,)),
        "lax": (jax.jit(functools.partial(_lax_pool, size=size, stride=stride)), (xp,)),
    })
    add(f"{op_name} backward", {
        "naive": (functools.partial(conv._max_pool_backward_naive, **pool), (dp, xp)),
        "fast": (functools.partial(fast._max_pool_backward_fast, **pool), (dp, xp)),
        "lax": (jax.jit(lambda d, xp, size=size, stride=stride: jax.vjp(functools.partial(_lax_pool, size=size, stride=stride), xp)[1](d)),
                (dp, xp)),
    })
  return rows


def to_markdown(rows: list[dict]) -> str:
  lines = [
      "| operation | naive first call | fast first call | naive steady | fast steady | lax steady | naive / fast | fast / lax |",
      "|---|---|---|---|---|---|---|---|",
  ]
  for r in rows:
    (nf, ns), (ff, fs), (_, ls) = r["naive"], r["fast"], r["lax"]
    lines.append(f"| {r['op']} | {nf:.2f} s | {ff:.2f} s | {ns * 1e3:.2f} ms | {fs * 1e3:.2f} ms | {ls * 1e3:.2f} ms "
                 f"| {ns / fs:.1f}x | {fs / ls:.2f}x |")
  return "\n".join(lines)


def main(argv=None) -> None:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--repeats", type=int, default=DEFAULT_REPEATS)
  args = parser.parse_args(argv)
  rows = run(args.repeats)
  print(f"jax {jax.__version__} on {jax.default_backend()} ({platform.processor() or platform.machine()}), "
        f"{jax.device_count()} device(s), float32, median of {args.repeats}")
  print(to_markdown(rows))


if __name__ == "__main__":
  main()
