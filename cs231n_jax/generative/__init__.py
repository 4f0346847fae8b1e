"""Generative models (2017 lecture 13; 2016 unsupervised-learning lecture; course notes ch. 13).

- Autoregressive, exact likelihood: :mod:`pixelcnn` (PixelCNN with mask A / mask B convolutions from
  :mod:`cs231n_jax.nn.masked`; gated PixelCNN with vertical and horizontal stacks), :mod:`pixelrnn`
  (Row LSTM; Diagonal BiLSTM with skew / unskew; recurrences as ``lax.scan``), :mod:`autoregressive`
  (``log p(x)``, bits/dim, the jitted pixel-by-pixel sampler, exhaustive normalisation checks),
  :mod:`baselines` (independent pixels; logistic autoregressive).
- Latent-variable, approximate likelihood: :mod:`autoencoder` (conv / upconv, L2), :mod:`vae` (Gaussian
  encoder, Bernoulli / Gaussian decoders, closed-form KL, importance-weighted ``log p(x)``, quadrature
  for a 2-D latent).
- Implicit: :mod:`gan` (minimax, non-saturating, LSGAN, WGAN, WGAN-GP losses; MLP and DCGAN networks; one
  update with two optax optimizers and k discriminator steps; the 8-Gaussians ring; latent tools). GAN runs
  are the engine's task :mod:`cs231n_jax.tasks.adversarial`; their experiments are :mod:`cs231n_jax.studies.gans`.
- Evaluation: :mod:`evaluate` (a digits classifier trained here, IS and Fréchet-distance analogues,
  nearest-neighbour memorisation check), :mod:`evaluation` (the likelihood and sample-quality tables,
  the PixelCNN-vs-PixelRNN speed measurement).
- Training: the pixel models, the VAEs and the autoencoder are the engine's task
  :mod:`cs231n_jax.tasks.likelihood` (a per-image negative log-likelihood or bound; its runner is what
  their configs in ``experiments/configs/generative`` name); :mod:`analysis` is what those runs measure
  after training.

Data: the project's digits split as integer levels (:mod:`data`), 17 levels or binarised.

Importing the package registers its networks in the model registry (:mod:`cs231n_jax.models.registry`):
family ``pixel`` (``pixelcnn``, ``gated_pixelcnn``, ``row_lstm``, ``diagonal_bilstm``), ``latent``
(``vae``, ``conv_autoencoder``) and ``gan`` (``mlp_generator``, ``mlp_discriminator``, ``dcgan_generator``,
``dcgan_discriminator``).
"""

from cs231n_jax.generative import autoencoder, gan, pixelcnn, pixelrnn, vae  # noqa: F401  (each registers models)
