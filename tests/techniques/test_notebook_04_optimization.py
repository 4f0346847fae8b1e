"""colab/04_optimization.ipynb runs top to bottom on CPU and shows what it claims."""

from pathlib import Path

import pytest

from cs231n_jax.notebooks import execute_notebook, images_shown, printed_text

NOTEBOOK = Path(__file__).parents[2] / "colab" / "04_optimization.ipynb"


@pytest.mark.slow
def test_optimization_notebook_runs():
  nb = execute_notebook(NOTEBOOK, timeout=400)
  outputs = printed_text(nb)
  assert "devices:" in outputs
  assert "bias_correction=False: first step = [0.00316" in outputs
  assert "rejected: optimizer.schedule.decay_steps: expected a positive number of steps, got 0" in outputs
  assert "rejected: optimizer.momentum: expected a number in [0, 1), got 1.0" in outputs
  images = images_shown(nb)
  assert images == 3  # two races and the schedules
