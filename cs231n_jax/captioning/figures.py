"""Figures: generated captions under their images, and attention maps drawn over the images
(Show, Attend and Tell's figure: for every generated word, where the model looked)."""

from __future__ import annotations

import math

import numpy as np

from cs231n_jax.captioning.data import CaptionSplit
from cs231n_jax.plotting import save_figure, subplots


def plot_samples(split: CaptionSplit, captions: list[str], path, num: int = 8) -> None:
  """Images with the generated caption (top) and the first reference (below)."""
  num = min(num, split.num_images)
  cols = min(num, 4)
  rows = math.ceil(num / cols)
  fig, axes = subplots(rows, cols, figsize=(3.2 * cols, 3.2 * rows), squeeze=False)
  for ax in axes.ravel():
    ax.set_axis_off()
  for i in range(num):
    ax = axes.ravel()[i]
    ax.imshow(np.clip(split.inputs[i], 0, 1), interpolation="nearest")
    ax.set_title(f"{captions[i]}\nGT: {' '.join(split.references[i][0])}", fontsize=7)
  fig.tight_layout()
  save_figure(fig, path, dpi=100)


def upsample_attention(weights: np.ndarray, image_size: int) -> np.ndarray:
  """(L,) weights over a square grid -> (image_size, image_size), each cell a block of pixels."""
  grid = int(round(math.sqrt(weights.shape[-1])))
  if grid * grid != weights.shape[-1]:
    raise ValueError(f"upsample_attention: {weights.shape[-1]} locations do not form a square grid")
  block = math.ceil(image_size / grid)
  return np.kron(weights.reshape(grid, grid), np.ones((block, block)))[:image_size, :image_size]


def plot_attention(split: CaptionSplit, captions: list[str], attention: np.ndarray, path, num: int = 3) -> None:
  """One row per image: the image, then for each generated word the attention of the step that
  produced it, overlaid on the image."""
  num = min(num, split.num_images)
  words = [c.split() + ["<END>"] for c in captions[:num]]
  cols = 1 + max(len(w) for w in words)
  fig, axes = subplots(num, cols, figsize=(1.6 * cols, 1.8 * num), squeeze=False)
  size = split.inputs.shape[1]
  for r in range(num):
    image = np.clip(split.inputs[r], 0, 1)
    for ax in axes[r]:
      ax.set_axis_off()
    axes[r, 0].imshow(image, interpolation="nearest")
    axes[r, 0].set_title("image", fontsize=7)
    for t, w in enumerate(words[r]):
      ax = axes[r, t + 1]
      ax.imshow(image, interpolation="nearest")
      heat = upsample_attention(attention[r, t], size)
      ax.imshow(heat / max(heat.max(), 1e-12), cmap="magma", alpha=0.6, interpolation="bilinear")
      ax.set_title(w, fontsize=8)
  fig.tight_layout()
  save_figure(fig, path, dpi=100)
