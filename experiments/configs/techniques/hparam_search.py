"""Random search in log space, coarse -> fine, and a grid of the same budget, on a digits 2-layer net.

Each stage trains all its trials as one jit(vmap(...))-compiled program (lecture 6, seed 6778-6948):
coarse 5 epochs over wide ranges, fine 20 epochs over the ranges of the best coarse fifth.
Command: cs231n-jax train --config experiments/configs/techniques/hparam_search.py --workdir workdirs/hparam_search
Expected: measured on CPU-2 (docs/results.md, "Lectures 6-7"): coarse best val 0.967 (lr 0.22,
  reg 3.3e-4; 16 of 48 coarse runs stopped early), fine best 0.972 (lr 3.3, reg 2.9e-5), grid best 0.972;
  in the two-parameter demo random search did at least as well as the 3x3 grid in 67.8% of 1000 repeats.
"""

import ml_collections


def get_config():
  c = ml_collections.ConfigDict()
  c.runner = "cs231n_jax.techniques.hparam_search:run_hparam_search"
  c.seed = 0
  c.model = ml_collections.ConfigDict({"hidden_dims": (100,)})
  # The lecture's search trains with momentum and learning_rate_decay = 0.9 per epoch, batch 100.
  c.optimizer = ml_collections.ConfigDict({"name": "momentum", "momentum": 0.9, "lr_decay": 0.9})
  c.train = ml_collections.ConfigDict({"batch_size": 100})
  c.search = ml_collections.ConfigDict()
  # The slide searches lr 10**U(-6, -3) for a net initialised at 1e-4 on CIFAR; with He init on
  # digits the useful rates are larger, so the coarse lr range is shifted up; reg keeps the slide's.
  c.search.coarse = ml_collections.ConfigDict({"trials": 48, "epochs": 5, "lr_range": (-4.0, 1.0), "reg_range": (-5.0, 5.0)})
  c.search.fine = ml_collections.ConfigDict({"trials": 25, "epochs": 20})
  c.search.grid_side = 5
  return c
