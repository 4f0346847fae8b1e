"""k discriminator steps per generator step, k in {1, 2, 5}, for the MLP GAN on digits at equal generator steps.

The lecture: "no real clear rule" for k. Reported: IS / FD analogues, marginal class entropy and wall-clock, over
3 seeds; no pass/fail.
Command: cs231n-jax train --config experiments/configs/generative/gan_k_ablation.py --workdir workdirs/gan_k_ablation
Expected: measured on CPU-2 (docs/results.md, "Lecture 13"): see the k table there.
"""

import ml_collections

from cs231n_jax.generative.configs import gan_config


def get_config():
  c = ml_collections.ConfigDict()
  c.runner = "cs231n_jax.generative.gan_runners:run_gan_study"
  c.base = gan_config("mlp")
  c.variants = ({"k": 1}, {"k": 2}, {"k": 5})
  c.seeds = (0, 1, 2)
  return c
