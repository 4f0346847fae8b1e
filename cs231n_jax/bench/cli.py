"""``cs231n-jax bench STUDY [--out DIR] [--quick]``: run benchmark studies, write records and tables.

Studies: static_vs_dynamic, scan_vs_unrolled, parallel_kinds, compile_cache, remat_donation,
scan_layers, course_layers, peers, conv_kernels, all; plus ``model --model NAME [--step train|eval]`` and
``fn --fn module:function`` for anything else. ``--quick`` shrinks every study (for a smoke run).
"""

from __future__ import annotations

import os
import time
from typing import Sequence

STUDIES = ("static_vs_dynamic", "scan_vs_unrolled", "parallel_kinds", "compile_cache", "remat_donation",
           "scan_layers", "course_layers", "peers", "conv_kernels")


def run_study(name: str, out: str, quick: bool, peak: float) -> list:
  from cs231n_jax.bench import report

  n = 3 if quick else None
  if name == "static_vs_dynamic":
    from cs231n_jax.bench import static_dynamic as s

    records = s.run(s.LECTURE_SIZES, n_runs=n or 50, peak=peak, with_compile=not quick)
    if not quick:
      records += s.run(s.LARGE_SIZES, n_runs=20, peak=peak, with_compile=True)
    for r in records:
      r.variant = f"{r.variant} ({r.params['N']}x{r.params['D_in']}x{r.params['H']})"
    report.write_study(out, name, records, ratio_to=records[0].variant)
    report.plot_step_bars(records, os.path.join(out, f"{name}.png"), "lecture 8's two-layer net: one SGD step")
  elif name == "scan_vs_unrolled":
    from cs231n_jax.bench import scan_unrolled as s

    records = s.run(lengths=(8, 32) if quick else s.LENGTHS, n_runs=n or 10, peak=peak)
    report.write_study(out, name, records)
    report.plot_scan_vs_unrolled(records, os.path.join(out, f"{name}.png"))
  elif name == "parallel_kinds":
    from cs231n_jax.bench import parallel_kinds as s

    records = s.run_in_subprocess(n_runs=n or 20, peak=peak)
    report.write_study(out, name, records, ratio_to="jit")
  elif name == "compile_cache":
    from cs231n_jax.bench import compile_cache as s

    records = s.run()
    report.write_study(out, name, records)
  elif name in ("remat_donation", "scan_layers"):
    from cs231n_jax.bench import memory as s

    if name == "remat_donation":
      records = s.run_remat_donation("resnet20" if quick else "resnet56", n_runs=n or 5, peak=peak)
    else:
      records = s.run_scan_layers(("resnet20",) if quick else ("resnet56", "resnet110"), n_runs=n or 3, peak=peak)
    report.write_study(out, name, records)
  elif name == "course_layers":
    from cs231n_jax.bench import course_layers as s

    records = s.run(batch=8 if quick else s.BATCH, n_runs=n or 5, peak=peak)
    report.write_study(out, name, records, ratio_to=records[0].variant)
  elif name == "peers":
    from cs231n_jax.bench import peers as s

    records = s.run(models=("three_layer_convnet",) if quick else s.MODELS, n_runs=n or 10, peak=peak)
    report.write_study(out, name, records)
    report.plot_step_bars(records, os.path.join(out, f"{name}.png"), "training step, batch 128: Flax/JAX vs PyTorch eager")
  elif name == "conv_kernels":
    from cs231n_jax.bench import conv_kernels as s

    records = s.run(shapes=s.SHAPES[:1] if quick else s.SHAPES, batch=8 if quick else s.BATCH, n_runs=n or 10,
                    peak=peak)
    report.write_study(out, name, records)
    with open(os.path.join(out, f"{name}.md"), "a") as f:
      f.write(s.ratio_table(records))
  else:
    raise ValueError(f"study: expected one of {STUDIES + ('all',)}, got {name!r}")
  return records


def main(argv: Sequence[str]) -> int:
  """Run the requested studies; a usage error prints one line and returns 2."""
  import sys

  from cs231n_jax.errors import Cs231nError

  try:
    return _main(argv)
  except (Cs231nError, ValueError) as e:
    print(f"cs231n-jax: error: bench: {e}", file=sys.stderr)
    return 2


def _main(argv: Sequence[str]) -> int:
  from cs231n_jax.bench.harness import measure_peak_matmul, write_records
  from cs231n_jax.command_line import Parser

  p = Parser(prog="cs231n-jax bench")
  p.add_argument("study", choices=STUDIES + ("all", "model", "fn"))
  p.add_argument("--out", default="bench_out")
  p.add_argument("--quick", action="store_true", help="small sizes, few runs (a smoke run)")
  p.add_argument("--model", help="for `model`: a registered model name")
  p.add_argument("--step", default="train", choices=("train", "eval"), help="for `model`")
  p.add_argument("--batch", type=int, default=128)
  p.add_argument("--fn", help="for `fn`: module:function returning (fn, args)")
  args = p.parse_args(argv)
  peak = measure_peak_matmul(1024 if args.quick else 2048)
  print(f"float32 matmul peak of this machine, measured now: {peak / 1e9:.1f} GFLOP/s")
  if args.study == "model":
    from cs231n_jax.bench.model_step import model_step

    records = [model_step(args.model, args.step, args.batch, peak=peak)]
  elif args.study == "fn":
    from cs231n_jax.bench.model_step import function

    records = [function(args.fn, peak=peak)]
  else:
    records = []
    for name in (STUDIES if args.study == "all" else (args.study,)):
      t0 = time.time()
      records += run_study(name, args.out, args.quick, peak)
      print(f"{name}: {time.time() - t0:.0f} s -> {os.path.join(args.out, name + '.md')}")
  write_records(records, os.path.join(args.out, "records.jsonl"))
  from cs231n_jax.bench.harness import markdown_table

  if args.study in ("model", "fn"):
    print(markdown_table(records))
  return 0


def run_config(config, workdir: str) -> dict:
  """Runner for ``experiments/configs/bench/*.py``: ``config.study`` (and ``config.quick``) into
  ``workdir``; returns the median step time of every variant."""
  from cs231n_jax.bench.harness import measure_peak_matmul, write_records

  peak = measure_peak_matmul(1024 if config.quick else 2048)
  records = run_study(config.study, workdir, config.quick, peak)
  write_records(records, os.path.join(workdir, "records.jsonl"))
  return {"peak_gflops": peak / 1e9, **{r.variant: r.step_median_s for r in records}}
