"""PixelCNN (mask A, then residual mask-B blocks) on the binarised 8x8 digits: exact test NLL and samples.

van den Oord et al. 2016 ("Pixel Recurrent Neural Networks", sec. 3.4-3.5) at digits size, with dropout 0.5 on
the residual branches; early stopping on the validation NLL. --config.data.binarize=false: 17 levels.
Command: cs231n-jax train --config experiments/configs/generative/pixelcnn.py --workdir workdirs/pixelcnn
Expected: test NLL 17.98 nats/image (0.405 bits/dim; 171,842 parameters), best validation epoch 23, early stop
  at 38, 89 s of training, measured on CPU-2 (docs/results.md, "Lecture 13", likelihood table); the curriculum's
  must-pass is < 22.0 and its "should" <= 18.0. Below the independent-pixel (25.21) and logistic
  autoregressive (18.13) baselines.
"""

from cs231n_jax.generative.configs import pixel_config


def get_config():
  c = pixel_config("pixelcnn", binarize=True, features=64, num_layers=4, first_kernel=7, kernel=3,
                   head_features=64, dropout=0.5)
  return c
