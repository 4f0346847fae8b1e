"""VAE with the lectures' Gaussian decoder (mean and diagonal variance) on dequantised 17-level digits (z = 16).

The continuous density of (x + u) / 17, u ~ U[0, 1), bounds the discrete likelihood: -ELBO + 64 ln 17 >= -log P(x)
(Theis et al. 2016), so the numbers sit in the same 17-level likelihood table as the PixelCNNs.
Command: cs231n-jax train --config experiments/configs/generative/vae_gaussian.py --workdir workdirs/vae_gaussian
Expected: discrete NLL bounds on the 17-level test digits: -ELBO + 64 ln 17 = 117.63 nats/image (2.652 bits/dim), IW
  k=1000: 111.70 (2.518 bits/dim) — above the independent-categorical baseline; best validation epoch 197 of 200
  (still improving); samples IS analogue 5.00; 95 s on CPU-2 (docs/results.md, "Lecture 13").
"""

import ml_collections

from cs231n_jax.tasks.likelihood import base_config


def get_config():
  c = base_config()  # runner cs231n_jax.tasks.likelihood:run; Adam (optax's eps 1e-8)
  # The decoder picks the data: bernoulli -> binarised digits, gaussian -> dequantised 17 levels.
  c.model = ml_collections.ConfigDict({"name": "vae", "latent_dim": 16, "hidden": (256, 256), "decoder": "gaussian",
                                       "arch": "mlp"})
  c.optimizer.learning_rate = 1e-3
  # One validation per epoch (eval_every 0); patience counts validations without improvement.
  c.train.update({"num_epochs": 200, "batch_size": 64, "patience": 30})
  c.eval = ml_collections.ConfigDict({
      "val_samples": 10,  # draws of z per image in the validation -ELBO (fixed per example: comparable across epochs)
      "test_samples": 100, "iw_k": 1000,  # the test -ELBO and the importance-weighted NLL
      "quadrature_elbo_samples": 1000, "quadrature_images": 360, "quadrature_grid": 200,  # 2-D latent only
      "probe_seeds": (0, 1, 2, 3, 4), "labels_per_class": 10})  # the few-labels probe of the encoder means
  c.scorer_epochs = 60  # epochs of the digits classifier that scores the samples
  return c
