"""PixelRNN with Diagonal BiLSTM layers (skew, a lax.scan over the H+W-1 diagonals, unskew) on binarised digits.

van den Oord et al. 2016 ("Pixel Recurrent Neural Networks", sec. 3.2): 7x7 mask-A convolution, two Diagonal
BiLSTM layers (the right-to-left direction shifted down one row) with residual connections, dropout 0.3.
Command: cs231n-jax train --config experiments/configs/generative/pixelrnn_diagonal.py --workdir workdirs/pixelrnn_diagonal
Expected: test NLL 17.15 nats/image (0.387 bits/dim; 77,762 parameters), best validation epoch 29, early stop
  at 44, 312 s of training, measured on CPU-2 (docs/results.md, "Lecture 13", likelihood table).
"""

from cs231n_jax.generative.configs import pixel_config


def get_config():
  return pixel_config("diagonal_bilstm", binarize=True, hidden=32, num_layers=2, first_kernel=7, head_features=64,
                      dropout=0.3)
