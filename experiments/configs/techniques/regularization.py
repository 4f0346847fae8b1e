"""Train/val gaps on the full digits training set with and without each regulariser of lecture 7.

Engine runs of technique_mlp and technique_convnet: L2, L1, elastic net, decoupled weight decay,
dropout, DropConnect, data augmentation (crop + cutout), batch norm, stochastic depth, fractional
max pooling. The small-data version, where overfitting is real, is regularization_small_data.py.

Command: cs231n-jax train --config experiments/configs/techniques/regularization.py --workdir workdirs/regularization
Expected: measured on CPU-2 (docs/results.md, "Lectures 6-7"; 11 min wall under load): accuracies
  within one or two val images of the baseline (val 0.964); L2 / elastic net / augmentation cut the
  NLL gap from 0.160 to 0.093-0.100; stochastic depth moves the residual MLP (lr 0.01) from val
  0.958 to 0.964, one val image.
"""

import ml_collections

from cs231n_jax.tasks.classification import base_config


def get_config():
  c = base_config()
  c.runner = "cs231n_jax.studies.regularizer_study:run_regularization"
  # A wide MLP trained to fit the training set: the regime where regularisation can matter.
  c.model = ml_collections.ConfigDict({
      "name": "technique_mlp", "hidden_dims": (256, 256), "activation": "relu", "normalization": "none",
      "dropout_keep_ratio": 1.0, "dropconnect_keep": 1.0, "residual_blocks": 0, "final_survival": 1.0,
  })
  c.optimizer.name = "momentum"
  c.optimizer.learning_rate = 0.05
  c.optimizer.schedule.name = "cosine"
  c.train.batch_size = 64
  c.train.num_epochs = 30
  c.num_seeds = 2
  c.train.checkpoint_every = 10**9  # only the final checkpoint (best params are kept in memory)
  c.train.async_checkpoints = False
  mlp = lambda **o: {"baseline": "mlp", "overrides": o}
  c.variants = ml_collections.ConfigDict({
      "mlp": {"baseline": "", "overrides": {}},
      "mlp_l2": mlp(optimizer={"l2": 3e-3}),
      "mlp_l1": mlp(optimizer={"l1": 3e-4}),
      "mlp_elastic_net": mlp(optimizer={"l2": 1.5e-3, "l1": 1.5e-4}),
      # For plain SGD decoupled decay wd equals an L2 penalty wd / 2; with momentum they differ slightly.
      "mlp_weight_decay": mlp(optimizer={"weight_decay": 6e-3}),
      "mlp_dropout_half": mlp(model={"dropout_keep_ratio": 0.5}),
      "mlp_dropconnect_half": mlp(model={"dropconnect_keep": 0.5}),
      "mlp_augment": mlp(data={"augment": "crop(padding=1) | cutout(size=3)"}),
      "mlp_batchnorm": mlp(model={"normalization": "batch"}),
      # The unnormalised residual stack (He init in both branch layers) trains poorly at the MLPs'
      # 0.05 (val 0.911, train 0.977 when measured so); both residual variants use 0.01, the plain
      # residual MLP's best rate on the small-data version, so stochastic depth is compared as a
      # regulariser rather than as a rescue of a run that failed to train.
      "mlp_residual": {"baseline": "", "overrides": {"model": {"hidden_dims": (128,), "residual_blocks": 6},
                                                     "optimizer": {"learning_rate": 0.01}}},
      "mlp_stochastic_depth": {"baseline": "mlp_residual",
                               "overrides": {"model": {"hidden_dims": (128,), "residual_blocks": 6, "final_survival": 0.5},
                                             "optimizer": {"learning_rate": 0.01}}},
      "convnet": {"baseline": "",
                  "overrides": {"model": {"name": "technique_convnet", "features": (32, 64), "hidden_dim": 128, "pool": "max"}}},
      "convnet_fractional_pool": {"baseline": "convnet",
                                  "overrides": {"model": {"name": "technique_convnet", "features": (32, 64), "hidden_dim": 128,
                                                          "pool": "fractional"}}},
  })
  return c
