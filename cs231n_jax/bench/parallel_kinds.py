"""Study 3 — one device (``jit``) vs ``jit`` with shardings vs ``pmap`` on 8 simulated CPU devices.

The engine's three step builders (:func:`cs231n_jax.train.steps.build_steps`) compile the same
training step of the course's ThreeLayerConvNet; this measures their compile time and step time
side by side. On a CPU the 8 "devices" share the machine's cores, so the step-time column shows
the partitioning overhead, not a speed-up; on a TPU slice the same code spreads over real chips.

Run it in a process that sees 8 devices: ``run_in_subprocess`` starts one with the XLA flag set.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import jax

from cs231n_jax.bench.harness import Record, count_hlo_instructions, metadata, summarize, time_calls, xla_flops

DEVICES = 8
BATCH = 128
KINDS = ("jit", "sharded", "pmap")


def measure_kind(kind: str, n_runs: int, peak: float | None) -> Record:
  import optax

  from cs231n_jax.data.digits import load_digits
  from cs231n_jax.data.pipeline import BatchIterator
  from cs231n_jax.models import get_model
  from cs231n_jax.tasks.classification import classification_task, prepare_model
  from cs231n_jax.train.steps import build_steps, engine_state, init_key

  data = load_digits("32x32x3")
  model = prepare_model(get_model("three_layer_convnet", filter_size=3), kind)
  task = classification_task(model, optax.sgd(0.01, momentum=0.9))
  steps = build_steps(task, kind)
  batch = next(BatchIterator(data.train, BATCH, 10, seed=0))
  state = steps.put_state(engine_state(task.init(init_key(0), batch), 0))
  batch = steps.put_batch(batch)
  r = Record("parallel_kinds", kind, params={"model": "three_layer_convnet", "batch": BATCH, "devices": jax.device_count()},
             meta=metadata(), peak_flops_per_s=peak)
  t0 = time.perf_counter()
  lowered = steps.train.lower(state, batch)
  r.lower_s = time.perf_counter() - t0  # includes tracing: pmap has no separate trace stage
  t0 = time.perf_counter()
  compiled = lowered.compile()
  r.compile_s = time.perf_counter() - t0
  r.hlo_instructions = count_hlo_instructions(compiled.as_text() or "")
  r.flops = xla_flops(compiled)
  mem = compiled.memory_analysis()
  if mem is not None:
    r.argument_bytes, r.output_bytes, r.temp_bytes = (
        int(mem.argument_size_in_bytes), int(mem.output_size_in_bytes), int(mem.temp_size_in_bytes))
  cell = {"state": state}

  def call():
    cell["state"], m = steps.train(cell["state"], batch)
    jax.block_until_ready(m)

  t0 = time.perf_counter()
  call()  # the builder's own jitted function: compiles (again) on its first call
  r.first_step_s = time.perf_counter() - t0
  return summarize(r, time_calls(call, n_runs, warmup=2))


def run(n_runs: int = 20, peak: float | None = None) -> list[Record]:
  if jax.device_count() != DEVICES:
    raise RuntimeError(f"parallel_kinds needs {DEVICES} devices, this process has {jax.device_count()}; use run_in_subprocess")
  return [measure_kind(kind, n_runs, peak) for kind in KINDS]


def run_in_subprocess(n_runs: int = 20, peak: float | None = None) -> list[Record]:
  env = dict(os.environ, XLA_FLAGS=f"--xla_force_host_platform_device_count={DEVICES}")
  p = subprocess.run([sys.executable, "-m", __name__, str(n_runs), json.dumps(peak)], env=env,
                     capture_output=True, text=True, check=True)
  return [Record(**d) for d in json.loads(p.stdout.strip().splitlines()[-1])]


if __name__ == "__main__":
  import dataclasses

  records = run(int(sys.argv[1]), json.loads(sys.argv[2]))
  print(json.dumps([dataclasses.asdict(r) for r in records], default=str))
