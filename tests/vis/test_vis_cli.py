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


def test_the_table_has_lecture_13s_image_optimisations():
  assert {"deepdream", "inversion", "texture", "texture_nn", "style"} <= set(TECHNIQUES)


def test_texture_nn_copies_input_pixels(tmp_path, capsys):
  assert main(["texture_nn", "--texture", "gravel", "--model", "mobilenet_v2", "--target", "0", "--out", str(tmp_path)]) == 0
  assert (tmp_path / "texture_nn.png").read_bytes()[:4] == b"\x89PNG"
  assert "every output pixel an input pixel: True" in capsys.readouterr().out


def test_style_png_on_mobilenet(tmp_path, capsys):
  # 32x32 and 2 steps: the command's plumbing (layers, style image, PNG), not the quality of the result
  assert main(["style", "--image", "skimage:astronaut", "--style", "skimage:coffee", "--model", "mobilenet_v2",
               "--target", "0", "--size", "32", "--steps", "2", "--out", str(tmp_path)]) == 0
  assert (tmp_path / "style.png").read_bytes()[:4] == b"\x89PNG"
  line = [ln for ln in capsys.readouterr().out.splitlines() if ln.strip().startswith("style: content loss")][0]
  assert "style loss" in line


@pytest.mark.parametrize("argv,message", [
    (["texture", "--texture", "marble"], "--texture: expected one of ('brick', 'grass', 'gravel')"),
    (["style", "--size", "8"], "--size: expected at least 32 pixels, got 8"),
    (["style", "--style", "skimage:camera"], "expected an RGB photo"),
    (["deepdream", "--steps", "0"], "--steps: expected a positive count, got 0"),
    (["deepdream", "--model", "mobilenet_v2", "--target", "0", "--layer", "block_99"], "layers: the model has no layer 'block_99'"),
])
def test_bad_image_optimisation_arguments_are_one_line(argv, message, tmp_path, capsys):
  assert main([*argv, "--out", str(tmp_path)]) == 2
  err = capsys.readouterr().err.strip().splitlines()
  assert len(err) == 1 and err[0].startswith("cs231n-jax vis: error:") and message in err[0]
