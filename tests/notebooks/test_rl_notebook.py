"""colab/19_reinforcement_learning.ipynb runs top to bottom on CPU."""

from pathlib import Path

import pytest

from cs231n_jax.notebooks import execute_notebook, images_shown, printed_text

NOTEBOOK = Path(__file__).parents[2] / "colab" / "19_reinforcement_learning.ipynb"


@pytest.mark.slow
def test_rl_notebook_runs():
  nb = execute_notebook(NOTEBOOK, timeout=600)
  outputs = printed_text(nb)
  assert "V* =\n [[ 0. -1. -2. -3.]" in outputs  # the grid world's optimal values
  error = float(outputs.split("max |Q-learning - Q*| over non-terminal states: ")[1].split()[0])
  assert error < 1e-3
  assert "env steps per seed, 3 seeds" in outputs
  # the measured full runs (cs231n_jax.rl.measured): every agent named with its solved seeds
  for name, solved in (("ppo", 5), ("a2c", 4), ("dqn", 5), ("reinforce", 5)):
    assert f"rl_{name}_cartpole: seeds solved {solved}/5" in outputs
  played = outputs.split("episode return: ")[1].split()
  assert float(played[0]) == float(played[2]) >= 1  # one reward per step the pole stayed up
  assert "canvas (1, 32, 32) label 0 glimpse (3, 8, 8)" in outputs  # the attention model's glimpse sensor
  images = images_shown(nb)
  assert images == 5  # the values, the live curves, the four agents' curves, the frames, the glimpses
