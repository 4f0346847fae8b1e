"""What a finished run leaves for people: curves, a confusion matrix, a summary table."""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
from etils import epath

from cs231n_jax.plotting import save_figure, subplots


def plot_curves(records: Sequence[dict[str, Any]], path: str | epath.PathLike,
                metrics: Sequence[str] = ("loss", "accuracy")) -> None:
  """Each of ``metrics`` against step, training and validation, one panel each, as one PNG
  (a metric no record has is left out)."""
  metrics = [m for m in dict.fromkeys(metrics) if any(m in r for r in records)] or ["loss"]
  fig, axes = subplots(1, len(metrics), figsize=(5 * len(metrics), 4), squeeze=False)
  for ax, metric in zip(axes[0], metrics):
    for split, style in (("train", "-"), ("val", "o-")):
      rows = [r for r in records if r.get("split") == split and metric in r]
      if rows:
        ax.plot([r["step"] for r in rows], [r[metric] for r in rows], style, label=split, markersize=3)
    ax.set(xlabel="step", ylabel=metric, title=metric)
    if metric == "accuracy":
      ax.set_ylim(0, 1.02)
    ax.grid(alpha=0.3)
    ax.legend()
  fig.tight_layout()
  save_figure(fig, path, dpi=100)


def plot_confusion(confusion: np.ndarray, class_names: Sequence[str], path: str | epath.PathLike,
                   title: str = "confusion matrix (test)") -> None:
  """Rows are true classes, columns predictions; cells show counts."""
  c = np.asarray(confusion)
  n = c.shape[0]
  fig, ax = subplots(figsize=(1 + 0.5 * n, 1 + 0.5 * n))
  ax.imshow(c, cmap="Blues")
  for i in range(n):
    for j in range(n):
      if c[i, j]:
        ax.text(j, i, int(c[i, j]), ha="center", va="center",
                color="white" if c[i, j] > c.max() / 2 else "black", fontsize=8)
  ax.set(xticks=range(n), yticks=range(n), xticklabels=class_names, yticklabels=class_names,
         xlabel="predicted", ylabel="true", title=title)
  fig.tight_layout()
  save_figure(fig, path, dpi=100)


def summary_table(rows: Sequence[tuple[str, Any]]) -> str:
  """A two-column text table."""
  width = max(len(k) for k, _ in rows)
  lines = [f"{k:<{width}}  {v:.4f}" if isinstance(v, float) else f"{k:<{width}}  {v}" for k, v in rows]
  rule = "-" * max(len(line) for line in lines)
  return "\n".join([rule, *lines, rule])
