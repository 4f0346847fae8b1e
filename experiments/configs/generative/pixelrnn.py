"""PixelRNN on binarised digits (van den Oord et al. 2016): Row LSTM and Diagonal BiLSTM layers.

Variants: ``pixelrnn.py:row`` (the default) and ``pixelrnn.py:diagonal``; they differ only in model.name.

row -- PixelRNN with Row LSTM layers (a lax.scan over rows; triangular receptive field) on binarised digits.

van den Oord et al. 2016 ("Pixel Recurrent Neural Networks", sec. 3.1): 7x7 mask-A convolution, two Row LSTM
layers (1x3 mask-B input-to-state, kernel-3 state-to-state) with residual connections, dropout 0.3.
Command: cs231n-jax train --config experiments/configs/generative/pixelrnn.py:row --workdir workdirs/pixelrnn_row
Expected: test NLL 17.42 nats/image (0.393 bits/dim; 85,698 parameters), best validation epoch 29, early stop
  at 44 (engine, seed 0, a high draw: seeds 0/1/2 17.22 ± 0.16; the removed loop's seed 0: 17.23), measured on
  CPU-2 (docs/results.md, "Lecture 13", likelihood table).

diagonal -- PixelRNN with Diagonal BiLSTM layers (skew, a lax.scan over the H+W-1 diagonals, unskew) on binarised digits.

van den Oord et al. 2016 ("Pixel Recurrent Neural Networks", sec. 3.2): 7x7 mask-A convolution, two Diagonal
BiLSTM layers (the right-to-left direction shifted down one row) with residual connections, dropout 0.3.
Command: cs231n-jax train --config experiments/configs/generative/pixelrnn.py:diagonal --workdir workdirs/pixelrnn_diagonal
Expected: test NLL 16.99 nats/image (0.383 bits/dim; 77,762 parameters), best validation epoch 31, early stop
  at 46 (engine, seed 0; seeds 0/1/2: 17.02 ± 0.03; the removed loop's seed 0: 17.15), measured on CPU-2
  (docs/results.md, "Lecture 13", likelihood table).
"""

import ml_collections

from cs231n_jax.tasks.likelihood import base_config

VARIANTS = ("row", "diagonal")
LAYERS = {"row": "row_lstm", "diagonal": "diagonal_bilstm"}


def get_config(variant="row"):
  c = base_config()  # runner cs231n_jax.tasks.likelihood:run; Adam (optax's eps 1e-8)
  c.data.binarize = True  # false: 17 levels
  c.model = ml_collections.ConfigDict({"name": LAYERS[variant], "hidden": 32, "num_layers": 2, "first_kernel": 7,
                                       "head_features": 64, "dropout": 0.3})
  c.optimizer.learning_rate = 1e-3
  c.optimizer.weight_decay = 0.0  # > 0: AdamW's decoupled decay
  # One validation per epoch (eval_every 0); patience counts validations without improvement.
  c.train.update({"num_epochs": 60, "batch_size": 64, "patience": 15})
  c.sample = ml_collections.ConfigDict({"num_samples": 100, "first_pixel": "model"})
  return c
