"""VAE with the lectures' Gaussian decoder (mean and diagonal variance) on dequantised 17-level digits (z = 16).

The continuous density of (x + u) / 17, u ~ U[0, 1), bounds the discrete likelihood: -ELBO + 64 ln 17 >= -log P(x)
(Theis et al. 2016), so the numbers sit in the same 17-level likelihood table as the PixelCNNs.
Command: cs231n-jax train --config experiments/configs/generative/vae_gaussian.py --workdir workdirs/vae_gaussian
Expected: measured on CPU-2 (docs/results.md, "Lecture 13"): see the likelihood table there.
"""

from cs231n_jax.generative.configs import vae_config


def get_config():
  return vae_config("gaussian", latent_dim=16)
