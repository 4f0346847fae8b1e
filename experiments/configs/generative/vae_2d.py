"""VAE with a 2-D latent on binarised digits: the lecture's latent manifold, and ELBO <= log p(x) by quadrature.

Decodes a 10x10 grid at prior percentiles 5%..95% (manifold.png); computes log p(x) for every test image by the
midpoint rule on a 200x200 grid over [-6, 6]^2 and checks ELBO <= log p(x) and log p(x) - ELBO = KL(q || p(z|x)).
Command: cs231n-jax train --config experiments/configs/generative/vae_2d.py --workdir workdirs/vae_2d
Expected: ELBO <= log p(x) (quadrature) for 359 of the 360 test images, the one exception by 0.002 nats (Monte
  Carlo noise of the 1000-sample ELBO); mean gap 0.77 nats; quadrature NLL 18.72 nats/image vs IW k=1000 18.77 and
  -ELBO 19.49; the manifold shows all 10 classes, adjacent cells 0.31x as far apart as random pairs; 114 s on CPU-2
  (docs/results.md, "Lecture 13").
"""

from cs231n_jax.generative.configs import vae_config


def get_config():
  return vae_config("bernoulli", latent_dim=2)
