"""``cs231n-jax vis``: a technique writes its PNG; bad input is one line and exit status 2."""

from __future__ import annotations

import pytest

from cs231n_jax.vis.cli import TECHNIQUES, main


def test_filters_png(tmp_path, capsys):
  assert main(["filters", "--image", "skimage:coffee", "--model", "mobilenet_v2", "--out", str(tmp_path),
               "--target", "espresso"]) == 0
  assert (tmp_path / "filters.png").read_bytes()[:4] == b"\x89PNG"
  assert "class 967 espresso" in capsys.readouterr().out


def test_the_table_has_the_lecture_techniques():
  assert {"saliency", "guided_backprop", "smoothgrad", "integrated_gradients", "occlusion", "fooling", "adversarial",
          "class_visualization", "filters", "activations"} <= set(TECHNIQUES)


@pytest.mark.parametrize("argv,message", [
    (["deepdreamz"], "technique: unknown 'deepdreamz'"),
    (["saliency", "--model", "vgg99"], "unknown pretrained network 'vgg99'"),
    (["saliency", "--image", "skimage:camera"], "expected an RGB photo"),
    (["saliency", "--target", "unicorn"], "unknown ImageNet class name 'unicorn'"),
])
def test_bad_input_is_one_line(argv, message, tmp_path, capsys):
  assert main([*argv, "--out", str(tmp_path)]) == 2
  err = capsys.readouterr().err.strip().splitlines()
  assert len(err) == 1 and err[0].startswith("cs231n-jax vis: error:") and message in err[0]
