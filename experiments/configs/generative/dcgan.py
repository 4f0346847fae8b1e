"""DCGAN on 8x8 digits: project z to 2x2, stride-2 transposed convs with batch norm and ReLU, tanh output; a
strided-conv LeakyReLU discriminator with batch norm (Radford et al. 2016 guidelines), non-saturating loss.

Command: cs231n-jax train --config experiments/configs/generative/dcgan.py --workdir workdirs/dcgan
Expected: IS analogue 6.78, marginal class entropy 2.28 nats, FD analogue 2.47, all 10 classes; median nearest-train
  L2 1.30 (held-out digits 1.08), no sample closer to a training digit than the closest held-out one; interpolation
  90% of paths with <= 2 class switches; vector arithmetic 91% of pairs with the median-ink split (56% with the
  3-extremes proxy); 487 s of training, 12 min in all, on CPU-2 under load (the training engine, 2026-12-07; the
  removed loop's draw: IS 7.17, FD 1.29; docs/results.md, "GANs on digits").
"""

from cs231n_jax.tasks import adversarial


def get_config():
  c = adversarial.base_config("dcgan")  # fields: cs231n_jax.tasks.adversarial.base_config
  c.runner = "cs231n_jax.studies.gans:run_gan"
  c.scorer_epochs = 60  # epochs of the digits classifier that scores the samples
  # 32 base features (G: 2x2x64 -> 4x4x32 -> 8x8x1): at 64, XLA's CPU transposed convolutions make a step
  # 25x slower (339 vs 13 ms measured) for no gain on 8x8 images.
  c.model.base_features = 32
  return c
