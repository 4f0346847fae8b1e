"""k discriminator steps per generator step, k in {1, 2, 5}, for the MLP GAN on digits at equal generator steps.

The lecture: "no real clear rule" for k. Reported: IS / FD analogues, marginal class entropy and wall-clock, over
3 seeds; no pass/fail.
Command: cs231n-jax train --config experiments/configs/generative/gan_k_ablation.py --workdir workdirs/gan_k_ablation
Expected: IS analogue (mean ± sd over 3 seeds) k=1 6.75 ± 0.15, k=2 5.07 ± 0.06, k=5 3.35 ± 0.17; marginal class
  entropy 2.27 / 1.99 / 1.52 nats; training 47 s per run at k=5; 271 s on CPU-2 (the removed GAN loop).
  Re-run on the training engine (2026-12-07, CPU-2 under load, workdirs/gen_k_ablation; k = 1 is gan_losses.py's
  non-saturating runs, IS 6.59 ± 0.16): --config.variants="({'k': 2},)": IS 5.01 ± 0.11, entropy 2.00 ± 0.02,
  FD 24.1 ± 0.9; --config.variants="({'k': 5},)": IS 2.79 ± 0.29,
  entropy 1.33 ± 0.11, FD 73.0 ± 13.0; about 180 s of training per k = 5 run (docs/results.md, "GAN generator losses on digits", E11).
"""

import ml_collections

from cs231n_jax.tasks import adversarial


def get_config():
  c = ml_collections.ConfigDict()
  c.runner = "cs231n_jax.studies.gans:run_gan_study"
  c.base = adversarial.base_config("mlp")  # each run: cs231n_jax.studies.gans.run_gan
  c.base.runner = "cs231n_jax.studies.gans:run_gan"
  c.base.scorer_epochs = 60  # epochs of the digits classifier that scores the samples
  c.variants = ({"k": 1}, {"k": 2}, {"k": 5})
  c.seeds = (0, 1, 2)
  return c
