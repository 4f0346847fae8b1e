"""k-nearest neighbours, with k and the distance (L1 / L2) chosen by 5-fold cross-validation (lecture 2).

Command: cs231n-jax train --config experiments/configs/course/knn.py --workdir /tmp/course_knn

Expected: digits (8x8): 5-fold CV picks k=1 with L2 (mean CV accuracy 0.987); test accuracy 0.978;
1-NN is 1.000 on its own training data (lecture 2's "Idea #1 is BAD"). Measured on CPU-2, see
docs/results.md. On CIFAR-10 the course's knn notebook expects about 27% at k=1 and above 28% with
the cross-validated k (5,000 training / 500 test images).

CIFAR-10, as the course runs it: add --config.data.name=cifar10 --config.data.dir=DIR
--config.knn.num_train=5000 --config.knn.num_test=500 --config.knn.metrics="('l2',)"
"""

import ml_collections


def get_config() -> ml_collections.ConfigDict:
  config = ml_collections.ConfigDict()
  config.runner = "cs231n_jax.studies.course_classifiers:run_knn"
  config.seed = 0
  config.data = ml_collections.ConfigDict(
      dict(name="digits", view="8x8x1", dir="", scale=True, subtract_mean=True, num_validation=1000)
  )
  config.knn = ml_collections.ConfigDict(dict(
      k_choices=(1, 3, 5, 8, 10, 12, 15, 20, 50, 100),  # the course's list
      num_folds=5,
      metrics=("l2", "l1"),
      num_train=ml_collections.FieldReference(None, field_type=int),  # None: all
      num_test=ml_collections.FieldReference(None, field_type=int),
  ))
  return config
