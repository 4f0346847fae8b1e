"""20-layer, 64-wide digits classifiers: highway layers against their plain twin (lecture 10; Srivastava et al.).

Variants: ``deep_mlp20.py:highway`` (the default) and ``deep_mlp20.py:plain``; they differ only in model.plain.

highway -- A 20-layer, 64-wide digits classifier of highway layers (y = T ⊙ H + (1 − T) ⊙ x, gate bias −2; lecture 10),
trained by the engine with SGD + momentum 0.9 and default (LeCun-normal) initialisation: the depth experiment of
Srivastava et al. at digits scale.

Command: cs231n-jax train --config experiments/configs/lectures/deep_mlp20.py:highway --workdir workdirs/highway_mlp20

Expected: digits, seed 0, measured on CPU-2 under load (78 s): test accuracy 0.942 (val 0.961, train 0.964)
after 400 steps; its plain twin (the plain variant) stays at chance, 0.103.

plain -- the highway net's plain twin: 20 ReLU layers of width 64 on the 8x8 digits (same data, optimizer, budget),
trained by the engine with SGD + momentum 0.9 and default (LeCun-normal) initialisation: the depth experiment of
Srivastava et al. at digits scale.

Command: cs231n-jax train --config experiments/configs/lectures/deep_mlp20.py:plain --workdir workdirs/plain_mlp20

Expected: digits, seed 0, measured on CPU-2 under load (54 s): test accuracy 0.103 (chance; training loss
2.307 after 400 steps): 20 plain layers do not train at this budget, the highway twin reaches 0.942.
"""

from cs231n_jax.tasks.classification import base_config

VARIANTS = ("highway", "plain")


def get_config(variant="highway"):
  c = base_config()
  c.model.name = "highway_mlp"
  c.model.depth = 20
  c.model.width = 64
  c.model.plain = variant == "plain"
  c.optimizer.name = "momentum"
  c.optimizer.momentum = 0.9
  c.optimizer.learning_rate = 0.05
  c.train.batch_size = 64
  c.train.num_epochs = 20
  return c
