"""PNG figures the runners leave in their workdir: image grids, sample / nearest-neighbour sheets,
ring scatter plots."""

from __future__ import annotations

from typing import Sequence

import numpy as np
from etils import epath

from cs231n_jax.plotting import save_figure, subplots


def tile(images01: np.ndarray, ncols: int, pad: int = 1) -> np.ndarray:
  """``(N, H, W, 1)`` images in [0, 1] to one ``(rows * (H + pad), ncols * (W + pad))`` canvas."""
  x = np.asarray(images01, np.float32)[..., 0]
  n, h, w = x.shape
  nrows = -(-n // ncols)
  canvas = np.ones((nrows * (h + pad) + pad, ncols * (w + pad) + pad), np.float32) * 0.5
  for i in range(n):
    r, c = divmod(i, ncols)
    canvas[pad + r * (h + pad): pad + r * (h + pad) + h, pad + c * (w + pad): pad + c * (w + pad) + w] = x[i]
  return canvas


def save_image_grid(images01: np.ndarray, path: str | epath.PathLike, ncols: int = 10, title: str = "") -> None:
  """A grid of grey images (white = 1, as the digits are drawn: ink is high)."""
  canvas = tile(np.clip(images01, 0.0, 1.0), ncols)
  fig, ax = subplots(figsize=(max(3.0, canvas.shape[1] / 12), max(3.0, canvas.shape[0] / 12) + 0.4))
  ax.imshow(canvas, cmap="gray_r", vmin=0.0, vmax=1.0, interpolation="nearest")
  ax.set_axis_off()
  if title:
    ax.set_title(title, fontsize=9)
  fig.tight_layout()
  save_figure(fig, path, dpi=100)


def save_neighbour_sheet(samples01: np.ndarray, neighbours01: np.ndarray, path: str | epath.PathLike,
                         distances: Sequence[float], title: str = "") -> None:
  """Each sample above its nearest training image (the lecture's memorisation figure)."""
  n = len(samples01)
  fig, axes = subplots(2, n, figsize=(0.9 * n, 2.3))
  for i in range(n):
    for row, img in enumerate((samples01[i], neighbours01[i])):
      ax = axes[row, i]
      ax.imshow(np.clip(img[..., 0], 0, 1), cmap="gray_r", vmin=0, vmax=1, interpolation="nearest")
      ax.set_xticks([])
      ax.set_yticks([])
    axes[1, i].set_xlabel(f"{distances[i]:.2f}", fontsize=7)
  axes[0, 0].set_ylabel("sample", fontsize=7)
  axes[1, 0].set_ylabel("nearest\ntrain", fontsize=7)
  if title:
    fig.suptitle(title, fontsize=9)
  fig.tight_layout()
  save_figure(fig, path, dpi=100)


def save_ring_scatter(panels: Sequence[tuple[str, np.ndarray]], centres: np.ndarray, path: str | epath.PathLike) -> None:
  """One scatter panel per (title, samples ``(N, 2)``) with the true mode centres marked."""
  fig, axes = subplots(1, len(panels), figsize=(2.6 * len(panels), 2.8), squeeze=False)
  for ax, (title, pts) in zip(axes[0], panels):
    ax.scatter(pts[:, 0], pts[:, 1], s=2, alpha=0.4)
    ax.scatter(centres[:, 0], centres[:, 1], s=25, marker="x", color="red")
    ax.set(xlim=(-3, 3), ylim=(-3, 3), title=title, aspect="equal")
    ax.tick_params(labelsize=6)
    ax.title.set_fontsize(8)
  fig.tight_layout()
  save_figure(fig, path, dpi=100)


def save_curves(series: Sequence[tuple[str, Sequence[float], Sequence[float]]], path: str | epath.PathLike,
                xlabel: str, ylabel: str, title: str = "") -> None:
  """Line plot of ``(label, x, y)`` series."""
  fig, ax = subplots(figsize=(6, 4))
  for label, x, y in series:
    ax.plot(x, y, label=label)
  ax.set(xlabel=xlabel, ylabel=ylabel, title=title)
  ax.grid(alpha=0.3)
  ax.legend(fontsize=8)
  fig.tight_layout()
  save_figure(fig, path, dpi=100)
