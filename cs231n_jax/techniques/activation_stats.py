"""Lecture 6's activation-statistics experiment (seed lines 6069-6290), reproduced.

A 10-layer network of 500-unit layers (no biases) on ``D = randn(1000, 500)``; each layer is
``H = act(X @ W)`` with ``W = randn(fan_in, fan_out) * scale``. The slide's settings:

=====================  ===============================  =========================================
setting                weights                          what the slide shows
=====================  ===============================  =========================================
tanh_0.01              randn * 0.01                     std collapses to 0 ("All activations
                                                        become zero!"): 0.213, 0.048, ... 0.000
tanh_1.0               randn * 1.0                      saturated at +-1: std 0.98 everywhere
tanh_xavier            randn / sqrt(fan_in)             reasonable: std 0.63 -> 0.23
relu_xavier            randn / sqrt(fan_in)             halves the variance per layer: std
                                                        0.58 -> 0.027 ("it breaks")
relu_he                randn * sqrt(2 / fan_in)         stable: mean 0.56, std 0.83
=====================  ===============================  =========================================

**Slide error (flagged, not copied).** The He slide's code reads ``W = np.random.randn(fan_in,
fan_out) / np.sqrt(2/fan_in)``, i.e. it multiplies by ``sqrt(fan_in / 2)``; that blows the
activations up (std ~2e2 after one layer, ~1e7 after three) and under Python 2 (``2/fan_in == 0``)
divides by zero. The printed statistics (std 0.83, stable) are those of ``* sqrt(2 / fan_in)``,
which is what ``relu_he`` uses; ``relu_he_as_transcribed`` runs the typo so the table shows why.

Besides the slide's per-layer mean / std and histograms, the study records the std of each
layer's weight gradient for a random linear read-out of the last layer, which answers the slide's
"think about the backward pass": tiny activations give tiny weight gradients (``dW = X^T dH``),
saturated ones zero local gradients.
"""

from __future__ import annotations

import math
from typing import Any, Callable, Sequence

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
from etils import epath

from cs231n_jax.errors import ConfigError
from cs231n_jax.plotting import save_figure, subplots
from cs231n_jax.techniques import checks

NONLINEARITIES: dict[str, Callable[[jax.Array], jax.Array]] = {"tanh": jnp.tanh, "relu": jax.nn.relu}
SETTINGS = ("tanh_0.01", "tanh_1.0", "tanh_xavier", "relu_xavier", "relu_he", "relu_he_as_transcribed")
HIST_RANGE = (-1.0, 1.0)  # the slide's plt.hist(H.ravel(), 30, range=(-1, 1))
HIST_BINS = 30


def weight_scale(setting: str, fan_in: int) -> float:
  """The multiplier of ``randn(fan_in, fan_out)`` for a setting."""
  init = setting.split("_", 1)[1]
  if init == "xavier":
    return 1.0 / math.sqrt(fan_in)
  if init == "he":
    return math.sqrt(2.0 / fan_in)
  if init == "he_as_transcribed":
    return 1.0 / math.sqrt(2.0 / fan_in)  # the slide's "/ np.sqrt(2/fan_in)"
  try:
    return float(init)
  except ValueError:
    raise ValueError(f"setting: expected one of {SETTINGS} (or '<act>_<number>'), got {setting!r}") from None


