"""colab/16_style_transfer.ipynb runs top to bottom on CPU and prints what it claims."""

import re
from pathlib import Path

import pytest

from cs231n_jax.notebooks import execute_notebook, printed_text

COLAB = Path(__file__).parents[2] / "colab"


@pytest.mark.slow
def test_style_transfer_notebook():
  nb = execute_notebook(COLAB / "16_style_transfer.ipynb", timeout=600)
  out = printed_text(nb)
  assert "Gram = mean of outer products: True | symmetric: True | min eigenvalue >= 0: True" in out
  assert "every output pixel is an input pixel: True" in out
  assert int(re.search(r"Gram loss reduction: (\d+)x", out).group(1)) >= 100
  assert int(re.search(r"sum f\^2 at conv2 grew (\d+)x", out).group(1)) >= 10
  assert "roll / unroll exact inverse: True" in out
  assert int(re.search(r"feature loss fell (\d+)x", out).group(1)) >= 100
  assert "monotone: True" in out
  assert re.search(r"network loss / optimisation loss: [\d.]+; speedup per image: \d+x", out)
