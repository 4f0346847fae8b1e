"""Figures for files, without pyplot.

Library code draws on a bare ``matplotlib.figure.Figure``: it needs no GUI backend and never calls
``matplotlib.use``, which would switch a notebook's inline backend off for every later cell (a
Colab notebook that runs a training job would stop showing its own plots).
"""

from __future__ import annotations

from typing import Any


def subplots(nrows: int = 1, ncols: int = 1, **kwargs: Any):
  """``(figure, axes)`` like ``pyplot.subplots``; ``figsize`` and ``dpi`` go to the figure, the rest
  to ``Figure.subplots``. The figure is not registered with pyplot: nothing to close."""
  from matplotlib.figure import Figure

  figure_kwargs = {k: kwargs.pop(k) for k in ("figsize", "dpi") if k in kwargs}
  fig = Figure(**figure_kwargs)
  return fig, fig.subplots(nrows, ncols, **kwargs)


def save_figure(fig: Any, path: Any, dpi: int = 100, **kwargs: Any) -> None:
  """Write ``fig`` to ``path`` (a local path or any ``etils.epath`` location, ``gs://...``
  included) through the path's own file object; the format comes from the suffix (png if none).

  ``Figure.savefig(path)`` would go through the local file system: ``gs://b/x.png`` would become
  a local ``gs:/b/x.png``."""
  from etils import epath

  path = epath.Path(path)
  with path.open("wb") as f:
    fig.savefig(f, format=path.suffix.lstrip(".") or "png", dpi=dpi, **kwargs)
