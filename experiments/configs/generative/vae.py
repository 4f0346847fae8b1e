"""VAE with a Bernoulli decoder on binarised digits (z = 16): -ELBO, importance-weighted NLL (k = 1000), samples.

Kingma and Welling 2014 (reparameterisation, closed-form KL); Burda et al. 2016 (IW estimate). MLP encoder and
decoder 64-256-256-(2x16) and back; Adam 1e-3; early stopping on the validation -ELBO. The Bernoulli decoder is
a deviation from the lectures' Gaussian decoder (see vae_gaussian.py), as in Kingma and Welling's MNIST runs.
Command: cs231n-jax train --config experiments/configs/generative/vae.py --workdir workdirs/vae
Expected: test -ELBO 18.41 nats/image (0.415 bits/dim), IW k=1000 NLL estimate 17.05 (0.384 bits/dim), KL 6.77
  nats; best validation epoch 83, stopped at 113; samples IS analogue 5.61, 10 classes; 87 s on CPU-2
  (docs/results.md, "Lecture 13").
"""

import ml_collections

from cs231n_jax.tasks.likelihood import base_config


def get_config():
  c = base_config()  # runner cs231n_jax.tasks.likelihood:run; Adam (optax's eps 1e-8)
  # The decoder picks the data: bernoulli -> binarised digits, gaussian -> dequantised 17 levels.
  c.model = ml_collections.ConfigDict({"name": "vae", "latent_dim": 16, "hidden": (256, 256), "decoder": "bernoulli",
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
