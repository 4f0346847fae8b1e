"""colab/01-03 (the lecture 2-5 notebooks) run top to bottom on CPU and print what they claim (01 also lecture 3's
random search over W, perceptron and bag of visual words)."""

import re
from pathlib import Path

import pytest

from cs231n_jax.notebooks import execute_notebook, printed_text

COLAB = Path(__file__).parents[2] / "colab"
TIMEOUT_S = 600


def number_after(text: str, label: str) -> float:
  """The number printed right after ``label`` (the first occurrence)."""
  return float(re.match(r"\s*(-?[0-9.e+-]+)", text.split(label, 1)[1]).group(1).rstrip("."))


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
  # Lecture 3's strategy #1: the best of 1,000 random W is near chance; SGD beats it by a wide margin.
  assert number_after(out, "random search, best of 1000 W: training SVM loss") > 8.9  # every margin ~1: loss ~ C - 1
  assert number_after(out, "SGD minus random search:") > 0.5
  # The perceptron rule on a linearly separable pair: no mistakes in the last epoch, every training example right.
  assert "perceptron: mistakes in the last epoch 0, train accuracy 1.000" in out
  # Bag of visual words: far above chance (0.1), below raw pixels on 8x8 digits.
  words, pixels = number_after(out, "visual words + softmax, test accuracy:"), number_after(out, "softmax on raw pixels:")
  assert 0.6 < words < pixels


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
