"""Mixup against no mixup on 200 training digits (notes 7: "for small classification datasets").

Variants: ``small_data.py:mixup`` (the default) and ``small_data.py:baseline``; the same network, data, optimizer
and budget, the mixup variant trained through the mixup task.

mixup -- Mixup (λ ~ Beta(0.4, 0.4), images and one-hot labels blended; notes 7: "for small classification datasets") on
20 training digits per class (200 images), a two-layer net of 512 hidden units, trained by the engine through the mixup task.

Command: cs231n-jax train --config experiments/configs/lectures/small_data.py:mixup --workdir workdirs/small_data_mixup

Expected: digits, 200 training images, measured on CPU-2 under load (65 s per run): test accuracy 0.925 / 0.922 /
0.919 for seeds 0 / 1 / 2 (mean 0.922; val mean 0.944), against the baseline's 0.914 / 0.919 / 0.911 (mean 0.915;
val mean 0.919): mixup gains 0.007 test, 0.026 val. Seeds: --config.seed=1.

baseline -- the no-mixup baseline: the same network, data, optimizer and budget on
20 training digits per class (200 images), a two-layer net of 512 hidden units, trained by the engine (classification runner).

Command: cs231n-jax train --config experiments/configs/lectures/small_data.py:baseline --workdir workdirs/small_data_baseline

Expected: digits, 200 training images, measured on CPU-2 under load (53 s per run): test accuracy 0.914 / 0.919 /
0.911 for seeds 0 / 1 / 2 (mean 0.915; val mean 0.919); mixup (the mixup variant) 0.922 mean.
"""

from cs231n_jax.tasks import classification, mixup_classification

VARIANTS = ("mixup", "baseline")


def get_config(variant="mixup"):
  c = (mixup_classification if variant == "mixup" else classification).base_config()
  c.data.train_per_class = 20
  c.model.name = "two_layer_net"
  c.model.hidden_dim = 512
  c.optimizer.name = "momentum"
  c.optimizer.learning_rate = 0.05
  c.optimizer.weight_decay = 5e-4
  c.optimizer.schedule.name = "cosine"
  c.train.batch_size = 50
  c.train.num_steps = 1500
  c.train.last_batch = "drop"
  c.train.eval_every = 100
  c.train.checkpoint_every = 500
  if variant == "mixup":
    c.mixup.alpha = 0.4
  return c
