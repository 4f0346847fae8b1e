"""Markdown tables and PNG plots of benchmark records."""

from __future__ import annotations

import os
from typing import Sequence

from cs231n_jax.bench.harness import Record, markdown_table
from cs231n_jax.plotting import subplots


def plot_scan_vs_unrolled(records: Sequence[Record], path: str) -> None:
  """Compile time and step time against sequence length, scan vs unrolled, per cell."""
  fig, axes = subplots(1, 2, figsize=(11, 4))
  for cell in sorted({r.params["cell"] for r in records}):
    for loop, style in (("scan", "o-"), ("unrolled", "s--")):
      rows = [r for r in records if r.params["cell"] == cell and r.params["loop"] == loop and r.compile_s]
      ts = [r.params["T"] for r in rows]
      axes[0].plot(ts, [r.compile_s for r in rows], style, label=f"{cell} {loop}")
      axes[1].plot(ts, [r.step_median_s * 1e3 for r in rows], style, label=f"{cell} {loop}")
  axes[0].set(xscale="log", yscale="log", xlabel="sequence length T", ylabel="XLA compile time (s)",
              title="compile time")
  axes[1].set(xscale="log", yscale="log", xlabel="sequence length T", ylabel="step time (ms)",
              title="forward + backward step time")
  for ax in axes:
    ax.grid(alpha=0.3, which="both")
    ax.legend()
  fig.tight_layout()
  fig.savefig(path, dpi=100)


def plot_step_bars(records: Sequence[Record], path: str, title: str) -> None:
  """Median step time per variant as horizontal bars (p10–p90 as error bars)."""
  rows = [r for r in records if r.step_median_s]
  fig, ax = subplots(figsize=(8, 0.45 * len(rows) + 1.2))
  y = range(len(rows))
  med = [r.step_median_s * 1e3 for r in rows]
  err = [[m - r.step_p10_s * 1e3 for m, r in zip(med, rows)], [r.step_p90_s * 1e3 - m for m, r in zip(med, rows)]]
  ax.barh(list(y), med, xerr=err, color=["C0" if r.framework == "jax" else "C1" for r in rows])
  ax.set_yticks(list(y), [r.variant for r in rows])
  ax.invert_yaxis()
  ax.set(xscale="log", xlabel="step time (ms, log scale)", title=title)
  ax.grid(alpha=0.3, axis="x")
  fig.tight_layout()
  fig.savefig(path, dpi=100)


def write_study(out_dir: str, study: str, records: Sequence[Record], ratio_to: str | None = None) -> str:
  """``<study>.md`` (the table) in ``out_dir``; returns the table."""
  os.makedirs(out_dir, exist_ok=True)
  table = markdown_table(records, ratio_to=ratio_to)
  meta = records[0].meta if records else {}
  header = (f"## {study}\n\nmeasured {meta.get('time', '?')} on {meta.get('backend', '?')} "
            f"({meta.get('device_kind', '?')}, {meta.get('cpu_count', '?')} CPUs), jax {meta.get('jax', '?')}\n\n")
  with open(os.path.join(out_dir, f"{study}.md"), "w") as f:
    f.write(header + table + "\n")
  return table