def forward_stats(key: jax.Array, setting: str, num_layers: int = 10, width: int = 500,
                  num_examples: int = 1000) -> dict[str, Any]:
  """Per-layer mean / std of the activations (and weight-gradient std) for one setting."""
  act_name = setting.split("_", 1)[0]
  if act_name not in NONLINEARITIES:
    raise ValueError(f"setting: expected a nonlinearity from {tuple(NONLINEARITIES)}, got {setting!r}")
  act = NONLINEARITIES[act_name]
  k_data, k_readout, *k_layers = jax.random.split(key, num_layers + 2)
  data = jax.random.normal(k_data, (num_examples, width))
  weights = [jax.random.normal(k, (width, width)) * weight_scale(setting, width) for k in k_layers]

  def forward(weights):
    hs, x = [], data
    for w in weights:
      x = act(x @ w)
      hs.append(x)
    return hs

  hs = forward(weights)
  readout = jax.random.normal(k_readout, (num_examples, width)) / num_examples
  grads = jax.grad(lambda ws: jnp.sum(forward(ws)[-1] * readout))(weights)
  hist = [np.histogram(np.asarray(h).ravel(), HIST_BINS, range=HIST_RANGE)[0] for h in hs]
  return {
      "input_mean": float(data.mean()), "input_std": float(data.std()),
      "mean": [float(h.mean()) for h in hs],
      "std": [float(h.std()) for h in hs],
      "grad_std": [float(g.std()) for g in grads],
      "histograms": [h.tolist() for h in hist],
  }


def format_table(setting: str, stats: dict[str, Any]) -> str:
  """The slide's printout: input layer, then ``hidden layer i had mean m and std s``."""
  lines = [f"# {setting}", f"input layer had mean {stats['input_mean']:f} and std {stats['input_std']:f}"]
  for i, (m, s, g) in enumerate(zip(stats["mean"], stats["std"], stats["grad_std"]), start=1):
    lines.append(f"hidden layer {i} had mean {m:f} and std {s:f}   (weight-gradient std {g:.3e})")
  return "\n".join(lines)


def plot_statistics(results: dict[str, dict[str, Any]], path: epath.PathLike) -> None:
  """Per setting: layer means, layer stds (log scale) and the histogram of each layer's values."""
  settings = list(results)
  num_layers = len(next(iter(results.values()))["std"])
  fig, axes = subplots(len(settings), num_layers + 2, figsize=(2 * (num_layers + 2), 1.9 * len(settings)), squeeze=False)
  edges = np.linspace(*HIST_RANGE, HIST_BINS + 1)
  for row, setting in enumerate(settings):
    s = results[setting]
    layers = np.arange(1, num_layers + 1)
    axes[row, 0].plot(layers, s["mean"], "o-")
    axes[row, 0].set_title(f"{setting}: mean", fontsize=8)
    axes[row, 1].semilogy(layers, np.maximum(s["std"], 1e-30), "o-r")
    axes[row, 1].set_title("std (log)", fontsize=8)
    for i, counts in enumerate(s["histograms"]):
      ax = axes[row, i + 2]
      ax.bar(edges[:-1], counts, width=np.diff(edges), align="edge")
      ax.set_yticks([])
      ax.set_xticks([-1, 0, 1])
      ax.tick_params(labelsize=6)
      if row == 0:
        ax.set_title(f"layer {i + 1}", fontsize=8)
  fig.tight_layout()
  save_figure(fig, path, dpi=80)


def run_activation_statistics(config: ml_collections.ConfigDict, workdir: str) -> dict[str, Any]:
  """Every setting of ``config.settings``; writes the tables and ``activation_statistics.png``."""
  unknown = [s for s in config.settings if s.split("_", 1)[0] not in NONLINEARITIES]
  if unknown:
    raise ConfigError(f"settings: {unknown[0]!r} is not one of {SETTINGS}")
  for field in ("num_layers", "width", "num_examples"):
    checks.integer(config[field], field)
  workdir = epath.Path(workdir)
  workdir.mkdir(parents=True, exist_ok=True)
  key = jax.random.PRNGKey(config.seed)
  results = {}
  for i, setting in enumerate(config.settings):
    results[setting] = forward_stats(jax.random.fold_in(key, i), setting, config.num_layers, config.width, config.num_examples)
  (workdir / "activation_statistics.txt").write_text("\n\n".join(format_table(s, r) for s, r in results.items()) + "\n")
  plot_statistics({s: r for s, r in results.items() if s != "relu_he_as_transcribed"}, workdir / "activation_statistics.png")
  return {s: {k: r[k] for k in ("mean", "std", "grad_std")} for s, r in results.items()}


def default_settings() -> Sequence[str]:
  return SETTINGS
