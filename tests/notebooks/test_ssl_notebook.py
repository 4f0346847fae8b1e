"""colab/21_self_supervised.ipynb runs top to bottom on CPU."""

import re
from pathlib import Path

import pytest

from cs231n_jax.notebooks import execute_notebook, images_shown, printed_text

NOTEBOOK = Path(__file__).parents[2] / "colab" / "21_self_supervised.ipynb"


@pytest.mark.slow
def test_ssl_notebook_runs():
  nb = execute_notebook(NOTEBOOK, timeout=900)
  text = printed_text(nb)
  estimates = [float(x) for x in re.findall(r"MI estimate log N - L = ([0-9.]+) nats", text)]
  assert len(estimates) == 4 and all(b > a for a, b in zip(estimates, estimates[1:])) and max(estimates) <= 2.05
  rows = dict(re.findall(r"\| (simclr \(h\)|raw_pixels|random_init) \| [0-9.]+ \| ([0-9.]+) \|", text))
  assert set(rows) == {"simclr (h)", "raw_pixels", "random_init"}
  assert all(0.3 < float(v) <= 1.0 for v in rows.values())
  assert re.search(r"retrieval: \d+ of 30 neighbours share the query's label", text)
  images = images_shown(nb)
  assert images == 3  # the views, the t-SNE, the retrieval grid
