"""colab/06_cnn_architectures.ipynb runs top to bottom on CPU."""

from pathlib import Path

import pytest

from cs231n_jax.notebooks import execute_notebook, images_shown

NOTEBOOK = Path(__file__).parents[2] / "colab" / "06_cnn_architectures.ipynb"


@pytest.mark.slow
def test_cnn_architectures_notebook_runs():
  nb = execute_notebook(NOTEBOOK, timeout=900)
  outputs = []
  for cell in nb.cells:
    for o in cell.get("outputs", []) if cell.cell_type == "code" else []:
      outputs.append(o.get("text", "") + o.get("data", {}).get("text/markdown", "") + o.get("data", {}).get("text/plain", ""))
  text = "".join(outputs)
  assert "| conv1 | [55x55x96] | 290,400 | 34,848 | 96 |" in text  # the lecture's AlexNet CONV1
  assert "**15,237,608**" in text and "(slide: 24M / 96 MB)" in text
  assert "total 271,351,808" in text and "total 854,196,224" in text
  assert "| resnet20 scan_blocks |" in text
  assert "'test_accuracy'" in text
  images = images_shown(nb)
  assert images == 1  # the training curves
