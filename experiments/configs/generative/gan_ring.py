"""GANs on the 8-Gaussians ring: mode coverage and stability of each loss over seeds, and the saturation test.

The 2-D mixture of 8 Gaussians (radius 2, sd 0.02) of Metz et al. 2017: each loss (minimax, non-saturating,
LSGAN, WGAN with clipping, WGAN-GP) trains an MLP generator / discriminator with 3 seeds; a mode is covered
when >= 1% of samples lie within 3 sd of it. Also: D trained alone until D(G(z)) < 0.1, then the generator's
gradient norm under the minimax vs the non-saturating loss (the lecture's saturation argument).
Command: cs231n-jax train --config experiments/configs/generative/gan_ring.py --workdir workdirs/gan_ring
Expected: measured on CPU-2 (docs/results.md, "Lecture 13"): see the ring table there.
"""

import ml_collections


def gan_base(arch: str = "mlp") -> ml_collections.ConfigDict:
  """The fields one GAN run reads (shared by the digits configs)."""
  c = ml_collections.ConfigDict()
  c.seed = 0
  c.loss = "non_saturating"
  c.k = 1  # discriminator steps per generator step
  c.latent_dim = 16
  c.prior = "normal"
  c.model = ml_collections.ConfigDict({"arch": arch, "g_hidden": (128, 128), "d_hidden": (128, 128),
                                       "base_features": 64})
  c.g_optimizer = ml_collections.ConfigDict({"name": "adam", "learning_rate": 1e-3, "beta1": 0.5, "beta2": 0.999})
  c.d_optimizer = ml_collections.ConfigDict({"name": "adam", "learning_rate": 1e-3, "beta1": 0.5, "beta2": 0.999})
  c.train = ml_collections.ConfigDict({"generator_steps": 10000, "batch_size": 256, "log_every": 500,
                                       "checkpoint_every": 5000})
  return c


def get_config():
  c = ml_collections.ConfigDict()
  c.runner = "cs231n_jax.generative.gan_runners:run_gan_ring"
  c.base = gan_base()
  c.losses = ("minimax", "non_saturating", "lsgan", "wgan", "wgan_gp")
  c.seeds = (0, 1, 2)
  c.num_points = 100000
  c.num_eval_samples = 10000
  # The papers' own optimiser settings for the Wasserstein losses.
  c.per_loss = ml_collections.ConfigDict({
      "wgan": {"k": 5, "d_optimizer": {"name": "rmsprop", "learning_rate": 5e-5},
               "g_optimizer": {"name": "rmsprop", "learning_rate": 5e-5}},
      "wgan_gp": {"k": 5, "d_optimizer": {"beta1": 0.0, "beta2": 0.9}, "g_optimizer": {"beta1": 0.0, "beta2": 0.9}},
  })
  c.saturation = ml_collections.ConfigDict({"target_d_fake": 0.1, "min_d_steps": 300, "max_d_steps": 5000})
  return c
