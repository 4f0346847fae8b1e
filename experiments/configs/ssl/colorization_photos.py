"""Colourisation (predict chroma from luminance) on 32x32 crops of scikit-image's photos: L of CIE Lab in, (a, b)
out, mean squared error (the regression form; Zhang et al. 2016 classify quantised (a, b) with class rebalancing).
2,000 training crops of astronaut / chelsea / coffee / rocket at 1/4 size, 200 held-out crops of two other photos
(hubble_deep_field, immunohistochemistry). No labels: no probe row; the held-out (a, b) RMSE is compared with
predicting grey and with predicting the training mean (a, b).
Command: cs231n-jax train --config experiments/configs/ssl/colorization_photos.py --workdir workdirs/ssl_colorization
Expected: seed 0, 300 steps (CPU-2 shared, load ~20, 131 s in fit): held-out (a, b) RMSE 15.73 -- WORSE than
  predicting grey (9.20) and the training mean (a, b) (13.37): the held-out photos' colours (a near-black deep field,
  a brown-blue stain) are not those of the training photos.
"""

from cs231n_jax.tasks.ssl_pixels import base_config


def get_config():
  c = base_config()
  c.method = "colorization"
  c.train.update({"batch_size": 32, "num_steps": 300, "log_every": 50})
  c.colorization.channels = (16, 32)  # CPU-sized (the default 32-64 costs ~6 GFLOP a step of 64)
  c.optimizer.learning_rate = 1e-3
  return c
