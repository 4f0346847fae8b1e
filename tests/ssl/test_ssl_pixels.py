"""Context-encoder inpainting and colourisation: Lab against scikit-image, the losses against NumPy, the
hole hidden from the generator, short runs through the engine, bad configs."""

import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from cs231n_jax.errors import ConfigError
from cs231n_jax.models.registry import get_model
from cs231n_jax.tasks import ssl_pixels
from cs231n_jax.train import loop


def test_lab_matches_scikit_image_and_inverts():
  from skimage.color import lab2rgb, rgb2lab

  rng = np.random.default_rng(0)
  rgb = rng.uniform(size=(6, 5, 3))
  rgb[0, 0] = 0.0  # black: the linear branch of the cube root
  rgb[0, 1] = 1.0
  rgb[0, 2] = [0.01, 0.02, 0.03]
  with jax.enable_x64(True):
    lab = np.asarray(ssl_pixels.rgb_to_lab(jnp.asarray(rgb)))
    np.testing.assert_allclose(lab, rgb2lab(rgb), rtol=1e-5, atol=1e-6)  # skimage rounds 0.008856 and 7.787
    np.testing.assert_allclose(np.asarray(ssl_pixels.lab_to_rgb(jnp.asarray(lab))), rgb, atol=1e-6)
    np.testing.assert_allclose(np.asarray(ssl_pixels.lab_to_rgb(jnp.asarray(lab))), lab2rgb(lab), atol=1e-6)


def test_context_losses_match_numpy_and_the_generator_never_sees_the_hole():
  gen = get_model("context_encoder", channels=(4,), feature_dim=8)
  disc = get_model("context_discriminator", channels=(4,))
  rng = np.random.default_rng(1)
  images = rng.uniform(size=(4, 8, 8, 1)).astype(np.float32)
  mask = ssl_pixels.centre_hole((8, 8, 1), 4)
  assert mask.sum() == 16 and mask[2:6, 2:6].min() == 1 and mask[:2].max() == 0
  fill = np.float32(0.3)
  other = images + 0.5 * mask  # the same context, a different hole

  @jax.jit
  def run(images, other):
    g = gen.init(jax.random.PRNGKey(0), images)["params"]
    d = disc.init(jax.random.PRNGKey(1), images[:, :4, :4])["params"]
    losses = ssl_pixels.context_losses(gen, disc, g, d, images, mask, fill, 4, 0.999, 0.001)
    pred = gen.apply({"params": g}, images * (1 - mask) + fill * mask)
    pred_other = gen.apply({"params": g}, other * (1 - mask) + fill * mask)
    fake = disc.apply({"params": d}, pred[:, 2:6, 2:6])
    real = disc.apply({"params": d}, images[:, 2:6, 2:6])
    return losses, pred, pred_other, fake, real

  (g_loss, d_loss, rec), pred, pred_other, fake, real = map(lambda t: jax.tree.map(np.asarray, t), run(images, other))
  np.testing.assert_array_equal(pred, pred_other)  # the hole's pixels never reach the generator
  rec_ref = np.sum(((pred - images) * mask) ** 2, axis=(1, 2, 3)) / 16
  softplus = lambda z: np.log1p(np.exp(z))  # -log sigmoid(-z)
  np.testing.assert_allclose(rec, rec_ref.mean(), rtol=1e-5)
  np.testing.assert_allclose(g_loss, np.mean(0.999 * rec_ref + 0.001 * softplus(-fake)), rtol=1e-5)
  np.testing.assert_allclose(d_loss, np.mean(softplus(-real) + softplus(fake)), rtol=1e-5)


def test_bad_configs_are_named():
  with pytest.raises(ConfigError, match="inpainting.hole: expected 1..7 pixels for 8x8 images, got 8"):
    ssl_pixels.centre_hole((8, 8, 1), 8)
  c = ssl_pixels.base_config()
  c.method = "inpainting"
  c.inpainting.adv_weight = -1.0
  with pytest.raises(ConfigError, match="inpainting.adv_weight: expected a non-negative number, got -1.0"):
    ssl_pixels.build(c)
  c.method = "denoise"
  with pytest.raises(ConfigError, match="method: expected one of \\('mae', 'inpainting', 'colorization'\\)"):
    ssl_pixels.build(c)
  with pytest.raises(ConfigError, match="skimage has no photo 'kitten'"):
    ssl_pixels.photo_crops(("kitten",), 2, 8, 0.25, 0)


def test_inpainting_trains_through_the_engine(tmp_path):
  c = ssl_pixels.base_config()
  c.method = "inpainting"
  c.inpainting.update({"channels": (16, 32), "features": 64, "disc_channels": (8,)})
  c.train.update({"batch_size": 64, "num_steps": 60, "log_every": 10, "progress": False})
  c.optimizer.learning_rate = 3e-3
  c.probe.labels_per_class = (5,)
  task, data, _, _ = ssl_pixels.build(c)
  results = loop.fit(task, data, c, str(tmp_path))
  rows = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines() if '"hole_mse"' in line]
  assert rows[-1]["hole_mse"] < 0.7 * rows[0]["hole_mse"] and all(np.isfinite(r["disc_loss"]) for r in rows)
  assert results["hole_mse"] < results["hole_mse_mean_fill"]
  assert 0.3 < results["linear@5"] <= 1.0


def test_colorization_on_photo_crops_trains_through_the_engine(tmp_path):
  crops = ssl_pixels.photo_crops(("astronaut", "coffee"), 5, 16, 0.25, 0)
  assert crops.shape == (5, 16, 16, 3) and crops.dtype == np.float32 and 0 <= crops.min() and crops.max() <= 1
  c = ssl_pixels.base_config()
  c.method = "colorization"
  # Held-out regions: the bottom halves of the training photos (the top halves train).
  c.colorization.update({"train_photos": ("astronaut", "coffee"), "test_photos": ("astronaut", "coffee"), "crop": 16,
                         "train_crops": 256, "test_crops": 32, "channels": (8, 16), "train_rows": (0.0, 0.5),
                         "test_rows": (0.5, 1.0)})
  c.train.update({"batch_size": 32, "num_steps": 40, "log_every": 10, "progress": False})
  c.optimizer.learning_rate = 3e-3
  task, data, _, _ = ssl_pixels.build(c)
  results = loop.fit(task, data, c, str(tmp_path))
  losses = [json.loads(line)["loss"] for line in (tmp_path / "metrics.jsonl").read_text().splitlines() if '"loss"' in line]
  assert losses[-1] < 0.7 * losses[0]
  assert results["ab_rmse"] > 0 and results["ab_rmse_grey"] > 0 and results["ab_rmse_train_mean"] > 0
  # Per held-out photo (16 crops each): the overall mean square is the mean of the photos' mean squares.
  for key in ("ab_rmse", "ab_rmse_grey"):
    per = [results[f"{key}/{name}"] for name in ("astronaut", "coffee")]
    np.testing.assert_allclose(results[key] ** 2, np.mean(np.square(per)), rtol=1e-4)
