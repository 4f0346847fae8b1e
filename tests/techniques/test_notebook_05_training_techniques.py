"""colab/05_training_techniques.ipynb runs top to bottom on CPU and shows what it claims."""

from pathlib import Path

import pytest

from cs231n_jax.notebooks import execute_notebook

NOTEBOOK = Path(__file__).parents[2] / "colab" / "05_training_techniques.ipynb"


@pytest.mark.slow
def test_training_techniques_notebook_runs():
  nb = execute_notebook(NOTEBOOK, timeout=400)
  outputs = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []))
  assert "devices:" in outputs and "24 runs in one program" in outputs
  assert "lr 10: stopped=True" in outputs
  fused = [line for line in outputs.splitlines() if line.startswith("max |fused - conv+BN| =")]
  assert fused and float(fused[0].split("=")[1]) < 1e-4
  images = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []) if "image/png" in o.get("data", {})]
  assert len(images) == 3  # activation statistics, augmentations, search scatter
