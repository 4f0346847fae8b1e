"""colab/13_static_graphs.ipynb runs top to bottom on CPU."""

from pathlib import Path

import pytest

from cs231n_jax.notebooks import execute_notebook

NOTEBOOK = Path(__file__).parents[2] / "colab" / "13_static_graphs.ipynb"


@pytest.mark.slow
def test_static_graphs_notebook_runs():
  nb = execute_notebook(NOTEBOOK, timeout=300)
  text = "".join(str(o.get("text", "")) + str(o.get("data", {}).get("text/markdown", ""))
                 for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []))
  assert "z > 0 uses w1: True" in text and "scan == python loop: True" in text
  assert "same outputs: True" in text and "| JAX jit |" in text
  assert "| 16->16 at 32x32 | weight gradient |" in text  # section 6: XLA's kernels vs PyTorch's
