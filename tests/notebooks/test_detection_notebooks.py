"""colab/17 (segmentation) and colab/18 (detection) run top to bottom on CPU and print what they claim."""

import re
from pathlib import Path

import pytest

from cs231n_jax.notebooks import execute_notebook

COLAB = Path(__file__).parents[2] / "colab"
TIMEOUT_S = 600


def run(name: str) -> str:
  nb = execute_notebook(COLAB / name, timeout=TIMEOUT_S)
  return "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
                 if o.get("name") == "stdout")


@pytest.mark.slow
def test_segmentation_notebook():
  out = run("17_segmentation.ipynb")
  assert "nearest neighbour: [[1, 1, 2, 2], [1, 1, 2, 2], [3, 3, 4, 4], [3, 3, 4, 4]]" in out
  assert "bed of nails     : [[1, 0, 2, 0], [0, 0, 0, 0], [3, 0, 4, 0], [0, 0, 0, 0]]" in out
  assert "max pooling      : [[5, 6], [7, 8]]" in out
  assert "max unpooling    : [[0, 0, 2, 0], [0, 1, 0, 0], [0, 0, 0, 0], [3, 0, 0, 4]]" in out
  assert "transpose conv 3x3 / 2 / 1 of a 2x2 input: (4, 4)" in out
  miou = float(out.split("test mIoU: ")[1].split()[0])
  assert 0.0 < miou <= 1.0
  flops = {m[0]: float(m[1]) for m in re.findall(r"(\w+) +GFLOPs per image: ([0-9.]+)", out)}
  assert flops["sliding_window"] > flops["fcn_flat"] > flops["encoder_decoder"] > 0


@pytest.mark.slow
def test_detection_notebook():
  out = run("18_detection.ipynb")
  assert "IoU of box 0 with the others: [1.0, 0.681, 0.0, 0.9]" in out
  assert "NMS keeps: [3, 2, -1, -1] count: 2" in out
  assert "RoI pool of an 18x8 proposal: (7, 7, 512)" in out
  line = next(x for x in out.splitlines() if x.startswith("Hungarian:"))
  assert line.split("scipy:")[0].split("Hungarian:")[1].strip() == line.split("scipy:")[1].strip()
  assert "agree to 1e-6: True" in out and "test mAP@0.5: ours" in out
