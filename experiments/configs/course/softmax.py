"""Softmax (cross-entropy) linear classifier on raw pixels with the bias trick, tuned on the validation set.

Command: cs231n-jax train --config experiments/configs/course/softmax.py --workdir /tmp/course_softmax

Expected: digits (8x8): validation accuracy 0.961, test 0.964 (best of the grid below: lr 1.0,
reg 1e-5). Measured on CPU-2, see docs/results.md. The course's softmax notebook expects above
0.35 validation accuracy on CIFAR-10.

CIFAR-10 with the course's search ranges: add --config.data.name=cifar10 --config.data.dir=DIR
--config.data.scale=False --config.linear.learning_rates="(1e-7, 5e-7)"
--config.linear.regularization_strengths="(2.5e4, 5e4)"
"""

import ml_collections


def get_config() -> ml_collections.ConfigDict:
  config = ml_collections.ConfigDict()
  config.runner = "cs231n_jax.studies.course_classifiers:run_linear"
  config.seed = 0
  config.data = ml_collections.ConfigDict(
      dict(name="digits", view="8x8x1", dir="", scale=True, subtract_mean=True, num_validation=1000)
  )
  config.linear = ml_collections.ConfigDict(dict(
      loss="softmax",
      learning_rates=(0.3, 1.0, 3.0),
      regularization_strengths=(1e-5, 1e-4, 1e-3),  # reg * sum(W^2), the course's linear convention
      regularization="l2",  # or "l1", "elastic"
      num_iters=1500,
      batch_size=200,
  ))
  return config
