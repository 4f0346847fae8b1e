"""Two-layer network (affine - relu - affine - softmax) trained by the Solver, tuned by grid search.

Command: cs231n-jax train --config experiments/configs/course/two_layer_net.py --workdir /tmp/course_two_layer

Expected: digits (8x8): validation accuracy 0.972, test 0.969 (best of 18: hidden 50, lr 3.0 --
the top of the learning-rate grid, lecture 6's "worrying" edge -- reg 1e-4). Measured on CPU-2, see
docs/results.md. The course expects above 48% validation and test accuracy on CIFAR-10.

CIFAR-10 (the course's two_layer_net notebook: 49,000 / 1,000 split, raw pixels minus the mean):
add --config.data.name=cifar10 --config.data.dir=DIR --config.data.scale=False
--config.solver.learning_rate=1e-3 --config.model.weight_scale=1e-3 --config.solver.num_epochs=10
--config.search.learning_rate="(1e-4, 5e-4, 1e-3)" --config.search.reg="(0.0, 0.1, 0.5)"
"""

import ml_collections


def get_config() -> ml_collections.ConfigDict:
  config = ml_collections.ConfigDict()
  config.runner = "cs231n_jax.studies.course_classifiers:run_solver"
  config.seed = 0
  config.data = ml_collections.ConfigDict(
      dict(name="digits", view="8x8x1", dir="", scale=True, subtract_mean=True, num_validation=1000)
  )
  config.model = ml_collections.ConfigDict(dict(name="TwoLayerNet", hidden_dim=100, weight_scale=1e-1, reg=0.0))
  config.solver = ml_collections.ConfigDict(dict(
      update_rule="sgd",
      learning_rate=0.1,
      lr_decay=0.95,
      num_epochs=20,
      batch_size=100,
      num_train_samples=1000,
      num_val_samples=ml_collections.FieldReference(None, field_type=int),
      print_every=1000,
      verbose=False,
  ))
  # Every combination is trained; the best validation accuracy is tested once.
  config.search = ml_collections.ConfigDict(dict(
      hidden_dim=(50, 100, 200),
      learning_rate=(0.3, 1.0, 3.0),
      reg=(1e-4, 1e-3),
  ))
  return config
