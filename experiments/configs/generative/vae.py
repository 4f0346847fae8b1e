"""VAEs on the digits (Kingma and Welling 2014): a Bernoulli decoder (z = 16), a 2-D latent, the lectures' Gaussian decoder.

Variants: ``vae.py:bernoulli`` (the default), ``vae.py:2d``, ``vae.py:gaussian``; they differ only in the model
block (latent size, decoder).

bernoulli -- VAE with a Bernoulli decoder on binarised digits (z = 16): -ELBO, importance-weighted NLL (k = 1000), samples.
Kingma and Welling 2014 (reparameterisation, closed-form KL); Burda et al. 2016 (IW estimate). MLP encoder and
decoder 64-256-256-(2x16) and back; Adam 1e-3; early stopping on the validation -ELBO. The Bernoulli decoder is
a deviation from the lectures' Gaussian decoder (the gaussian variant), as in Kingma and Welling's MNIST runs.
Command: cs231n-jax train --config experiments/configs/generative/vae.py:bernoulli --workdir workdirs/vae
Expected: test -ELBO 18.35 nats/image (0.414 bits/dim), IW k=1000 NLL estimate 17.04 (0.384 bits/dim); best
  validation epoch 82, stopped at 112 (engine, seed 0; seeds 0/1/2: -ELBO 18.44 ± 0.09, IW 16.86 ± 0.13; the removed
  loop: 18.41 / 17.05, KL 6.77, samples IS analogue 5.61); CPU-2 (docs/results.md, "Lecture 13").

2d -- VAE with a 2-D latent on binarised digits: the lecture's latent manifold, and ELBO <= log p(x) by quadrature.
Decodes a 10x10 grid at prior percentiles 5%..95% (manifold.png); computes log p(x) for every test image by the
midpoint rule on a 200x200 grid over [-6, 6]^2 and checks ELBO <= log p(x) and log p(x) - ELBO = KL(q || p(z|x)).
Command: cs231n-jax train --config experiments/configs/generative/vae.py:2d --workdir workdirs/vae_2d
Expected: ELBO <= log p(x) (quadrature) for 359 of the 360 test images, the one exception by 0.002 nats (Monte
  Carlo noise of the 1000-sample ELBO); mean gap 0.77 nats; quadrature NLL 18.72 nats/image vs IW k=1000 18.77 and
  -ELBO 19.49; the manifold shows all 10 classes, adjacent cells 0.31x as far apart as random pairs; 114 s on CPU-2
  (docs/results.md, "Lecture 13").

gaussian -- VAE with the lectures' Gaussian decoder (mean and diagonal variance) on dequantised 17-level digits (z = 16).
The continuous density of (x + u) / 17, u ~ U[0, 1), bounds the discrete likelihood: -ELBO + 64 ln 17 >= -log P(x)
(Theis et al. 2016), so the numbers sit in the same 17-level likelihood table as the PixelCNNs.
Command: cs231n-jax train --config experiments/configs/generative/vae.py:gaussian --workdir workdirs/vae_gaussian
Expected: discrete NLL bounds on the 17-level test digits: -ELBO + 64 ln 17 = 118.20 nats/image (2.665 bits/dim), IW
  k=1000: 112.06 (2.526 bits/dim) — above the independent-categorical baseline; best validation epoch 192 of 200
  (still improving; engine, seed 0; the removed loop: 117.63 / 111.70, within its epoch-to-epoch validation noise of
  0.5-1 nats); CPU-2 (docs/results.md, "Lecture 13").
"""

import ml_collections

from cs231n_jax.tasks.likelihood import base_config

VARIANTS = ("bernoulli", "2d", "gaussian")
# variant -> (latent size, decoder); the decoder picks the data: bernoulli -> binarised digits, gaussian ->
# dequantised 17 levels.
MODELS = {"bernoulli": (16, "bernoulli"), "2d": (2, "bernoulli"), "gaussian": (16, "gaussian")}


def get_config(variant="bernoulli"):
  latent_dim, decoder = MODELS[variant]
  c = base_config()  # runner cs231n_jax.tasks.likelihood:run; Adam (optax's eps 1e-8)
  c.model = ml_collections.ConfigDict({"name": "vae", "latent_dim": latent_dim, "hidden": (256, 256), "decoder": decoder,
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
