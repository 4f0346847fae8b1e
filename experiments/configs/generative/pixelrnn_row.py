"""PixelRNN with Row LSTM layers (a lax.scan over rows; triangular receptive field) on binarised digits.

van den Oord et al. 2016 ("Pixel Recurrent Neural Networks", sec. 3.1): 7x7 mask-A convolution, two Row LSTM
layers (1x3 mask-B input-to-state, kernel-3 state-to-state) with residual connections, dropout 0.3.
Command: cs231n-jax train --config experiments/configs/generative/pixelrnn_row.py --workdir workdirs/pixelrnn_row
Expected: test NLL 17.23 nats/image (0.388 bits/dim; 85,698 parameters), best validation epoch 40, early stop
  at 55, 225 s of training, measured on CPU-2 (docs/results.md, "Lecture 13", likelihood table).
"""

from cs231n_jax.generative.configs import pixel_config


def get_config():
  return pixel_config("row_lstm", binarize=True, hidden=32, num_layers=2, first_kernel=7, head_features=64,
                      dropout=0.3)
