"""The no-mixup baseline of small_data_mixup.py: the same network, data, optimizer and budget on
20 training digits per class (200 images), a two-layer net of 512 hidden units, trained by the engine (classification runner).

Command: cs231n-jax train --config experiments/configs/lectures/small_data_baseline.py --workdir workdirs/small_data_baseline

Expected: digits, 200 training images, measured on CPU-2 under load (53 s per run): test accuracy 0.914 / 0.919 /
0.911 for seeds 0 / 1 / 2 (mean 0.915; val mean 0.919); mixup (small_data_mixup.py) 0.922 mean.
"""

from cs231n_jax.tasks.classification import base_config


def get_config():
  c = base_config()
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
  return c
