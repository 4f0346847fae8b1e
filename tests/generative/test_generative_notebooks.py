"""colab/10_pixel_models, 11_vae and 12_gans run top to bottom on CPU and show what they claim."""

from pathlib import Path

import pytest

from cs231n_jax.notebooks import execute_notebook, images_shown, printed_text

COLAB = Path(__file__).parents[2] / "colab"


def run(name):
  nb = execute_notebook(COLAB / name, timeout=300)
  return printed_text(nb), images_shown(nb)


@pytest.mark.slow
def test_pixel_models_notebook():
  text, images = run("10_pixel_models.ipynb")
  assert "pixels above (4,3) the vanilla PixelCNN cannot see" in text
  assert "sum over 512 images of p(x) = 1.0" in text or "sum over 512 images of p(x) = 0.99999" in text
  assert "64 sequential steps" in text and images == 2


@pytest.mark.slow
def test_vae_notebook():
  text, images = run("11_vae.ipynb")
  assert "ELBO <= log p(x) for 100% of the test images" in text
  assert images == 1


@pytest.mark.slow
def test_gans_notebook():
  text, images = run("12_gans.ipynb")
  assert "modes_covered" in text and "median nearest-training-digit distance" in text
  assert images == 3
