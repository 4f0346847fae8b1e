"""The compile-time / step-time harness: one record per (study, variant), every stage timed.

For a JAX function the stages are timed separately with the AOT API — ``jit(f).trace(*args)``
(Python tracing to a jaxpr), ``.lower()`` (StableHLO), ``.compile()`` (XLA), the first call and
the steady state (median and spread over ``n_runs`` calls, each ended by ``block_until_ready``,
warm-up calls excluded). The record also holds the jaxpr equation count, the optimised HLO
instruction count, XLA's memory analysis (argument / output / temp bytes) and cost analysis
(FLOPs), from which achieved FLOP/s and the fraction of this machine's peak — a large float32
matmul measured in the same run — follow. Peers that are not JAX (NumPy, PyTorch) get the same
record with only the timing fields filled. Every record carries device and version metadata.

Timings are measurements, never assertions: tests check that records are complete and
self-consistent (e.g. the FLOPs of a matmul equal 2·m·n·k), not how fast anything is.
"""

from __future__ import annotations

import dataclasses
import json
import os
import platform
import re
import statistics
import time
from typing import Any, Callable, Sequence

import jax
import numpy as np

from cs231n_jax.cpu import platform_of, traced_for

PEAK_MATMUL_SIZE = 2048
HLO_INSTRUCTION = re.compile(r"^\s*(ROOT\s+)?%[\w.\-]+\s*=", re.MULTILINE)


@dataclasses.dataclass
class Record:
  study: str
  variant: str
  framework: str = "jax"
  trace_s: float | None = None
  lower_s: float | None = None
  compile_s: float | None = None
  first_step_s: float | None = None
  step_median_s: float | None = None
  step_p10_s: float | None = None
  step_p90_s: float | None = None
  n_runs: int = 0
  jaxpr_eqns: int | None = None
  hlo_instructions: int | None = None
  argument_bytes: int | None = None
  output_bytes: int | None = None
  temp_bytes: int | None = None
  flops: float | None = None
  flops_per_s: float | None = None
  peak_flops_per_s: float | None = None
  fraction_of_peak: float | None = None
  params: dict[str, Any] = dataclasses.field(default_factory=dict)
  meta: dict[str, Any] = dataclasses.field(default_factory=dict)

  def to_json(self) -> str:
    return json.dumps(dataclasses.asdict(self), default=str)


def metadata() -> dict[str, Any]:
  """Where and with what a record was measured."""
  import flax
  import jaxlib

  d = jax.devices()[0]
  meta = {
      "backend": jax.default_backend(), "device_kind": d.device_kind, "device_count": jax.device_count(),
      "process_count": jax.process_count(), "jax": jax.__version__, "jaxlib": jaxlib.__version__,
      "flax": flax.__version__, "numpy": np.__version__, "python": platform.python_version(),
      "machine": platform.machine(), "cpu_count": os.cpu_count(),
      "xla_flags": os.environ.get("XLA_FLAGS", ""), "glibc_tunables": os.environ.get("GLIBC_TUNABLES", ""),
      "time": time.strftime("%Y-%m-%dT%H:%M:%S"),
  }
  try:
    import torch

    meta["torch"] = torch.__version__
    meta["torch_threads"] = torch.get_num_threads()
  except ImportError:
    pass
  return meta


def count_jaxpr_eqns(jaxpr) -> int:
  """Equations of a (closed) jaxpr, counting those inside sub-jaxprs (pjit, scan, cond, ...)."""
  jaxpr = getattr(jaxpr, "jaxpr", jaxpr)
  total = 0
  for eqn in jaxpr.eqns:
    total += 1
    for value in eqn.params.values():
      for sub in value if isinstance(value, (tuple, list)) else (value,):
        if hasattr(sub, "eqns") or hasattr(getattr(sub, "jaxpr", None), "eqns"):
          total += count_jaxpr_eqns(sub)
  return total


def count_hlo_instructions(hlo_text: str) -> int:
  """Instructions in every computation of an HLO module's text."""
  return len(HLO_INSTRUCTION.findall(hlo_text))


def xla_flops(compiled) -> float | None:
  cost = compiled.cost_analysis()
  if isinstance(cost, (list, tuple)):  # older JAX: one dict per device program
    cost = cost[0] if cost else None
  if not cost or "flops" not in cost:
    return None
  return float(cost["flops"])


