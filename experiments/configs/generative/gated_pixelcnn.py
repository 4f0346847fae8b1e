"""Gated PixelCNN (vertical + horizontal stacks, gated tanh x sigmoid units; no blind spot) on binarised digits.

van den Oord et al. 2016 ("Conditional Image Generation with PixelCNN Decoders", sec. 2) at digits size,
dropout 0.3 on the horizontal stack's residual branch; early stopping on validation NLL.
Command: cs231n-jax train --config experiments/configs/generative/gated_pixelcnn.py --workdir workdirs/gated_pixelcnn
Expected: test NLL 16.87 nats/image (0.380 bits/dim; 95,650 parameters), best validation epoch 28, early stop
  at 43 (engine, seed 0; seeds 0/1/2: 16.92 ± 0.04; the removed loop's seed 0: 16.97), measured on CPU-2
  (docs/results.md, "Lecture 13", likelihood table).
"""

import ml_collections

from cs231n_jax.tasks.likelihood import base_config


def get_config():
  c = base_config()  # runner cs231n_jax.tasks.likelihood:run; Adam (optax's eps 1e-8)
  c.data.binarize = True  # false: 17 levels
  c.model = ml_collections.ConfigDict({"name": "gated_pixelcnn", "features": 32, "num_layers": 5, "first_kernel": 5,
                                       "kernel": 3, "head_features": 64, "dropout": 0.3})
  c.optimizer.learning_rate = 1e-3
  c.optimizer.weight_decay = 0.0  # > 0: AdamW's decoupled decay
  # One validation per epoch (eval_every 0); patience counts validations without improvement.
  c.train.update({"num_epochs": 60, "batch_size": 64, "patience": 15})
  c.sample = ml_collections.ConfigDict({"num_samples": 100, "first_pixel": "model"})
  return c
