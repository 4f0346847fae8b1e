"""Fully connected network with batch norm and dropout, trained by the Solver with Adam.

{affine - batchnorm - relu - dropout} x 3 - affine - softmax, the course-contract FullyConnectedNet
with hand-written backward passes.

Command: cs231n-jax train --config experiments/configs/course/fc_net_bn_dropout.py --workdir /tmp/course_fc

Expected: digits (8x8): validation accuracy 0.978, test 0.975. Measured on CPU-2, see
docs/results.md.

CIFAR-10: add --config.data.name=cifar10 --config.data.dir=DIR (the course asks for at least 50%
validation accuracy from its best fully connected model).
"""

import ml_collections


def get_config() -> ml_collections.ConfigDict:
  config = ml_collections.ConfigDict()
  config.runner = "cs231n_jax.studies.course_classifiers:run_solver"
  config.seed = 0
  config.data = ml_collections.ConfigDict(
      dict(name="digits", view="8x8x1", dir="", scale=True, subtract_mean=True, num_validation=1000)
  )
  config.model = ml_collections.ConfigDict(dict(
      name="FullyConnectedNet",
      hidden_dims=(100, 100, 100),
      normalization="batchnorm",  # or "layernorm", "none"
      dropout_keep_ratio=0.9,  # the KEEP probability, as in the course
      weight_scale=5e-2,
      reg=1e-3,
  ))
  config.solver = ml_collections.ConfigDict(dict(
      update_rule="adam",
      learning_rate=1e-3,
      lr_decay=0.95,
      num_epochs=30,
      batch_size=100,
      num_train_samples=1000,
      num_val_samples=ml_collections.FieldReference(None, field_type=int),
      print_every=1000,
      verbose=False,
  ))
  config.search = ml_collections.ConfigDict()
  return config
