"""Batch norm lets a deep MLP train at learning rates where the plain network diverges.

Engine runs of technique_mlp with six hidden layers of 100, momentum SGD, normalization none vs batch.

Command: cs231n-jax train --config experiments/configs/techniques/batchnorm_lr.py --workdir workdirs/batchnorm_lr
Expected: measured on CPU-2 (docs/results.md, "Lectures 6-7"): without batch norm the loss is NaN
  at lr 0.3, 1 and 3; with it the net trains at 0.3 (val 0.972) and 1.0 (val 0.956), not at 3.
"""

import ml_collections

from cs231n_jax.tasks.classification import base_config


def get_config():
  c = base_config()
  c.runner = "cs231n_jax.studies.activation_study:run_batchnorm_learning_rates"
  c.model = ml_collections.ConfigDict({"name": "technique_mlp", "hidden_dims": (100,) * 6, "normalization": "none"})
  c.optimizer.name = "momentum"
  c.optimizer.learning_rate = 0.1
  c.optimizer.schedule.name = "constant"
  c.train.batch_size = 64
  c.train.num_epochs = 10
  c.train.checkpoint_every = 10**9
  c.train.async_checkpoints = False
  c.learning_rates = (0.01, 0.1, 0.3, 1.0, 3.0)
  return c
