"""VAE with a 2-D latent on binarised digits: the lecture's latent manifold, and ELBO <= log p(x) by quadrature.

Decodes a 10x10 grid at prior percentiles 5%..95% (manifold.png); computes log p(x) for every test image by the
midpoint rule on a 200x200 grid over [-6, 6]^2 and checks ELBO <= log p(x) and log p(x) - ELBO = KL(q || p(z|x)).
Command: cs231n-jax train --config experiments/configs/generative/vae_2d.py --workdir workdirs/vae_2d
Expected: ELBO <= log p(x) (quadrature) for 359 of the 360 test images, the one exception by 0.002 nats (Monte
  Carlo noise of the 1000-sample ELBO); mean gap 0.77 nats; quadrature NLL 18.72 nats/image vs IW k=1000 18.77 and
  -ELBO 19.49; the manifold shows all 10 classes, adjacent cells 0.31x as far apart as random pairs; 114 s on CPU-2
  (docs/results.md, "Lecture 13").
"""

import ml_collections

from cs231n_jax.tasks.likelihood import base_config


def get_config():
  c = base_config()  # runner cs231n_jax.tasks.likelihood:run; Adam (optax's eps 1e-8)
  # The decoder picks the data: bernoulli -> binarised digits, gaussian -> dequantised 17 levels.
  c.model = ml_collections.ConfigDict({"name": "vae", "latent_dim": 2, "hidden": (256, 256), "decoder": "bernoulli",
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
