"""Context-encoder inpainting (Pathak et al. 2016; the notes' context encoders) on the 8x8 digits: the central 4x4 hole
filled with the training mean, the generator (conv 32, conv 64 stride 2 -> 128 features h -> transposed convolutions)
predicts it; loss 0.999 x L2 on the hole + 0.001 x adversarial (the paper's weights; a conv discriminator judges the
hole's 4x4 content, Adam 2e-4, beta1 0.5). Then the probe of h on whole images.
Command: cs231n-jax train --config experiments/configs/ssl/inpainting_digits.py --workdir workdirs/ssl_inpainting_digits
Expected: seed 0, 300 steps (CPU-2 shared, load ~22, 193 s in fit): held-out hole MSE 0.0471 vs 0.1925 for the
  mean fill; probe of h linear@1/5/10/all 0.586 / 0.767 / 0.847 / 0.953, k-NN 0.569 / 0.703 / 0.783 / 0.936 -- below
  raw pixels (0.829 at 5 labels in the probe table).
"""

from cs231n_jax.tasks.ssl_pixels import base_config


def get_config():
  c = base_config()
  c.method = "inpainting"
  c.train.update({"batch_size": 128, "num_steps": 300, "log_every": 50})
  c.optimizer.learning_rate = 1e-3  # the generator's Adam (the paper: 2e-4 for both)
  return c
