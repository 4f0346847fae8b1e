"""VAE with a Bernoulli decoder on binarised digits (z = 16): -ELBO, importance-weighted NLL (k = 1000), samples.

Kingma and Welling 2014 (reparameterisation, closed-form KL); Burda et al. 2016 (IW estimate). MLP encoder and
decoder 64-256-256-(2x16) and back; Adam 1e-3; early stopping on the validation -ELBO. The Bernoulli decoder is
a deviation from the lectures' Gaussian decoder (see vae_gaussian.py), as in Kingma and Welling's MNIST runs.
Command: cs231n-jax train --config experiments/configs/generative/vae.py --workdir workdirs/vae
Expected: test -ELBO 18.41 nats/image (0.415 bits/dim), IW k=1000 NLL estimate 17.05 (0.384 bits/dim), KL 6.77
  nats; best validation epoch 83, stopped at 113; samples IS analogue 5.61, 10 classes; 87 s on CPU-2
  (docs/results.md, "Lecture 13").
"""

from cs231n_jax.generative.configs import vae_config


def get_config():
  return vae_config("bernoulli", latent_dim=16)
