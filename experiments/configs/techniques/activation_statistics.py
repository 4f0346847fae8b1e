"""Lecture 6's activation statistics: 10 tanh/ReLU layers of 500 units on randn(1000, 500), five inits.

tanh with std 0.01 (collapse to zero), 1.0 (saturation) and Xavier; ReLU with Xavier (decay) and He
(std sqrt(2/fan_in), stable), plus the slide's He typo "/ np.sqrt(2/fan_in)" to show it explodes.
Command: cs231n-jax train --config experiments/configs/techniques/activation_statistics.py --workdir workdirs/activation_statistics
Expected: measured on CPU-2 (docs/results.md, "Lectures 6-7"): layer-1 / layer-10 std: tanh 0.01
  0.214 / 3e-7, tanh 1.0 0.982 / 0.982, Xavier tanh 0.628 / 0.227, Xavier ReLU 0.584 / 0.023, He ReLU
  0.823 / 0.799 (slide: 0.825 / 0.845); the slide's He typo: 207 after one layer, inf by layer 7.
"""

import ml_collections

from cs231n_jax.techniques.activation_stats import SETTINGS


def get_config():
  c = ml_collections.ConfigDict()
  c.runner = "cs231n_jax.techniques.activation_stats:run_activation_statistics"
  c.seed = 0
  c.settings = SETTINGS
  c.num_layers = 10
  c.width = 500
  c.num_examples = 1000
  return c
