"""colab/20_video.ipynb runs top to bottom on CPU and prints what it claims."""

from pathlib import Path

import pytest

from cs231n_jax.notebooks import execute_notebook, printed_text

COLAB = Path(__file__).parents[2] / "colab"


@pytest.mark.slow
def test_video_notebook():
  nb = execute_notebook(COLAB / "20_video.ipynb", timeout=600)
  out = printed_text(nb)
  assert "single-frame within 3 sigma of chance: True" in out
  hit = {line.split()[0]: float(line.rsplit(":", 1)[1]) for line in out.splitlines() if "test video Hit@1:" in line}
  assert hit["early_fusion"] >= 0.9
  assert "sign of the mean horizontal flow = the label: True" in out
  diff = float(out.split("max |difference|:")[1].split()[0])
  assert diff < 1e-5
  left, right = (float(v) for v in out.split("left / right:")[1].split("\n")[0].split("/"))
  assert abs(left - right) < 1.0
