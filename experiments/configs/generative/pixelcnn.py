"""PixelCNN (mask A, then residual mask-B blocks) on the binarised 8x8 digits: exact test NLL and samples.

van den Oord et al. 2016 ("Pixel Recurrent Neural Networks", sec. 3.4-3.5) at digits size, with dropout 0.5 on
the residual branches; early stopping on the validation NLL. --config.data.binarize=false: 17 levels.
Command: cs231n-jax train --config experiments/configs/generative/pixelcnn.py --workdir workdirs/pixelcnn
Expected: test NLL 17.96 nats/image (0.405 bits/dim; 171,842 parameters), best validation epoch 26, early stop
  at 41 (engine, seed 0; seeds 0/1/2: 17.94 ± 0.02; the removed loop's seed 0: 17.98), measured on CPU-2
  (docs/results.md, "Lecture 13", likelihood table); the curriculum's must-pass is < 22.0 and its "should"
  <= 18.0. Below the independent-pixel (25.21) and logistic autoregressive (18.13) baselines.
"""

import ml_collections

from cs231n_jax.tasks.likelihood import base_config


def get_config():
  c = base_config()  # runner cs231n_jax.tasks.likelihood:run; Adam (optax's eps 1e-8)
  c.data.binarize = True  # false: 17 levels
  c.model = ml_collections.ConfigDict({"name": "pixelcnn", "features": 64, "num_layers": 4, "first_kernel": 7, "kernel": 3,
                                       "head_features": 64, "dropout": 0.5})
  c.optimizer.learning_rate = 1e-3
  c.optimizer.weight_decay = 0.0  # > 0: AdamW's decoupled decay
  # One validation per epoch (eval_every 0); patience counts validations without improvement.
  c.train.update({"num_epochs": 60, "batch_size": 64, "patience": 15})
  c.sample = ml_collections.ConfigDict({"num_samples": 100, "first_pixel": "model"})
  return c
