"""colab/05_training_techniques.ipynb runs top to bottom on CPU and shows what it claims."""

import re
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
  # Mixup: the cross-entropy against the mixed one-hot target is lam CE(y_i) + (1 - lam) CE(y_j).
  assert float(outputs.split("(1 - lam) CE(y_j)]| =")[1].split()[0]) < 1e-5
  # Decorrelated BN whitens (covariance I to 1e-3); batch norm leaves the correlations.
  bn, dbn = re.search(r"max \|cov - I\|: batch norm ([0-9.e+-]+), decorrelated BN ([0-9.e+-]+)", outputs).groups()
  assert float(dbn) < 1e-3 and float(bn) > 0.1
  # The notes' 6-layer study: k = 1/sqrt(D) read as a uniform bound has Var 1/(3D) and shrinks the activations.
  ratio = dict(re.findall(r"(\w+/\w+): std\(X6\)/std\(X1\) = ([0-9.]+)", outputs))
  assert float(ratio["tanh_xavier/uniform"]) < 0.5 * float(ratio["tanh_xavier/gaussian"])
  assert 0.6 <= float(ratio["relu_kaiming/gaussian"]) <= 1.6 and float(ratio["relu_kaiming/uniform"]) < 0.2
  images = images_shown(nb)
  assert images == 3  # activation statistics, augmentations, search scatter
