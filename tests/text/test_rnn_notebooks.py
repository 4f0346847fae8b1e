"""colab/07_rnn_language_model.ipynb (also Kneser-Ney, highway layers, MUT1-3 and seq2seq with / without attention) and
colab/09_transformers.ipynb (also the attention memory measurement) run top to bottom on CPU."""

import re
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
  # Dynamic evaluation: lr 0 is the static val number; the grid's choice adapts, and the briefly trained model gains on test.
  static, dynamic = map(float, re.search(r"test bits/char: static ([0-9.]+), dynamic evaluation ([0-9.]+)", out).groups())
  assert dynamic < static
  static_val = float(re.search(r"'val_bits_per_char': ([0-9.]+)", out).group(1))
  assert float(re.search(r"lr 0, decay 0: val bits/char ([0-9.]+)", out).group(1)) == pytest.approx(static_val, abs=6e-4)
  # Interpolated Kneser-Ney beats add-k at every order; add-k gets worse past order 5, Kneser-Ney keeps improving.
  bits = {int(n): (float(a), float(k)) for n, a, k in
          re.findall(r"([0-9])-gram held-out bits/char: add-k ([0-9.]+), Kneser-Ney ([0-9.]+)", out)}
  assert sorted(bits) == [3, 5, 7]
  assert all(k < a for a, k in bits.values())
  assert bits[7][1] < bits[5][1] < bits[3][1] and bits[7][0] > bits[5][0]
  # Highway layers: a fresh gate is sigma(-2); the gradient reaches the first of 20 layers, the plain twin's vanishes.
  assert "a fresh gate: T = sigmoid(-2) = 0.119 of H" in out
  assert float(out.split("depth 20: highway")[1].split("ratio")[1].split()[0]) > 10
  # MUT1-3: k 16x16 matrices and three biases each (the slide's formulas, MUT2 read with W_hz), causal.
  assert "mut1: W_xz, W_xr, W_hr, W_hh: 1,072 parameters" in out
  assert "mut2: W_xz, W_hz, W_hr, W_hh, W_xh: 1,328 parameters" in out
  assert "mut3: W_xz, W_hz, W_xr, W_hr, W_hh, W_xh: 1,584 parameters" in out
  assert out.count("h_0..h_4 unchanged by x_5: True") == 3
  assert "MUT2, input 16 wide, state 8 wide: ConfigError: model.hidden_size" in out
  # Sequence to sequence, reversal of 12 symbols at toy size: attention well above the fixed context vector.
  acc = dict(re.findall(r"(fixed|attention)_len12: greedy test token accuracy ([0-9.]+)", out))
  assert float(acc["attention"]) > float(acc["fixed"]) + 0.15


@pytest.mark.slow
def test_transformers_notebook_runs():
  nb = execute_notebook(COLAB / "09_transformers.ipynb", timeout=600)
  out = printed_text(nb)
  assert "equivariant: True" in out and "test_accuracy" in out
  assert images_shown(nb) == 2  # the attention weights and the positional encoding
  # The notes' quadratic memory, measured from the compiled program: x4 per doubling of N, 1-3 N*M float32 buffers.
  ratios = [float(r) for r in out.split("ratio per doubling of N: [")[1].split("]")[0].split(",")]
  assert len(ratios) == 3 and all(3.5 < r < 4.5 for r in ratios)
  buffers = [float(b) for b in re.findall(r"compiled temporary bytes +[0-9,]+ = ([0-9.]+) x N\*M float32", out)]
  assert len(buffers) == 4 and all(1.0 <= b <= 3.0 for b in buffers)
