"""Model ensembles (5 seeds), a snapshot ensemble (cyclic cosine rate) and Polyak averaging on digits.

All members are engine runs (train.loop.fit) of technique_mlp (64-100-100-10, momentum SGD, cosine rate).
Command: cs231n-jax train --config experiments/configs/techniques/ensembles.py --workdir workdirs/ensembles
Expected: measured on CPU-2 (docs/results.md, "Lectures 6-7"): 5-model ensemble test accuracy 0.967
  vs 0.961 mean single model, NLL 0.133 vs 0.148; Polyak NLL 0.097 vs 0.110 raw (accuracy equal).
"""

import ml_collections

from cs231n_jax.tasks.classification import base_config


def get_config():
  c = base_config()
  c.runner = "cs231n_jax.studies.ensembles:run_ensembles"
  c.model = ml_collections.ConfigDict({"name": "technique_mlp", "hidden_dims": (100, 100)})
  c.optimizer.name = "momentum"
  c.optimizer.learning_rate = 0.05
  c.optimizer.l2 = 1e-4
  c.optimizer.schedule.name = "cosine"
  c.train.batch_size = 64
  c.train.num_epochs = 20
  c.train.async_checkpoints = False
  c.ensemble = ml_collections.ConfigDict({"num_models": 5})
  # 4 cycles of 5 epochs (20 steps per epoch at batch 64).
  c.snapshot = ml_collections.ConfigDict({"num_cycles": 4, "cycle_steps": 100})
  # Polyak: the slide's 0.995 on a constant, noisy rate.
  c.polyak = ml_collections.ConfigDict({"decay": 0.995, "learning_rate": 0.2})
  return c
