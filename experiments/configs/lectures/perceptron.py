"""Rosenblatt's perceptron rule (lecture 4's history slide) on two digit classes: w starts at 0,
each example is visited in turn and only mistakes move w (w += α (d − y) x).

Command: cs231n-jax train --config experiments/configs/lectures/perceptron.py --workdir workdirs/perceptron

Expected: digits 3 vs 8, seed 0, measured on CPU-2: 21, 8, 3 mistakes in epochs 1-3, none from epoch 4 on
(the two classes are linearly separable on the 64 pixels); train and test accuracy 1.000.
"""

import ml_collections


def get_config() -> ml_collections.ConfigDict:
  config = ml_collections.ConfigDict()
  config.runner = "cs231n_jax.studies.lecture_systems:run_perceptron"
  config.seed = 0
  config.data = ml_collections.ConfigDict(dict(name="digits", view="8x8x1", dir="", scale=True, subtract_mean=True))
  config.perceptron = ml_collections.ConfigDict(dict(classes=(3, 8), alpha=1.0, num_epochs=50, shuffle=True))
  return config
