"""colab/00_quickstart.ipynb runs top to bottom on CPU."""

from pathlib import Path

import pytest

from cs231n_jax.notebooks import execute_notebook, images_shown, printed_text

NOTEBOOK = Path(__file__).parents[2] / "colab" / "00_quickstart.ipynb"


@pytest.mark.slow
def test_quickstart_runs():
  nb = execute_notebook(NOTEBOOK, timeout=300)
  outputs = printed_text(nb)
  assert "devices:" in outputs
  images = images_shown(nb)
  assert images == 2  # the curves and the confusion matrix
