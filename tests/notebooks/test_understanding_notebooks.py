"""colab/14 (understanding) and colab/15 (adversarial examples) run top to bottom on CPU and print what they claim."""

from pathlib import Path

import pytest

from cs231n_jax.notebooks import execute_notebook, printed_text

COLAB = Path(__file__).parents[2] / "colab"
TIMEOUT_S = 600


def run(name: str) -> str:
  nb = execute_notebook(COLAB / name, timeout=TIMEOUT_S)
  return printed_text(nb)


@pytest.mark.slow
def test_understanding_notebook():
  out = run("14_understanding.ipynb")
  assert "top-1: 285 Egyptian cat" in out
  assert "first layer kernel (HWIO): (3, 3, 3, 32)" in out and "blocks_1 output: (1, 56, 56, 24)" in out
  assert "vanilla saliency map: (224, 224)" in out and "guided saliency map: (224, 224)" in out
  assert "occlusion map: (4, 4)" in out


@pytest.mark.slow
def test_adversarial_notebook():
  out = run("15_adversarial_examples.ipynb")
  assert "clean prediction: 967 espresso" in out
  assert "fooled: True; now 285 Egyptian cat" in out
  linf = float(out.split("L-inf ")[1].split("/255")[0])
  assert linf <= 2.0 + 1e-3
