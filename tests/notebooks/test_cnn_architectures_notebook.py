"""colab/06_cnn_architectures.ipynb runs top to bottom on CPU (also lecture 9's LeNet-5 and the degradation twins)."""

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
  # LeNet-5: the per-layer counts of the modern reading, and the paper's 60,000 trainable parameters rebuilt from them.
  assert "LeNet-5 parameters per layer: C1 156, C3 2,416, C5 48,120, F6 10,164, output 850" in text
  assert "LeNet-5 parameters on 32x32x1: 61,706" in text
  assert "the paper's layout rebuilt from these counts: 60,000 trainable parameters" in text
  # The degradation twins: the same parameters with and without shortcuts; the residual ones are He et al.'s ResNets.
  assert "parameters on 32x32x3: plain-20 269,722, resnet-20 269,722, plain-56 853,018, resnet-56 853,018" in text
  assert "plain and residual twins equal: True | the residual twins = the registry's resnet20 / resnet56: True" in text
  # The measured protocols it prints (docs/results.md): the plain net degrades; with zero last BN scales the residual does not.
  assert "800 steps, augmented, last BN scales 0: training loss, 56 minus 20 layers: plain +1.816, residual +0.002" in text
  images = images_shown(nb)
  assert images == 1  # the training curves
