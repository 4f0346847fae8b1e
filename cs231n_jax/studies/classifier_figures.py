"""Plots of lectures 2-3: the cross-validation curve for k, linear classifiers' class templates,
and the Solver's loss and accuracy curves. matplotlib is imported only when a plot is drawn."""

from __future__ import annotations

from typing import Sequence

import numpy as np

PIXEL_MAX = 255.0


def weight_templates(W, image_shape: Sequence[int]) -> np.ndarray:
  """Each class's column of W (D, C) as an image (C, H, W[, channels]) rescaled to [0, 255].

  Lecture 2's visual viewpoint: a linear classifier learns one template per class. ``image_shape``
  is the (H, W, C) shape the rows of X were flattened from (HWC order, as the runners flatten).
  """
  W = np.asarray(W)
  if W.ndim != 2 or W.shape[0] != int(np.prod(image_shape)):
    raise ValueError(f"weight_templates: W {W.shape} must be (D, C) with D = prod{tuple(image_shape)} = {int(np.prod(image_shape))}")
  templates = np.moveaxis(W, 1, 0).reshape((W.shape[1],) + tuple(image_shape))
  lo, hi = templates.min(), templates.max()
  scaled = PIXEL_MAX * (templates - lo) / (hi - lo if hi > lo else 1.0)
  return scaled[..., 0] if scaled.shape[-1] == 1 else scaled


def plot_weight_templates(W, image_shape: Sequence[int], class_names: Sequence[str]):
  """A figure with one template image per class."""
  import matplotlib.pyplot as plt

  templates = weight_templates(W, image_shape)
  fig, axes = plt.subplots(1, len(templates), figsize=(1.2 * len(templates), 1.6))
  for ax, image, name in zip(np.atleast_1d(axes), templates, class_names):
    ax.imshow(image.astype(np.uint8), cmap="gray" if image.ndim == 2 else None)
    ax.set_title(name)
    ax.axis("off")
  return fig


def plot_cross_validation(k_to_accuracies: dict[int, list[float]], title: str = "Cross-validation on k"):
  """Lecture 2's plot: every fold's accuracy as a point, the mean as a line, std as error bars."""
  import matplotlib.pyplot as plt

  fig, ax = plt.subplots(figsize=(6, 4))
  ks = sorted(k_to_accuracies)
  for k in ks:
    ax.scatter([k] * len(k_to_accuracies[k]), k_to_accuracies[k], color="tab:blue", s=12)
  means = [np.mean(k_to_accuracies[k]) for k in ks]
  stds = [np.std(k_to_accuracies[k]) for k in ks]
  ax.errorbar(ks, means, yerr=stds, color="tab:red")
  ax.set_xlabel("k")
  ax.set_ylabel("Cross-validation accuracy")
  ax.set_title(title)
  return fig


def plot_training_curves(solver):
  """Training loss per iteration, and train / validation accuracy per epoch (the Solver's lists)."""
  import matplotlib.pyplot as plt

  fig, (ax_loss, ax_acc) = plt.subplots(2, 1, figsize=(7, 6))
  ax_loss.plot(solver.loss_history, "o", markersize=2)
  ax_loss.set_xlabel("Iteration")
  ax_loss.set_ylabel("Training loss")
  ax_acc.plot(solver.train_acc_history, "-o", label="train")
  ax_acc.plot(solver.val_acc_history, "-o", label="val")
  ax_acc.set_xlabel("Epoch")
  ax_acc.set_ylabel("Accuracy")
  ax_acc.legend(loc="lower right")
  fig.tight_layout()
  return fig
