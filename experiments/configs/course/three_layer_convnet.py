"""The course's three-layer convnet (NCHW, im2col convolution) trained by the Solver with Adam.

conv - relu - 2x2 pool - affine - relu - affine - softmax, with hand-written backward passes.

Command: cs231n-jax train --config experiments/configs/course/three_layer_convnet.py --workdir /tmp/course_cnn

Expected: digits (8x8, 32 3x3 filters): validation accuracy 0.961, test 0.975. Measured on CPU-2,
see docs/results.md.

CIFAR-10 (the course's ConvolutionalNetworks notebook: weight_scale 1e-3, hidden 500, reg 1e-3,
Adam 1e-3, batch 50, one epoch, expecting above 40% training accuracy): add
--config.data.name=cifar10 --config.data.dir=DIR --config.model.filter_size=7
--config.model.hidden_dim=500 --config.model.weight_scale=1e-3 --config.solver.learning_rate=1e-3
--config.solver.num_epochs=1
--config.solver.batch_size=50
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
      name="ThreeLayerConvNet",
      num_filters=32,
      filter_size=3,
      hidden_dim=100,
      weight_scale=5e-2,
      reg=1e-3,
  ))
  config.solver = ml_collections.ConfigDict(dict(
      update_rule="adam",
      learning_rate=3e-3,
      lr_decay=0.95,
      num_epochs=20,
      batch_size=50,
      num_train_samples=1000,
      num_val_samples=ml_collections.FieldReference(None, field_type=int),
      print_every=1000,
      verbose=False,
  ))
  config.search = ml_collections.ConfigDict()
  return config
