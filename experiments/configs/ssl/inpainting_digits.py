"""Context-encoder inpainting (Pathak et al. 2016; the notes' context encoders) on the 8x8 digits: the central 4x4 hole
filled with the training mean, the generator (conv 32, conv 64 stride 2 -> 128 features h -> transposed convolutions)
predicts it; loss 0.999 x L2 on the hole + 0.001 x adversarial (the paper's weights; a conv discriminator judges the
hole's 4x4 content, Adam 2e-4, beta1 0.5). Then the probe of h on whole images.
Command: cs231n-jax train --config experiments/configs/ssl/inpainting_digits.py --workdir workdirs/ssl_inpainting_digits
Expected: not yet measured.
"""

from cs231n_jax.tasks.ssl_pixels import base_config


def get_config():
  c = base_config()
  c.method = "inpainting"
  c.train.update({"batch_size": 128, "num_steps": 600, "log_every": 50})
  c.optimizer.learning_rate = 1e-3  # the generator's Adam (the paper: 2e-4 for both)
  return c
