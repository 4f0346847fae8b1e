"""Where the experiment configs are, in a checkout and in an installed distribution.

In a checkout they are ``experiments/configs`` next to the package. The distribution (wheel,
sdist, ``pip install .``) ships the same files as the package ``cs231n_jax.experiment_configs``
(``setup.py`` maps the folder onto it without moving it; the folders have no ``__init__.py``, so it
is a namespace package, installed as plain files). ``default_configs_root()`` prefers the checkout,
so that a config edited there is the one that runs.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

PACKAGE = "cs231n_jax.experiment_configs"


def checkout_configs() -> Path:
  """``experiments/configs`` of the checkout this package was imported from (it may not exist)."""
  return Path(__file__).resolve().parents[1] / "experiments" / "configs"


def installed_configs() -> Path | None:
  """The configs installed with the package (``cs231n_jax/experiment_configs``), or None."""
  try:
    spec = importlib.util.find_spec(PACKAGE)
  except (ImportError, ValueError):
    spec = None
  for location in (spec.submodule_search_locations or []) if spec is not None else []:
    if Path(location).is_dir():
      return Path(location).resolve()
  # An import system that does not report the folder: the plain installed layout.
  here = Path(__file__).resolve().parent / "experiment_configs"
  return here if here.is_dir() else None


def default_configs_root() -> Path:
  """The checkout's ``experiments/configs`` when it exists, else the installed configs."""
  checkout = checkout_configs()
  if checkout.is_dir():
    return checkout
  installed = installed_configs()
  return installed if installed is not None else checkout
