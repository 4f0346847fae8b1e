"""The course notes' 6-layer initialisation study (notes 7.3) at width 4,096 under both readings of
k (a Gaussian std; a uniform bound), with Kaiming's √(2D) corrected to √(2/D): the per-layer std of
X_1..X_6 for tanh with k = 0.01, 0.05, Xavier 1/√D, and ReLU with Xavier and Kaiming.

Command: cs231n-jax train --config experiments/configs/lectures/init_study.py --workdir workdirs/init_study

Expected: measured on CPU-2 under load (135 s), seed 0, batch 1,000: std(X6)/std(X1) =
tanh k=0.01: 0.094 (std) / 0.0068 (uniform bound); tanh k=0.05: 50.0% of layer-6 units |X| > 0.95 (std) / 15.6%
(uniform); tanh Xavier 1/sqrt(D): 0.469 (std) / 0.059 (uniform: Var 1/(3D)); ReLU Xavier: 0.183 / 0.012;
ReLU Kaiming sqrt(2/D): 1.037 / 0.067. Figure: workdir/init_study.png.
"""

import ml_collections


def get_config() -> ml_collections.ConfigDict:
  config = ml_collections.ConfigDict()
  config.runner = "cs231n_jax.studies.lecture_systems:run_init_study"
  config.seed = 0
  config.init = ml_collections.ConfigDict(dict(width=4096, batch=1000, depth=6))
  return config
