"""Colourisation (predict chroma from luminance) on 32x32 crops of scikit-image's photos: L of CIE Lab in, (a, b)
out, mean squared error (the regression form; Zhang et al. 2016 classify quantised (a, b) with class rebalancing).
No labels: no probe row; the held-out (a, b) RMSE is compared with predicting grey and the training mean (a, b).

Variants: ``colorization_photos.py:regions`` (the default) and ``colorization_photos.py:photos``.

regions -- 2,000 training crops from the TOP halves of astronaut / chelsea / coffee / rocket at 1/4 size, 200 held-out
crops from their BOTTOM halves (disjoint pixels, the same photos' colour statistics).

Command: cs231n-jax train --config experiments/configs/ssl/colorization_photos.py:regions --workdir workdirs/ssl_colorization_regions

Expected: seed 0, 300 steps (CPU-2 shared, load ~22, 161 s in fit): held-out (a, b) RMSE 20.22, BETTER than grey
  (24.60) but not than the training mean (a, b) (19.39); per photo (model / grey) astronaut 19.20 / 29.04, chelsea
  11.70 / 19.85, coffee 24.78 / 32.20, rocket 22.71 / 12.10. The training RMSE fell to 9.4: the net overfits the
  top halves' colours.

photos -- 2,000 training crops anywhere in astronaut / chelsea / coffee / rocket, 200 held-out crops of two OTHER
photos (hubble_deep_field, immunohistochemistry), whose colours are not the training photos': the deep field is
nearly colourless (grey's RMSE there is 3.4), so grey is a strong baseline on this split.

Command: cs231n-jax train --config experiments/configs/ssl/colorization_photos.py:photos --workdir workdirs/ssl_colorization

Expected: seed 0, 300 steps (CPU-2 shared, load ~22, 140 s in fit): held-out (a, b) RMSE 15.73 -- WORSE than
  predicting grey (9.20) and the training mean (a, b) (13.37); per photo (model / grey) hubble_deep_field
  11.78 / 3.45, immunohistochemistry 18.87 / 12.55.
"""

from cs231n_jax.tasks.ssl_pixels import TRAIN_PHOTOS, base_config

VARIANTS = ("regions", "photos")


def get_config(variant="regions"):
  c = base_config()
  c.method = "colorization"
  c.train.update({"batch_size": 32, "num_steps": 300, "log_every": 50})
  c.colorization.channels = (16, 32)  # CPU-sized (the default 32-64 costs ~6 GFLOP a step of 64)
  c.optimizer.learning_rate = 1e-3
  if variant == "regions":
    c.colorization.update({"test_photos": TRAIN_PHOTOS, "train_rows": (0.0, 0.5), "test_rows": (0.5, 1.0)})
  return c