def time_calls(call: Callable[[], Any], n_runs: int, warmup: int) -> list[float]:
  """Wall times of ``n_runs`` calls after ``warmup`` untimed ones; ``call`` must block."""
  for _ in range(warmup):
    call()
  times = []
  for _ in range(n_runs):
    t0 = time.perf_counter()
    call()
    times.append(time.perf_counter() - t0)
  return times


def summarize(record: Record, times: Sequence[float]) -> Record:
  times = sorted(times)
  record.n_runs = len(times)
  record.step_median_s = statistics.median(times)
  record.step_p10_s = float(np.percentile(times, 10))
  record.step_p90_s = float(np.percentile(times, 90))
  if record.flops and record.step_median_s:
    record.flops_per_s = record.flops / record.step_median_s
    if record.peak_flops_per_s:
      record.fraction_of_peak = record.flops_per_s / record.peak_flops_per_s
  return record


def prepare_jax(
    fn: Callable, args: Sequence[Any], *, study: str, variant: str, carry: bool = False,
    donate_argnums: Sequence[int] = (), peak_flops_per_s: float | None = None,
    params: dict[str, Any] | None = None, jit_kwargs: dict[str, Any] | None = None,
) -> tuple[Record, Callable[[], None]]:
  """Trace, lower and compile ``jax.jit(fn)`` on ``args`` (timing each stage), run the first step;
  returns the record and a blocking ``call`` for the steady-state timing.

  With ``carry=True`` the function is a step ``fn(state, *rest) -> (state, aux)`` and each call
  feeds the previous state back in (so donated buffers are never reused).
  """
  r = Record(study, variant, params=dict(params or {}), meta=metadata(), peak_flops_per_s=peak_flops_per_s)
  # Compiled for this process's devices, like the engine's steps: the CPU rewrites apply on a CPU.
  fn = traced_for(platform_of(jax.local_devices()), fn)
  jitted = jax.jit(fn, donate_argnums=tuple(donate_argnums), **(jit_kwargs or {}))
  t0 = time.perf_counter()
  traced = jitted.trace(*args)
  r.trace_s = time.perf_counter() - t0
  t0 = time.perf_counter()
  lowered = traced.lower()
  r.lower_s = time.perf_counter() - t0
  t0 = time.perf_counter()
  compiled = lowered.compile()
  r.compile_s = time.perf_counter() - t0
  r.jaxpr_eqns = count_jaxpr_eqns(traced.jaxpr)
  r.hlo_instructions = count_hlo_instructions(compiled.as_text())
  mem = compiled.memory_analysis()
  if mem is not None:
    r.argument_bytes, r.output_bytes, r.temp_bytes = (
        int(mem.argument_size_in_bytes), int(mem.output_size_in_bytes), int(mem.temp_size_in_bytes))
  r.flops = xla_flops(compiled)

  state = {"args": list(args)}

  def call():
    out = compiled(*state["args"])
    jax.block_until_ready(out)
    if carry:
      state["args"][0] = out[0]

  t0 = time.perf_counter()
  call()
  r.first_step_s = time.perf_counter() - t0
  return r, call


def measure_jax(fn: Callable, args: Sequence[Any], *, n_runs: int = 20, warmup: int = 2, **kwargs: Any) -> Record:
  """Time every stage of ``jax.jit(fn)`` on ``args`` (see :func:`prepare_jax` for the arguments),
  then ``n_runs`` steady-state steps after ``warmup`` untimed ones."""
  r, call = prepare_jax(fn, args, **kwargs)
  return summarize(r, time_calls(call, n_runs, warmup))


def prepare_python(
    call: Callable[[], Any], *, study: str, variant: str, framework: str, flops: float | None = None,
    peak_flops_per_s: float | None = None, params: dict[str, Any] | None = None,
) -> tuple[Record, Callable[[], Any]]:
  """The record of a peer (NumPy, PyTorch, un-jitted JAX) that has no separate compile stages,
  with its first call timed; ``call`` must block until its result is ready. ``flops`` (e.g. the
  JAX variant's XLA count for the same computation) gives the peer's achieved FLOP/s."""
  r = Record(study, variant, framework=framework, params=dict(params or {}), meta=metadata(),
             flops=flops, peak_flops_per_s=peak_flops_per_s)
  t0 = time.perf_counter()
  call()
  r.first_step_s = time.perf_counter() - t0
  return r, call


