"""Lecture 6's activation functions trained on digits, with dead ReLUs and saturated units counted.

Engine runs of technique_mlp 64-100-100-10: sigmoid, tanh, ReLU, leaky ReLU, PReLU, ELU, maxout, and
ReLU at an Adam rate too high for it; dead ReLUs are units never active on any training example.

Command: cs231n-jax train --config experiments/configs/techniques/activations.py --workdir workdirs/activations
Expected: measured on CPU-2 (docs/results.md, "Lectures 6-7"): no dead ReLU-family units at
  momentum 0.05; ReLU with Adam 0.05: 25 of the 100 second-layer units never active (12.5% of all
  hidden units); best val accuracy 0.950-0.967 for the ReLU family and maxout, 0.878 for sigmoid.
"""

import ml_collections

from cs231n_jax.tasks.classification import base_config


def get_config():
  c = base_config()
  c.runner = "cs231n_jax.studies.activation_study:run_activation_study"
  c.model = ml_collections.ConfigDict({"name": "technique_mlp", "hidden_dims": (100, 100), "activation": "relu"})
  c.optimizer.name = "momentum"
  c.optimizer.learning_rate = 0.05
  c.optimizer.schedule.name = "cosine"
  c.train.batch_size = 64
  c.train.num_epochs = 20
  c.train.checkpoint_every = 10**9  # the final checkpoint only
  c.train.async_checkpoints = False
  c.runs = ml_collections.ConfigDict({
      name: {"activation": name} for name in ("sigmoid", "tanh", "relu", "leaky_relu", "prelu", "elu", "maxout")
  })
  # ReLU with Adam at 0.05 (50x the lecture's 1e-3): big early updates push units negative for good.
  c.runs.relu_high_lr = {"activation": "relu", "optimizer": {"name": "adam", "learning_rate": 0.05, "schedule": {"name": "constant"}}}
  c.runs.leaky_relu_high_lr = {"activation": "leaky_relu",
                               "optimizer": {"name": "adam", "learning_rate": 0.05, "schedule": {"name": "constant"}}}
  return c
