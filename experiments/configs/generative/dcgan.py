"""DCGAN on 8x8 digits: project z to 2x2, stride-2 transposed convs with batch norm and ReLU, tanh output; a
strided-conv LeakyReLU discriminator with batch norm (Radford et al. 2016 guidelines), non-saturating loss.

Command: cs231n-jax train --config experiments/configs/generative/dcgan.py --workdir workdirs/dcgan
Expected: IS analogue 7.17, marginal class entropy 2.28 nats, FD analogue 1.29, all 10 classes; median nearest-train
  L2 1.29 (held-out digits 1.08), no sample closer to a training digit than the closest held-out one; 97 s of training,
  141 s in all, on CPU-2 (docs/results.md, "Lecture 13").
Measured with the GAN loop the training engine replaced (same update; other random draws); not rerun.
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
