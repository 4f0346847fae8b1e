"""VAE with a Bernoulli decoder on binarised digits (z = 16): -ELBO, importance-weighted NLL (k = 1000), samples.

Kingma and Welling 2014 (reparameterisation, closed-form KL); Burda et al. 2016 (IW estimate). MLP encoder and
decoder 64-256-256-(2x16) and back; Adam 1e-3; early stopping on the validation -ELBO. The Bernoulli decoder is
a deviation from the lectures' Gaussian decoder (see vae_gaussian.py), as in Kingma and Welling's MNIST runs.
Command: cs231n-jax train --config experiments/configs/generative/vae.py --workdir workdirs/vae
Expected: measured on CPU-2 (docs/results.md, "Lecture 13"): see the likelihood table there.
"""

from cs231n_jax.generative.configs import vae_config


def get_config():
  return vae_config("bernoulli", latent_dim=16)
