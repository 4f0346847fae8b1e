"""Image features (HOG + hue histogram) vs raw pixels, each with a linear SVM and a two-layer net.

The course's features notebook; the features are computed in JAX (vmapped and jitted).

Command: cs231n-jax train --config experiments/configs/course/features.py --workdir /tmp/course_features

Expected: digits (32x32x3 view, 154 features): linear SVM on features test 0.981 (validation
0.983) vs on pixels 0.961; two-layer net on features test 0.972 vs on pixels 0.947. Measured on
CPU-2, see docs/results.md.

CIFAR-10: add --config.data.name=cifar10 --config.data.dir=DIR --config.features.pixel_max=1.0
(the course expects a linear SVM on features near 0.44 validation accuracy and a two-layer net on
features above 55% test accuracy; the learning rates below are tuned for digits).
"""

import ml_collections


def _linear(lrs, regs):
  return ml_collections.ConfigDict(dict(loss="svm", learning_rates=lrs, regularization_strengths=regs,
                                        regularization="l2", num_iters=1500, batch_size=200))


def _net(hidden_dim, learning_rate, reg):
  return ml_collections.ConfigDict(dict(
      hidden_dim=hidden_dim, weight_scale=1e-2, reg=reg,
      solver=ml_collections.ConfigDict(dict(update_rule="sgd", learning_rate=learning_rate, lr_decay=0.95,
                                            num_epochs=20, batch_size=100, num_train_samples=1000,
                                            print_every=1000, verbose=False)),
  ))


def get_config() -> ml_collections.ConfigDict:
  config = ml_collections.ConfigDict()
  config.runner = "cs231n_jax.studies.course_classifiers:run_features"
  config.seed = 0
  config.data = ml_collections.ConfigDict(
      dict(name="digits", view="32x32x3", dir="", scale=True, subtract_mean=True, num_validation=1000)
  )
  config.features = ml_collections.ConfigDict(dict(
      hog_cell=8, hog_orientations=9, hue_bins=10,
      pixel_max=1.0,  # the largest pixel value after data.scale (1.0 when scaled, 255 for raw CIFAR-10)
  ))
  config.linear_features = _linear((0.003, 0.01, 0.03), (1e-4, 1e-3, 1e-2))
  config.linear_pixels = _linear((0.01, 0.03, 0.1), (1e-4, 1e-3, 1e-2))
  config.net_features = _net(100, 0.1, 1e-3)
  config.net_pixels = _net(100, 0.3, 1e-3)
  return config
