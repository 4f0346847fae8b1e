"""Train/val gaps with and without each regulariser of lecture 7 on 10 training digits per class.

Overfitting is real here (the full-set version, regularization.py, shows effects of one or two
images): 100 training images (data.train_per_class = 10), 5 seeds, each drawing its own 100
(data.subset_seed = seed), so a variant and its baseline see the same images at each seed; engine
runs of lecture7_mlp / lecture7_convnet.

Command: cs231n-jax train --config experiments/configs/training/regularization_small_data.py --workdir workdirs/regularization_small_data
Expected: measured on CPU-2 (docs/results.md, "Lectures 6-7"): (to be measured)
"""

import ml_collections

from cs231n_jax.train.loop import base_config

TRAIN_PER_CLASS = 10
STEPS = 500


def get_config():
  c = base_config()
  c.runner = "cs231n_jax.techniques.regularization:run_regularization"
  c.data.train_per_class = TRAIN_PER_CLASS  # data.subset_seed follows the run's seed
  c.model = ml_collections.ConfigDict({
      "name": "lecture7_mlp", "hidden_dims": (256, 256), "activation": "relu", "normalization": "none",
      "dropout_keep_ratio": 1.0, "dropconnect_keep": 1.0, "residual_blocks": 0, "final_survival": 1.0,
  })
  c.optimizer.name = "momentum"
  c.optimizer.learning_rate = 0.05
  c.optimizer.schedule.name = "cosine"
  c.train.batch_size = 32
  c.train.num_steps = STEPS  # 160 epochs of 100 images: the baseline fits its training set exactly
  c.train.eval_every = STEPS // 5
  c.train.checkpoint_every = 10**9  # only the final checkpoint (the study reads the final parameters)
  c.train.async_checkpoints = False
  c.num_seeds = 5
  mlp = lambda **o: {"baseline": "mlp", "overrides": o}
  residual = {"hidden_dims": (128,), "residual_blocks": 6}
  convnet = {"name": "lecture7_convnet", "features": (32, 64), "hidden_dim": 128}
  c.variants = ml_collections.ConfigDict({
      "mlp": {"baseline": "", "overrides": {}},
      "mlp_l2_1e-3": mlp(optimizer={"l2": 1e-3}),
      "mlp_l2_1e-2": mlp(optimizer={"l2": 1e-2}),
      "mlp_l1_1e-4": mlp(optimizer={"l1": 1e-4}),
      "mlp_l1_1e-3": mlp(optimizer={"l1": 1e-3}),
      "mlp_elastic_net": mlp(optimizer={"l2": 5e-3, "l1": 5e-4}),
      # Decoupled decay wd = 2 l2 is L2's update for plain SGD; with momentum 0.9 the L2 gradient is
      # accumulated ~1 / (1 - 0.9) = 10 times, so wd = 20 l2 matches L2 1e-2 in the long run.
      "mlp_weight_decay_2e-2": mlp(optimizer={"weight_decay": 0.02}),
      "mlp_weight_decay_2e-1": mlp(optimizer={"weight_decay": 0.2}),
      "mlp_dropout_half": mlp(model={"dropout_keep_ratio": 0.5}),
      "mlp_dropconnect_half": mlp(model={"dropconnect_keep": 0.5}),
      "mlp_augment_crop": mlp(data={"augment": "crop(padding=1)"}),
      "mlp_augment_crop_cutout": mlp(data={"augment": "crop(padding=1) | cutout(size=3)"}),
      "mlp_batchnorm": mlp(model={"normalization": "batch"}),
      "mlp_residual": {"baseline": "", "overrides": {"model": residual}},
      "mlp_stochastic_depth": {"baseline": "mlp_residual", "overrides": {"model": {**residual, "final_survival": 0.5}}},
      "convnet": {"baseline": "", "overrides": {"model": {**convnet, "pool": "max"}}},
      "convnet_fractional_pool": {"baseline": "convnet", "overrides": {"model": {**convnet, "pool": "fractional"}}},
  })
  return c
