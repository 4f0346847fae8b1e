"""colab/01-03 (the lecture 2-5 notebooks) run top to bottom on CPU and print what they claim."""

from pathlib import Path

import pytest

from cs231n_jax.notebooks import execute_notebook, printed_text

COLAB = Path(__file__).parents[2] / "colab"
TIMEOUT_S = 600


def run(name: str) -> str:
  nb = execute_notebook(COLAB / name, timeout=TIMEOUT_S)
  # Outputs of the executed copy only: the committed notebook stays output-free.
  return printed_text(nb)


@pytest.mark.slow
def test_knn_and_linear_notebook():
  out = run("01_knn_and_linear.ipynb")
  assert "L1 distance: 456.0" in out
  assert "SVM losses: [ 2.9  0.  12.9] mean: 5.2667" in out
  assert "softmax loss of the cat image: 2.04" in out
  assert "SVM loss at W = 0: 9.0" in out
  assert "best k:" in out and "SVM on HOG features, test accuracy:" in out


@pytest.mark.slow
def test_layers_and_backprop_notebook():
  out = run("02_layers_and_backprop.ipynb")
  assert "by hand   : f = -12.0  grads = (-4.0, -4.0, 3.0)" in out
  assert "jax.grad  : f = -12.0  grads = (-4.0, -4.0, 3.0)" in out
  assert "by hand : {'dw': [-0.2, -0.39, 0.2], 'dx': [0.39, -0.59]}" in out
  assert "jax.grad: {'dw': [-0.2, -0.39, 0.2], 'dx': [0.39, -0.59]}" in out
  assert "stride 3: ValueError" in out and "parameters of ten 5x5x3 filters: 760" in out
  errors = [float(line.rsplit(":", 1)[1]) for line in out.splitlines() if "max relative error" in line]
  assert len(errors) == 5 and max(errors) < 1e-5


@pytest.mark.slow
def test_fully_connected_and_cnn_notebook():
  out = run("03_fully_connected_and_cnn.ipynb")
  assert "loss: 3.47022435" in out and "loss with reg = 1: 26.5948426" in out
  assert "compiled step traced 1 time(s)" in out
  assert "train accuracy on the 50 examples after 20 epochs: 1.0" in out
  assert "(Epoch 5 / 5) train acc:" in out and "test accuracy:" in out
