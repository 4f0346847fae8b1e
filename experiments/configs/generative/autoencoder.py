"""Conv / upconv autoencoder (L2) on unlabelled digits; its encoder initialises a classifier for 10 labels per class.

The lecture's use of an autoencoder: train without labels, throw the decoder away, fine-tune encoder + softmax
on few labels. Compared over 5 label draws with the same classifier from random initialisation, and with
logistic regression on the frozen codes and on raw pixels.
Command: cs231n-jax train --config experiments/configs/generative/autoencoder.py --workdir workdirs/autoencoder
Expected: test L2 0.417 per image (still improving at epoch 100); with 10 labels per class over 5 draws, fine-tuning
  from the encoder 82.1 ± 2.9% vs from random initialisation 85.9 ± 2.3% (the lecture's claim does not hold here),
  logistic regression on the frozen codes 90.3 ± 0.7% vs on raw pixels 89.3 ± 1.1%; 188 s on CPU-2
  (docs/results.md, "Lecture 13").
"""

import ml_collections


def get_config():
  c = ml_collections.ConfigDict()
  c.runner = "cs231n_jax.generative.runners:run_autoencoder"
  c.seed = 0
  c.model = ml_collections.ConfigDict({"code_dim": 16})
  c.train = ml_collections.ConfigDict({"learning_rate": 1e-3, "num_epochs": 100, "batch_size": 64, "patience": 15})
  c.pretrain = ml_collections.ConfigDict({"labels_per_class": 10, "seeds": (0, 1, 2, 3, 4), "steps": 300,
                                          "learning_rate": 1e-3})
  return c
