"""Linear classifiers on raw pixels with the bias trick (lectures 2-3): multiclass SVM and softmax, tuned on validation.

Variants: ``linear.py:svm`` (multiclass hinge loss; the default) and ``linear.py:softmax`` (cross-entropy); they
differ in the loss and the search grid.

svm -- the course's svm notebook expects about 0.39 validation accuracy on CIFAR-10.
Command: cs231n-jax train --config experiments/configs/course/linear.py:svm --workdir /tmp/course_svm
Expected: digits (8x8): validation accuracy 0.967, test 0.972 (best of the grid below: lr 0.1,
  reg 1e-4). Measured on CPU-2, see docs/results.md.

softmax -- the course's softmax notebook expects above 0.35 validation accuracy on CIFAR-10.
Command: cs231n-jax train --config experiments/configs/course/linear.py:softmax --workdir /tmp/course_softmax
Expected: digits (8x8): validation accuracy 0.961, test 0.964 (best of the grid below: lr 1.0,
  reg 1e-5). Measured on CPU-2, see docs/results.md.

CIFAR-10 with the course's search ranges: add --config.data.name=cifar10 --config.data.dir=DIR
--config.data.scale=False --config.linear.learning_rates="(1e-7, 5e-5)" (softmax: "(1e-7, 5e-7)")
--config.linear.regularization_strengths="(2.5e4, 5e4)"
"""

import ml_collections

VARIANTS = ("svm", "softmax")
# reg * sum(W^2), the course's linear convention
GRIDS = {"svm": {"learning_rates": (0.03, 0.1, 0.3), "regularization_strengths": (1e-4, 1e-3, 1e-2)},
         "softmax": {"learning_rates": (0.3, 1.0, 3.0), "regularization_strengths": (1e-5, 1e-4, 1e-3)}}


def get_config(loss="svm") -> ml_collections.ConfigDict:
  config = ml_collections.ConfigDict()
  config.runner = "cs231n_jax.studies.course_classifiers:run_linear"
  config.seed = 0
  config.data = ml_collections.ConfigDict(
      dict(name="digits", view="8x8x1", dir="", scale=True, subtract_mean=True, num_validation=1000)
  )
  config.linear = ml_collections.ConfigDict(dict(
      loss=loss,
      **GRIDS[loss],
      regularization="l2",  # or "l1", "elastic"
      num_iters=1500,
      batch_size=200,
  ))
  return config
