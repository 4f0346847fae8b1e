"""Recurrent loops under ``jit``: ``lax.scan`` against a Python-unrolled loop, and the course's
hand-written backward pass (``custom_vjp``) against autodiff of the same forward.

An unrolled loop puts T copies of the cell into the program, so tracing and compiling grow with T;
``lax.scan`` compiles the body once, whatever T. Both compute the same numbers (checked here). The
timings are wall-clock on whatever machine runs this, reported as ratios between peers measured in
the same run: compile = ``jit(f).lower(...).compile()``, step = median of ``repeats`` calls after a
warm-up.
"""

from __future__ import annotations

import json
import statistics
import time
from typing import Any, Callable

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
from etils import epath

from cs231n_jax.layers import rnn_layers as R
from cs231n_jax.nn.recurrent import make_cell


def _time_compiled(fn: Callable, *args, repeats: int) -> tuple[float, float, Any]:
  """(compile seconds, median step seconds, output) of ``jax.jit(fn)``."""
  start = time.perf_counter()
  compiled = jax.jit(fn).lower(*args).compile()
  compile_s = time.perf_counter() - start
  out = jax.block_until_ready(compiled(*args))
  times = []
  for _ in range(repeats):
    start = time.perf_counter()
    jax.block_until_ready(compiled(*args))
    times.append(time.perf_counter() - start)
  return compile_s, statistics.median(times), out


def scan_vs_unrolled(batch: int, input_dim: int, hidden: int, length: int, repeats: int, seed: int) -> dict[str, float]:
  """Loss and gradient of an LSTM over ``length`` steps, scanned and unrolled."""
  cell = make_cell("lstm", hidden)
  k1, k2 = jax.random.split(jax.random.key(seed))
  xs = jax.random.normal(k1, (length, batch, input_dim))
  carry0 = cell.initialize_carry(None, (batch, input_dim))
  params = cell.init(k2, carry0, xs[0])["params"]
  step = lambda p, c, x: cell.apply({"params": p}, c, x)

  def scanned(p, xs):
    _, hs = jax.lax.scan(lambda c, x: step(p, c, x), carry0, xs)
    return jnp.sum(hs ** 2)

  def unrolled(p, xs):
    c, total = carry0, 0.0
    for t in range(length):
      c, h = step(p, c, xs[t])
      total = total + jnp.sum(h ** 2)
    return total

  results = {}
  outs = {}
  for name, f in (("scan", scanned), ("unrolled", unrolled)):
    compile_s, step_s, out = _time_compiled(jax.value_and_grad(f), params, xs, repeats=repeats)
    results[f"{name}_compile_s"], results[f"{name}_step_ms"] = compile_s, 1e3 * step_s
    outs[name] = out
  np.testing.assert_allclose(outs["scan"][0], outs["unrolled"][0], rtol=1e-4)
  return results


def hand_written_vs_autodiff(batch: int, input_dim: int, hidden: int, length: int, repeats: int, seed: int) -> dict[str, float]:
  """Gradient of the course LSTM layer: its hand-written reverse scan vs ``jax.grad`` of the forward."""
  keys = jax.random.split(jax.random.key(seed), 4)
  x = jax.random.normal(keys[0], (batch, length, input_dim))
  h0 = jnp.zeros((batch, hidden))
  Wx = jax.random.normal(keys[1], (input_dim, 4 * hidden)) / np.sqrt(input_dim)
  Wh = jax.random.normal(keys[2], (hidden, 4 * hidden)) / np.sqrt(hidden)
  b = jnp.zeros(4 * hidden)
  hand = jax.grad(lambda *a: jnp.sum(R.lstm(*a) ** 2), argnums=(0, 2, 3, 4))
  auto = jax.grad(lambda *a: jnp.sum(R.lstm_forward(*a)[0] ** 2), argnums=(0, 2, 3, 4))
  results, outs = {}, {}
  for name, f in (("hand_written", hand), ("autodiff", auto)):
    compile_s, step_s, out = _time_compiled(f, x, h0, Wx, Wh, b, repeats=repeats)
    results[f"{name}_compile_s"], results[f"{name}_step_ms"] = compile_s, 1e3 * step_s
    outs[name] = out
  for a, c in zip(outs["hand_written"], outs["autodiff"]):
    np.testing.assert_allclose(a, c, rtol=2e-3, atol=1e-3)
  return results


def run_scan_benchmark(config: ml_collections.ConfigDict, workdir: str) -> dict[str, Any]:
  workdir = epath.Path(workdir)
  workdir.mkdir(parents=True, exist_ok=True)
  out: dict[str, Any] = {"device": str(jax.devices()[0]), "scan_vs_unrolled": {}, "hand_written_vs_autodiff": {}}
  args = (config.batch_size, config.input_dim, config.hidden_size)
  for length in config.lengths:
    r = scan_vs_unrolled(*args, length, config.repeats, config.seed)
    r["compile_ratio_unrolled_over_scan"] = r["unrolled_compile_s"] / r["scan_compile_s"]
    r["step_ratio_unrolled_over_scan"] = r["unrolled_step_ms"] / r["scan_step_ms"]
    out["scan_vs_unrolled"][str(length)] = r
    print(f"T={length:4d}: compile scan {r['scan_compile_s']:.2f}s unrolled {r['unrolled_compile_s']:.2f}s "
          f"(x{r['compile_ratio_unrolled_over_scan']:.1f}); step scan {r['scan_step_ms']:.2f}ms unrolled "
          f"{r['unrolled_step_ms']:.2f}ms (x{r['step_ratio_unrolled_over_scan']:.2f})")
  length = config.lengths[len(config.lengths) // 2]
  r = hand_written_vs_autodiff(*args, length, config.repeats, config.seed)
  r["step_ratio_hand_over_autodiff"] = r["hand_written_step_ms"] / r["autodiff_step_ms"]
  out["hand_written_vs_autodiff"] = {"length": length, **r}
  print(f"course LSTM, T={length}: hand-written backward {r['hand_written_step_ms']:.2f}ms, autodiff "
        f"{r['autodiff_step_ms']:.2f}ms (x{r['step_ratio_hand_over_autodiff']:.2f})")
  (workdir / "results.json").write_text(json.dumps(out, indent=2))
  return out
