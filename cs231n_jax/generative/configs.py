"""Default experiment settings shared by the ``experiments/configs/generative/*.py`` files, so each
file states only what differs. Every field here is one a runner reads."""

from __future__ import annotations

import ml_collections

SCORER_EPOCHS = 60  # epochs of the digits classifier that scores samples


def pixel_config(name: str, binarize: bool = True, **model) -> ml_collections.ConfigDict:
  """A pixel model (``run_pixel_model``): model fields, data kind, Adam, early stopping, sampling."""
  c = ml_collections.ConfigDict()
  c.runner = "cs231n_jax.generative.runners:run_pixel_model"
  c.seed = 0
  c.data = ml_collections.ConfigDict({"binarize": binarize})
  c.model = ml_collections.ConfigDict({"name": name, **model})
  c.train = ml_collections.ConfigDict({"learning_rate": 1e-3, "weight_decay": 0.0, "num_epochs": 60,
                                       "batch_size": 64, "patience": 15})
  c.sample = ml_collections.ConfigDict({"num_samples": 100, "first_pixel": "model"})
  return c


def vae_config(decoder: str = "bernoulli", latent_dim: int = 16) -> ml_collections.ConfigDict:
  """A VAE (``run_vae``)."""
  c = ml_collections.ConfigDict()
  c.runner = "cs231n_jax.generative.runners:run_vae"
  c.seed = 0
  c.model = ml_collections.ConfigDict({"latent_dim": latent_dim, "hidden": (256, 256), "decoder": decoder,
                                       "arch": "mlp"})
  c.train = ml_collections.ConfigDict({"learning_rate": 1e-3, "num_epochs": 200, "batch_size": 64, "patience": 30})
  c.eval = ml_collections.ConfigDict({"val_samples": 10, "test_samples": 100, "iw_k": 1000,
                                      "quadrature_elbo_samples": 1000, "quadrature_images": 360,
                                      "quadrature_grid": 200, "probe_seeds": (0, 1, 2, 3, 4),
                                      "labels_per_class": 10})
  c.scorer_epochs = SCORER_EPOCHS
  return c
