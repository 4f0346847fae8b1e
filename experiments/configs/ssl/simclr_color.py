"""SimCLR on colour images: crops of scikit-image's photos (shipped with the package) or CIFAR-10 when a user has
it, with SimCLR's CIFAR-10 view pipeline (random resized crop 0.08-1, horizontal flip, colour jitter 0.4/0.4/0.4/0.1
with probability 0.8, greyscale with probability 0.2; views.COLOR_PIPELINE), then the linear / k-NN probe.

Variants: ``simclr_color.py:photos`` (the default) and ``simclr_color.py:cifar10``.

photos -- 32x32 crops of astronaut / chelsea / coffee / rocket at 1/4 size: 1,000 training crops from the top half
of each photo, 200 test crops from the bottom half; a crop's label (for the probe only) is its photo.

Command: cs231n-jax train --config experiments/configs/ssl/simclr_color.py:photos --workdir workdirs/ssl_simclr_photos

Expected: seed 0, 1,000 steps (CPU-2 shared, load ~22, about 8 minutes): probe "which photo" (4 classes, chance 0.25)
  on the 200 bottom-half crops, linear@1/5/10/all 0.490 / 0.545 / 0.605 / 0.600 -- above raw pixels (0.435 / 0.495 /
  0.520 / 0.525) but NOT above the random-init encoder (0.545 / 0.575 / 0.565 / 0.630).

cifar10 -- CIFAR-10 from the directory that holds cifar-10-batches-py (`cs231n-jax data fetch cifar10 --dir DIR`),
through the cifar10 loader; no download here, so not measured.

Command: cs231n-jax train --config experiments/configs/ssl/simclr_color.py:cifar10 --workdir workdirs/ssl_cifar10 --config.data.dir=DIR

Expected: not yet measured (no CIFAR-10 on CPU-2; tests/ssl/test_data_sources.py runs it on a fake batch in the true format).
"""

import ml_collections

from cs231n_jax.ssl import photos, views
from cs231n_jax.tasks.contrastive import base_config

VARIANTS = ("photos", "cifar10")


def get_config(variant="photos"):
  c = base_config()
  c.method = "simclr"
  c.views.view1 = views.COLOR_PIPELINE
  c.model.encoder_kwargs = {"channels": (32, 64), "strides": (2, 2), "features": 128}
  c.model.update({"projection_hidden": 256, "projection_dim": 64})  # SimCLR: 2048 / 128
  c.train.update({"batch_size": 128, "num_steps": 1000, "log_every": 50})  # SimCLR: 256-4096, hundreds of epochs
  c.optimizer.learning_rate = 1e-3  # Adam (SimCLR: LARS)
  if variant == "photos":
    c.data = ml_collections.ConfigDict({"name": photos.DATA_NAME, "photos": photos.TRAIN_PHOTOS, "crop": 32, "scale": 0.25,
                                        "split": 0.5, "train_crops": 1000, "test_crops": 200})
    c.probe.labels_per_class = (1, 5, 10, 0)
  else:
    c.data.update({"name": "cifar10", "dir": "", "num_validation": 1000, "scale": True, "subtract_mean": False})
  return c
