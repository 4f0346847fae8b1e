"""colab/10_pixel_models, 11_vae (also the 2016 unsupervised lecture's linear AE vs PCA, RBM stack and LAPGAN pyramid)
and 12_gans (also the class-conditional GAN) run top to bottom on CPU and show what they claim."""

import re
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
  # The 2016 unsupervised lecture: a tied linear AE spans PCA's top-4 subspace, at PCA's optimum error.
  angles = [float(a) for a in text.split("top-4 subspace (degrees): [")[1].split("]")[0].split()]
  assert len(angles) == 4 and max(angles) < 2.0
  assert float(text.split("reconstruction error / PCA's optimum:")[1].split()[0]) < 1.01
  # CD-1 lowers each RBM's reconstruction error; the first layer's features probe well.
  shares = [int(p) for p in re.findall(r"CD-1 reconstruction error [0-9.]+ -> [0-9.]+ \(([0-9]+)% of the first\)", text)]
  assert len(shares) == 2 and max(shares) < 70
  assert float(text.split("linear probe on RBM 1's features, test accuracy:")[1].split()[0]) > 0.8
  # LAPGAN's pyramid is exact.
  assert "max |up(down(x)) + h - x| = 0.0e+00, max |down(h)| = 0.0e+00" in text
  assert images == 1


@pytest.mark.slow
def test_gans_notebook():
  text, images = run("12_gans.ipynb")
  assert "modes_covered" in text and "median nearest-training-digit distance" in text
  # The conditional GAN: the label reaches both networks as a one-hot beside z (32) / the flattened 8x8 digit (64).
  assert "generator input [z, onehot(y)]: (64, 42) | discriminator input [x, onehot(y)]: (64, 74)" in text
  assert float(text.split("the judge (test accuracy on real digits")[1].split(")")[0]) > 0.9
  assert images == 4  # the saturation curves, the ring, the digits and nearest neighbours, the conditional samples
