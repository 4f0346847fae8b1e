"""Minimax (saturating) vs non-saturating generator loss for the MLP GAN on digits, 3 seeds each.

The lecture says the non-saturating loss "works much better in practice"; on 8x8 digits the gap may be small,
so the table reports both with their seed-to-seed spread (IS / FD analogues, marginal class entropy).
Command: cs231n-jax train --config experiments/configs/generative/gan_losses.py --workdir workdirs/gan_losses
Expected: IS analogue (mean ± sd over 3 seeds) minimax 6.92 ± 0.09, non-saturating 6.75 ± 0.15, LSGAN 5.62 ± 0.19;
  FD analogue 2.5 / 3.6 / 16.8 — the non-saturating loss is not better here; 302 s on CPU-2 (docs/results.md,
  "Lecture 13").
Measured with the GAN loop the training engine replaced (same update; other random draws). Re-run on the engine
  (minimax and non-saturating only: --config.variants="({'loss': 'minimax'}, {'loss': 'non_saturating'})",
  workdir workdirs/gen_gan_losses, 10 min at load average ~20): IS 6.76 ± 0.12 / 6.59 ± 0.16, FD 2.7 ± 0.3 / 4.4 ± 0.6;
  D(G(z)) never below 0.36 in any logged window (docs/results.md). LSGAN on the engine (--config.variants=
  "({'loss': 'lsgan'},)", workdirs/gen_gan_lsgan, 2.4 min): IS 5.85 ± 0.20, FD 12.4 ± 2.9 (docs/results.md, "GAN
  generator losses on digits").
"""

import ml_collections

from cs231n_jax.tasks import adversarial


def get_config():
  c = ml_collections.ConfigDict()
  c.runner = "cs231n_jax.studies.gans:run_gan_study"
  c.base = adversarial.base_config("mlp")  # each run: cs231n_jax.studies.gans.run_gan
  c.base.runner = "cs231n_jax.studies.gans:run_gan"
  c.base.scorer_epochs = 60  # epochs of the digits classifier that scores the samples
  c.variants = ({"loss": "minimax"}, {"loss": "non_saturating"}, {"loss": "lsgan"})
  c.seeds = (0, 1, 2)
  return c
