"""The optimizer race: every lecture rule on ill-conditioned and saddle surfaces and on digits.

SGD, momentum, Nesterov, AdaGrad, RMSProp, Adam (with / without bias correction) on an
ill-conditioned quadratic (axis-aligned and rotated) and a saddle, and on the digits 2-layer net,
each at its best rate. The best rate of each rule comes from a log grid run as one vmapped program
(2-D surfaces: every rate at once; digits: rates x 3 seeds at once).

Command: cs231n-jax train --config experiments/configs/techniques/optimizer_race.py --workdir workdirs/optimizer_race
Expected: measured on CPU-2 (docs/results.md, "Lectures 6-7"): steps to f < 1e-6 on the
  condition-100 valley at each rule's best rate: SGD 477, momentum 144, Nesterov 127, Adam 147, RMSProp 6
  (axis-aligned) but not within 1000 steps when rotated; digits train losses in docs/results.md.
"""

import ml_collections


def get_config():
  c = ml_collections.ConfigDict()
  c.runner = "cs231n_jax.techniques.optimizer_race:run_optimizer_race"
  c.seed = 0
  c.surfaces = ("ill_conditioned", "ill_conditioned_rotated", "saddle")
  c.num_steps = 1000
  c.show_steps = 100
  c.tolerance = 1e-6  # "reached" = f < f_min + tolerance, and stays there
  c.lr_log10_range = (-4.0, 0.5)
  c.num_lrs = 46
  c.digits = ml_collections.ConfigDict({
      "enabled": True, "hidden_dims": (100,), "epochs": 20, "batch_size": 100, "reg": 0.0,
      "lr_log10_range": (-4.0, 1.0), "num_lrs": 11, "num_seeds": 3,
  })
  return c
