"""Lecture 3's strategy #1, random search over W (1,000 draws of W = 0.0001 * randn, keep the lowest
full training-set SVM loss), against strategy #3, minibatch SGD on the same loss (the course's
LinearSVM loop), on raw digit pixels with the bias trick.

Command: cs231n-jax train --config experiments/configs/lectures/random_search.py --workdir workdirs/random_search

Expected: digits, seed 0, measured on CPU-2 under load (30 s): random search's best of 1,000 W has
training SVM loss 8.9986 (median 9.0000: at scale 1e-4 every margin is ~1) and test accuracy 0.236 (chance 0.10);
minibatch SGD reaches training loss 0.074 and test accuracy 0.967 — a 0.73 margin.

The lecture's own numbers are for CIFAR-10 (15.5% test accuracy for random search):
--config.data.name=cifar10 --config.data.dir=DIR --config.data.scale=False.
"""

import ml_collections


def get_config() -> ml_collections.ConfigDict:
  config = ml_collections.ConfigDict()
  config.runner = "cs231n_jax.studies.lecture_systems:run_random_search"
  config.seed = 0
  config.data = ml_collections.ConfigDict(dict(name="digits", view="8x8x1", dir="", scale=True, subtract_mean=True))
  config.random_search = ml_collections.ConfigDict(dict(num_tries=1000, scale=1e-4, loss="svm", chunk=100))
  config.sgd = ml_collections.ConfigDict(dict(learning_rate=0.1, reg=1e-4, num_iters=1500, batch_size=200))
  return config
