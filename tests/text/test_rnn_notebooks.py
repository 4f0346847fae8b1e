"""colab/07_rnn_language_model.ipynb and colab/09_transformers.ipynb run top to bottom on CPU."""

from pathlib import Path

import pytest

from cs231n_jax.notebooks import execute_notebook, images_shown, printed_text

COLAB = Path(__file__).parents[2] / "colab"


@pytest.mark.slow
def test_rnn_language_model_notebook_runs():
  nb = execute_notebook(COLAB / "07_rnn_language_model.ipynb", timeout=600)
  out = printed_text(nb)
  assert "greedy from 'h': ello" in out  # the lecture's "hello" example
  assert "| 4-gram |" in out and "test bits/char" in out and "τ = 1.0:" in out
  assert images_shown(nb) == 2  # the bits/char curve and the interpretable cells


@pytest.mark.slow
def test_transformers_notebook_runs():
  nb = execute_notebook(COLAB / "09_transformers.ipynb", timeout=600)
  out = printed_text(nb)
  assert "equivariant: True" in out and "test_accuracy" in out
  assert images_shown(nb) == 2  # the attention weights and the positional encoding
