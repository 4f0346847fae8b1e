"""K digits MLPs trained as one jax.vmap-ed compiled program vs one after another, same process.

Every run is a whole training run (lax.scan over minibatch steps) of a 64-H-10 MLP with momentum
SGD; K runs differ in learning rate, regularisation and init key. Baselines: K calls of the compiled
single-run program, and K Python loops over a jitted step. Reports compile and run times and
the speed-up ratio (docs/benchmarks.md, "Training techniques: vmap over hyperparameters").
Command: cs231n-jax train --config experiments/configs/techniques/vmap_benchmark.py --workdir workdirs/vmap_benchmark
Expected: measured on CPU-2 (docs/benchmarks.md, "Training techniques: vmap over hyperparameters"):
  vmap is 1.1-2.1x faster than the same compiled runs one after another (0.81x for H=100, K=32) and
  2.1-18x faster than Python loops over a jitted step; its compile takes about twice as long.
"""

import ml_collections


def get_config():
  c = ml_collections.ConfigDict()
  c.runner = "cs231n_jax.techniques.hparam_search:run_vmap_benchmark"
  c.seed = 0
  c.model = ml_collections.ConfigDict({"hidden_dims": (100,)})
  c.optimizer = ml_collections.ConfigDict({"name": "momentum", "momentum": 0.9, "lr_decay": 1.0})
  c.train = ml_collections.ConfigDict({"batch_size": 100})
  # (hidden width, batch size): the lecture's 50-unit net, a wider one, and a small one at batch 32.
  c.benchmark = ml_collections.ConfigDict({
      "models": ((16, 32), (50, 100), (100, 100)), "num_models": (8, 32), "epochs": 5, "repeats": 5,
  })
  return c
