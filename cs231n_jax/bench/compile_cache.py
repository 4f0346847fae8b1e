"""Study 4 — JAX's persistent compilation cache: the first step of a cold process vs a warm one.

Two fresh Python processes run the same program — build a CIFAR ResNet-20 training step, run it
once — with ``jax_compilation_cache_dir`` pointing at the same (initially empty) directory. The
first process compiles and writes the executable to the cache; the second finds it there. Each
process reports how long the first step took (tracing + lowering + compiling or loading + running)
and its own wall time from start to exit.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time

from cs231n_jax.bench.harness import Record, metadata

MODEL = "resnet20"
BATCH = 128


def first_step_seconds(cache_dir: str | None) -> dict[str, float]:
  """In this process: build the step, time its first call (and a second one, for reference)."""
  import jax

  if cache_dir:
    jax.config.update("jax_compilation_cache_dir", cache_dir)
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
  import numpy as np
  import optax

  from cs231n_jax.models import get_model
  from cs231n_jax.tasks.classification import classification_task
  from cs231n_jax.train.steps import build_steps, engine_state, init_key

  task = classification_task(get_model(MODEL), optax.sgd(0.1, momentum=0.9))
  steps = build_steps(task, "jit")
  x = np.zeros((BATCH, 32, 32, 3), np.float32)
  batch = {"image": x, "label": np.zeros(BATCH, np.int32), "mask": np.ones(BATCH, np.float32)}
  state = steps.put_state(engine_state(task.init(init_key(0), batch), 0))
  batch = steps.put_batch(batch)
  t0 = time.perf_counter()
  state, m = steps.train(state, batch)
  jax.block_until_ready(m)
  first = time.perf_counter() - t0
  t0 = time.perf_counter()
  state, m = steps.train(state, batch)
  jax.block_until_ready(m)
  return {"first_step_s": first, "second_step_s": time.perf_counter() - t0}


def run() -> list[Record]:
  records = []
  with tempfile.TemporaryDirectory(prefix="jax-cache-") as cache:
    for variant in ("cold process, empty cache", "warm process, cache hit"):
      t0 = time.perf_counter()
      p = subprocess.run([sys.executable, "-m", __name__, cache], capture_output=True, text=True, check=True)
      wall = time.perf_counter() - t0
      out = json.loads(p.stdout.strip().splitlines()[-1])
      entries = sum(len(files) for _, _, files in os.walk(cache))
      records.append(Record("compile_cache", variant, first_step_s=out["first_step_s"],
                            step_median_s=out["second_step_s"], n_runs=1, meta=metadata(),
                            params={"model": MODEL, "batch": BATCH, "process_wall_s": wall,
                                    "cache_files_after": entries}))
  return records


if __name__ == "__main__":
  print(json.dumps(first_step_seconds(sys.argv[1] if len(sys.argv) > 1 else None)))
