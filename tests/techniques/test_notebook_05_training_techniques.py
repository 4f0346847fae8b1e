"""colab/05_training_techniques.ipynb runs top to bottom on CPU and shows what it claims."""

from pathlib import Path

import pytest

from cs231n_jax.notebooks import execute_notebook, images_shown, printed_text

NOTEBOOK = Path(__file__).parents[2] / "colab" / "05_training_techniques.ipynb"


@pytest.mark.slow
def test_training_techniques_notebook_runs():
  nb = execute_notebook(NOTEBOOK, timeout=400)
  outputs = printed_text(nb)
  assert "devices:" in outputs and "24 runs in one program" in outputs
  assert "lr 10: stopped=True" in outputs
  fused = [line for line in outputs.splitlines() if line.startswith("max |fused - conv+BN| =")]
  assert fused and float(fused[0].split("=")[1]) < 1e-4
  images = images_shown(nb)
  assert images == 3  # activation statistics, augmentations, search scatter
