"""Babysitting the learning process: the slide's sanity checks, loss-curve diagnosis, update/weight ratios.

Checks: initial loss ~ ln 10 with 1e-4 weights and no regularisation; reg 1e3 raises it; 20 examples
overfit to 100% train accuracy. Curves: momentum SGD at a too-low, a good and a too-high rate (early
stop on NaN or loss > 3x initial) and a too-small initialisation, each with its per-layer update/weight ratio.
Command: cs231n-jax train --config experiments/configs/techniques/babysitting.py --workdir workdirs/babysitting
Expected: measured on CPU-2 (docs/results.md, "Lectures 6-7"): initial loss 2.30259 (ln 10 =
  2.30259), 2.340 with reg 1e3; 20 examples overfit to train accuracy 1.0 (loss 0.0058); the lr-10 run
  stops after 4 steps; the good run's median update/weight ratios 3.2e-3 (W1) and 6.2e-3 (W2).
"""

import ml_collections


def get_config():
  c = ml_collections.ConfigDict()
  c.runner = "cs231n_jax.studies.babysitting:run_babysitting"
  c.seed = 0
  c.hidden_dims = (50,)
  c.epochs = 10
  c.batch_size = 100
  c.reg = 1e-4
  # label -> learning rate and init ("he": std sqrt(2/fan_in); "small": the slide's 1e-4 * randn).
  c.runs = ml_collections.ConfigDict({
      "lr_too_low": {"lr": 1e-5, "init": "he"},
      "lr_good": {"lr": 2e-2, "init": "he"},
      "lr_too_high": {"lr": 10.0, "init": "he"},
      "init_too_small": {"lr": 1e-2, "init": "small"},
  })
  return c
