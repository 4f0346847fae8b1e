"""Colourisation (predict chroma from luminance) on 32x32 crops of scikit-image's photos: L of CIE Lab in, (a, b)
out, mean squared error (the regression form; Zhang et al. 2016 classify quantised (a, b) with class rebalancing).
2,000 training crops of astronaut / chelsea / coffee / rocket at 1/4 size, 200 held-out crops of two other photos
(hubble_deep_field, immunohistochemistry). No labels: no probe row; the held-out (a, b) RMSE is compared with
predicting grey and with predicting the training mean (a, b).
Command: cs231n-jax train --config experiments/configs/ssl/colorization_photos.py --workdir workdirs/ssl_colorization
Expected: not yet measured.
"""

from cs231n_jax.tasks.ssl_pixels import base_config


def get_config():
  c = base_config()
  c.method = "colorization"
  c.train.update({"batch_size": 64, "num_steps": 300, "log_every": 50})
  c.optimizer.learning_rate = 1e-3
  return c