def measure_python(call: Callable[[], Any], *, n_runs: int = 20, warmup: int = 2, **kwargs: Any) -> Record:
  """A peer's record (see :func:`prepare_python`) with ``n_runs`` timed calls after ``warmup``."""
  r, call = prepare_python(call, **kwargs)
  return summarize(r, time_calls(call, n_runs, warmup))


def measure_interleaved(prepared: Sequence[tuple[Record, Callable[[], Any]]], n_runs: int = 20,
                        warmup: int = 2, settle: int = 1) -> list[Record]:
  """Steady-state times of several prepared variants, taking turns call by call.

  On a machine shared with other jobs the load changes over seconds; alternating A, B, A, B...
  exposes every variant to the same load, so their ratio stays meaningful where back-to-back
  blocks of runs would not be. Each timed call comes after ``settle`` untimed calls of the same
  variant: a framework's worker threads (PyTorch's OpenMP team, XLA's thread pool) keep spinning
  for a while after a call returns, and a call timed right after another framework's would share
  the cores with them (a 16-channel 3x3 convolution at batch 128: XLA's forward 5.0 ms alone,
  7.0-7.5 ms right after PyTorch's; PyTorch's 3.3-4.0 ms alone, 4.4-5.6 ms right after XLA's).
  """
  for _ in range(warmup):
    for _, call in prepared:
      call()
  times: list[list[float]] = [[] for _ in prepared]
  for _ in range(n_runs):
    for i, (_, call) in enumerate(prepared):
      for _ in range(settle):
        call()
      t0 = time.perf_counter()
      call()
      times[i].append(time.perf_counter() - t0)
  return [summarize(r, t) for (r, _), t in zip(prepared, times)]


def measure_peak_matmul(n: int = PEAK_MATMUL_SIZE, n_runs: int = 10) -> float:
  """This machine's float32 matmul rate in FLOP/s, measured now (2·n³ FLOPs per product)."""
  a = jax.random.normal(jax.random.PRNGKey(0), (n, n), jax.numpy.float32)
  f = jax.jit(lambda x, y: x @ y).lower(a, a).compile()
  times = time_calls(lambda: jax.block_until_ready(f(a, a)), n_runs, warmup=2)
  return 2.0 * n**3 / statistics.median(times)


def write_records(records: Sequence[Record], path: str) -> None:
  """Append records as JSON lines."""
  os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
  with open(path, "a") as f:
    for r in records:
      f.write(r.to_json() + "\n")


def read_records(path: str) -> list[dict[str, Any]]:
  with open(path) as f:
    return [json.loads(line) for line in f if line.strip()]


def fmt_seconds(s: float | None) -> str:
  if s is None:
    return "–"
  if s >= 1:
    return f"{s:.2f} s"
  if s >= 1e-3:
    return f"{s * 1e3:.2f} ms"
  return f"{s * 1e6:.0f} µs"


def markdown_table(records: Sequence[Record | dict], ratio_to: str | None = None) -> str:
  """A table of the timing columns; ``ratio_to`` names the variant whose median step is 1.0x."""
  rows = [dataclasses.asdict(r) if isinstance(r, Record) else r for r in records]
  base = next((r["step_median_s"] for r in rows if r["variant"] == ratio_to), None)
  header = ["variant", "framework", "trace", "lower", "compile", "first step", "step (median)",
            "p10–p90", "jaxpr eqns", "HLO instrs", "temp MB", "GFLOP/s", "of peak"]
  if base:
    header.append(f"step vs {ratio_to}")
  lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
  for r in rows:
    cells = [
        r["variant"], r["framework"], fmt_seconds(r["trace_s"]), fmt_seconds(r["lower_s"]),
        fmt_seconds(r["compile_s"]), fmt_seconds(r["first_step_s"]), fmt_seconds(r["step_median_s"]),
        f"{fmt_seconds(r['step_p10_s'])}–{fmt_seconds(r['step_p90_s'])}",
        "–" if r["jaxpr_eqns"] is None else str(r["jaxpr_eqns"]),
        "–" if r["hlo_instructions"] is None else str(r["hlo_instructions"]),
        "–" if r["temp_bytes"] is None else f"{r['temp_bytes'] / 2**20:.1f}",
        "–" if r["flops_per_s"] is None else f"{r['flops_per_s'] / 1e9:.1f}",
        "–" if r["fraction_of_peak"] is None else f"{100 * r['fraction_of_peak']:.0f}%",
    ]
    if base:
      cells.append(f"{r['step_median_s'] / base:.2f}x")
    lines.append("| " + " | ".join(cells) + " |")
  return "\n".join(lines)
