"""colab/00_quickstart.ipynb runs top to bottom on CPU."""

from pathlib import Path

import pytest

from cs231n_jax.notebooks import execute_notebook

NOTEBOOK = Path(__file__).parents[2] / "colab" / "00_quickstart.ipynb"


@pytest.mark.slow
def test_quickstart_runs():
  nb = execute_notebook(NOTEBOOK, timeout=300)
  outputs = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []))
  assert "devices:" in outputs
  images = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []) if "image/png" in o.get("data", {})]
  assert len(images) == 2  # the curves and the confusion matrix
