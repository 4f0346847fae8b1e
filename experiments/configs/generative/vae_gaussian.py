"""VAE with the lectures' Gaussian decoder (mean and diagonal variance) on dequantised 17-level digits (z = 16).

The continuous density of (x + u) / 17, u ~ U[0, 1), bounds the discrete likelihood: -ELBO + 64 ln 17 >= -log P(x)
(Theis et al. 2016), so the numbers sit in the same 17-level likelihood table as the PixelCNNs.
Command: cs231n-jax train --config experiments/configs/generative/vae_gaussian.py --workdir workdirs/vae_gaussian
Expected: discrete NLL bounds on the 17-level test digits: -ELBO + 64 ln 17 = 117.63 nats/image (2.652 bits/dim), IW
  k=1000: 111.70 (2.518 bits/dim) — above the independent-categorical baseline; best validation epoch 197 of 200
  (still improving); samples IS analogue 5.00; 95 s on CPU-2 (docs/results.md, "Lecture 13").
"""

from cs231n_jax.generative.configs import vae_config


def get_config():
  return vae_config("gaussian", latent_dim=16)
