"""The pretrained ImageNet network (EfficientNet-Lite0 from its PyPI wheel, cs231n_jax.pretrained) as a row of the
probe table: frozen pooled 1280-d features of the digits (grey copied to RGB, 8x8 resized to 64x64 -- 224 would cost
12x more on a CPU and an 8x8 digit has no more detail), the table's protocol (same split, same labelled subsets per
seed, logistic regression and k-NN at 1 / 5 / 10 / all labels per class).
Command: cs231n-jax train --config experiments/configs/ssl/pretrained_probe.py --workdir workdirs/ssl_pretrained_probe
Expected: not yet measured.
"""

from cs231n_jax.studies.ssl_probe import pretrained_config


def get_config():
  return pretrained_config()
