"""Searching for interpretable cells (Karpathy, Johnson and Fei-Fei 2016; lecture 10).

A trained character LSTM reads held-out text; every cell's activation ``tanh(c_t)`` is recorded at
every character. Each cell is compared (Pearson correlation) with simple properties of the text
that a person can name — inside a double-quoted string, inside parentheses, the position in the
line, inside an indented (code) line — and the best-matching cell for each is drawn with every
character coloured by that cell's activation (blue -1 … red +1), the lecture's figure.

The cell states come from the course's own ``lstm_forward`` (its cache holds every c_t), run on
the Flax model's parameters — the two parameterisations are the same by construction.
"""

from __future__ import annotations

from typing import Any

import jax.numpy as jnp
import numpy as np

from cs231n_jax.errors import ConfigError
from cs231n_jax.layers.rnn_layers import lstm_forward
from cs231n_jax.plotting import save_figure, subplots
from cs231n_jax.text.model import CharLM

LSTM_CACHE_CELL_INDEX = 6  # lstm_forward's cache: (x, h0, c0, Wx, Wh, h, c, i, f, o, g, tanh_c)
MAX_DEPTH = 3  # parenthesis depth is clipped: depth 1 vs 0 is what a cell can show
FIGURE_COLUMNS = 80


def cell_activations(model: CharLM, params, ids: np.ndarray, layer: int = 0) -> np.ndarray:
  """(T, H) ``tanh(c_t)`` of LSTM layer ``layer`` while the model reads ``ids`` from a zero state."""
  if model.cell != "lstm":
    raise ConfigError(f"model.cell: interpretable cells need an LSTM (cell states), got {model.cell!r}")
  if not 0 <= layer < model.num_layers:
    raise ValueError(f"cell_activations: layer must be in [0, {model.num_layers}), got {layer}")
  x = model.apply({"params": params}, jnp.asarray(ids)[None], method=CharLM.input_vectors)
  for l in range(layer + 1):
    p = params["rnn"][f"layer_{l}"]
    h0 = jnp.zeros((1, model.hidden_size), x.dtype)
    h, cache = lstm_forward(x, h0, p["Wx"], p["Wh"], p["b"])
    x = h
  return np.tanh(np.asarray(cache[LSTM_CACHE_CELL_INDEX][0]))


def text_features(text: str) -> dict[str, np.ndarray]:
  """Per-character properties: quote, parenthesis, line-position and indentation indicators."""
  n = len(text)
  inside_quotes = np.zeros(n)
  depth = np.zeros(n)
  position = np.zeros(n)
  indented = np.zeros(n)
  quoted, d, col, line_indented = False, 0, 0, False
  for i, ch in enumerate(text):
    if ch == "\n":
      col, line_indented = 0, text[i + 1:i + 4] == "   "
    else:
      col += 1
    if ch == '"':
      quoted = not quoted
    if ch in "([{":
      d += 1
    elif ch in ")]}":
      d = max(d - 1, 0)
    inside_quotes[i], depth[i], position[i], indented[i] = quoted, min(d, MAX_DEPTH), col, line_indented
  return {"inside double quotes": inside_quotes, "inside parentheses": (depth > 0).astype(float),
          "position in line": position, "inside an indented (code) line": indented}


def find_interpretable_cells(activations: np.ndarray, features: dict[str, np.ndarray]) -> dict[str, dict[str, Any]]:
  """For each feature: the cell whose activation correlates best with it (|Pearson r|)."""
  a = activations - activations.mean(axis=0)
  a_norm = np.sqrt(np.sum(a * a, axis=0)) + 1e-12
  out = {}
  for name, f in features.items():
    f = f - f.mean()
    r = (f @ a) / (np.sqrt(np.sum(f * f)) + 1e-12) / a_norm
    best = int(np.argmax(np.abs(r)))
    out[name] = {"cell": best, "correlation": float(r[best])}
  return out


def plot_cells(text: str, activations: np.ndarray, found: dict[str, dict[str, Any]], path,
               columns: int = FIGURE_COLUMNS) -> None:
  """The lecture's figure: the text, each character on a background coloured by one cell."""
  import matplotlib
  import matplotlib.patches

  rows, r, c = [], 0, 0
  for ch in text:  # (row, column) of every character, wrapping long lines
    rows.append((r, c))
    if ch == "\n" or c == columns - 1:
      r, c = r + 1, 0
    else:
      c += 1
  num_rows = r + 1
  cmap = matplotlib.colormaps["coolwarm"]
  fig, axes = subplots(len(found), 1, figsize=(columns * 0.11, len(found) * (num_rows * 0.17 + 0.5)), squeeze=False)
  for ax, (name, info) in zip(axes[:, 0], found.items()):
    values = activations[:, info["cell"]]
    for ch, (row, col), v in zip(text, rows, values):
      ax.add_patch(matplotlib.patches.Rectangle((col, num_rows - row - 1), 1, 1, color=cmap((v + 1) / 2), lw=0))
      if ch not in "\n ":
        ax.text(col + 0.5, num_rows - row - 0.5, ch, ha="center", va="center", fontsize=6, family="monospace")
    ax.set_xlim(0, columns)
    ax.set_ylim(0, num_rows)
    ax.set_axis_off()
    ax.set_title(f"cell {info['cell']}: {name} (r = {info['correlation']:+.2f})", fontsize=8, loc="left")
  fig.tight_layout()
  save_figure(fig, path, dpi=110)


def interpretable_cells(model: CharLM, params, vocab, ids: np.ndarray, path, layer: int = 0,
                        figure_chars: int = 600) -> dict[str, dict[str, Any]]:
  """Activations over ``ids``, the best cell per feature (correlations over all of ``ids``), and the
  figure of the first ``figure_chars`` characters at ``path``."""
  text = vocab.decode(ids)
  acts = cell_activations(model, params, ids, layer)
  found = find_interpretable_cells(acts, text_features(text))
  plot_cells(text[:figure_chars], acts[:figure_chars], found, path)
  return found
