"""colab/22_3d_vision.ipynb runs top to bottom on CPU and prints the checks it claims."""

import re
from pathlib import Path

import pytest

from cs231n_jax.notebooks import execute_notebook, printed_text

NOTEBOOK = Path(__file__).parents[2] / "colab" / "22_3d_vision.ipynb"


def number(out: str, label: str) -> float:
  return float(re.search(re.escape(label) + r"\s*(-?[0-9.]+)", out).group(1))


@pytest.mark.slow
def test_geometry_notebook():
  nb = execute_notebook(NOTEBOOK, timeout=900)
  out = printed_text(nb)
  assert number(out, "voxel volume error:") < 0.02
  assert number(out, "marching-cubes area error:") < 0.03
  assert "sphere SDF sign mismatches on 10^4 points: 0" in out
  assert number(out, "CSG intersection (lens) Monte-Carlo volume error:") < 0.02
  assert abs(number(out, "polygon error slope:") + 2) < 0.1
  assert "Bezier end points exact: True" in out
  assert "ray points project to the pixel: [[10.0, 20.0]]" in out
  assert 0 < number(out, "3-D IoU of two boxes:") < 1
  assert "zero focal length: camera.fx: expected a non-zero" in out
  points, voxels = map(int, re.search(r"motorcycle: (\d+) points, (\d+) occupied voxels of 32\^3", out).groups())
  assert points > 15_000 and 0 < voxels < 32**3
  assert "PointNet permutation invariant (exact): True" in out
  assert number(out, "NeRF held-out PSNR:") > 15.0
  assert number(out, "exact scene at 24 samples:") > 15.0
  assert 0 <= number(out, "share of the error on edge pixels:") <= 100
