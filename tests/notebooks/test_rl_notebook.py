"""colab/19_reinforcement_learning.ipynb runs top to bottom on CPU."""

from pathlib import Path

import pytest

from cs231n_jax.notebooks import execute_notebook

NOTEBOOK = Path(__file__).parents[2] / "colab" / "19_reinforcement_learning.ipynb"


@pytest.mark.slow
def test_rl_notebook_runs():
  nb = execute_notebook(NOTEBOOK, timeout=600)
  outputs = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []))
  assert "V* =\n [[ 0. -1. -2. -3.]" in outputs  # the grid world's optimal values
  error = float(outputs.split("max |Q-learning - Q*| over non-terminal states: ")[1].split()[0])
  assert error < 1e-3
  assert "env steps per seed, 3 seeds" in outputs and "episode return:" in outputs
  images = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []) if "image/png" in o.get("data", {})]
  assert len(images) == 3  # the values, the curves, the frames
