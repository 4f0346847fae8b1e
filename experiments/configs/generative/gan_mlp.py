"""The original GAN (fully connected G and D) on 8x8 digits, non-saturating loss, k = 1.

Goodfellow et al. 2014 with the lecture's non-saturating generator loss; Adam(2e-4, beta1 = 0.5). Samples are
scored by the project's digits classifier (IS / FD analogues), checked against memorisation (nearest training
digit vs held-out digits), interpolated in z, and used for the thick/thin vector-arithmetic proxy.
Command: cs231n-jax train --config experiments/configs/generative/gan_mlp.py --workdir workdirs/gan_mlp
Expected: IS analogue 6.52, marginal class entropy 2.24 nats, FD analogue 5.44, all 10 classes; median nearest-train
  L2 1.35 (held-out digits 1.08), no sample closer to a training digit than the closest held-out one; 30 s of training,
  93 s in all, on a loaded CPU-2 (docs/results.md, "Lecture 13": the engine's run; the removed loop's draw gave IS 6.85,
  FD 3.57).
"""

from cs231n_jax.tasks import adversarial


def get_config():
  c = adversarial.base_config("mlp")  # fields: cs231n_jax.tasks.adversarial.base_config
  c.runner = "cs231n_jax.studies.gans:run_gan"
  c.scorer_epochs = 60  # epochs of the digits classifier that scores the samples
  return c
