"""Gated PixelCNN (vertical + horizontal stacks, gated tanh x sigmoid units; no blind spot) on binarised digits.

van den Oord et al. 2016 ("Conditional Image Generation with PixelCNN Decoders", sec. 2) at digits size,
dropout 0.3 on the horizontal stack's residual branch; early stopping on validation NLL.
Command: cs231n-jax train --config experiments/configs/generative/gated_pixelcnn.py --workdir workdirs/gated_pixelcnn
Expected: test NLL 16.97 nats/image (0.383 bits/dim; 95,650 parameters), best validation epoch 29, early stop
  at 44, 115 s of training, measured on CPU-2 (docs/results.md, "Lecture 13", likelihood table).
"""

from cs231n_jax.generative.configs import pixel_config


def get_config():
  return pixel_config("gated_pixelcnn", binarize=True, features=32, num_layers=5, first_kernel=5, kernel=3,
                      head_features=64, dropout=0.3)
