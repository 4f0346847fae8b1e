"""``cs231n-jax classify``: top-5 labels and probabilities; bad input is one line and exit status 2."""

from __future__ import annotations

import numpy as np
import pytest

from cs231n_jax.pretrained.cli import main


def test_classify_prints_the_top5(capsys):
  assert main(["skimage:chelsea", "--model", "efficientnet_lite0"]) == 0
  lines = capsys.readouterr().out.splitlines()
  assert lines[0] == "skimage:chelsea (efficientnet_lite0)"
  assert len(lines) == 6
  assert lines[1].split()[1:] == ["285", "Egyptian", "cat"]
  probs = [float(line.split()[0]) for line in lines[1:]]
  assert probs == sorted(probs, reverse=True) and 0.78 <= probs[0] <= 0.80


@pytest.mark.parametrize("argv,message", [
    (["skimage:camera"], "expected an RGB photo"),
    (["skimage:chelsea", "--model", "resnet"], "unknown pretrained network 'resnet'"),
    (["no/such/file.png"], "no such file"),
    (["TINY"], "expected at least 32 pixels"),
    (["GRAY"], "expected an RGB image"),
])
def test_bad_input_is_one_line_and_exit_2(argv, message, capsys, tmp_path):
  import skimage.io

  if argv[0] == "TINY":
    argv = [str(tmp_path / "tiny.png")]
    skimage.io.imsave(argv[0], np.zeros((8, 8, 3), np.uint8), check_contrast=False)
  elif argv[0] == "GRAY":
    argv = [str(tmp_path / "gray.png")]
    skimage.io.imsave(argv[0], np.zeros((64, 64), np.uint8), check_contrast=False)
  assert main(argv) == 2
  err = capsys.readouterr().err.strip().splitlines()
  assert len(err) == 1 and err[0].startswith("cs231n-jax classify: error:") and message in err[0]
