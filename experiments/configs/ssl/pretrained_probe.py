"""The pretrained ImageNet network (EfficientNet-Lite0 from its PyPI wheel, cs231n_jax.pretrained) as a row of the
probe table: frozen pooled 1280-d features of the digits (grey copied to RGB, 8x8 resized to 64x64 -- 224 would cost
12x more on a CPU and an 8x8 digit has no more detail), the table's protocol (same split, same labelled subsets per
seed, logistic regression and k-NN at 1 / 5 / 10 / all labels per class).
Command: cs231n-jax train --config experiments/configs/ssl/pretrained_probe.py --workdir workdirs/ssl_pretrained_probe
Expected: mean ± sd over seeds 0, 1, 2 (the labelled subsets; the features are fixed), CPU-2 shared, 372 s:
  linear@1/5/10/all 0.478 / 0.757 / 0.822 / 0.925, k-NN 0.542 / 0.617 / 0.701 / 0.903 -- below raw pixels (0.829 at 5).
"""

from cs231n_jax.studies.ssl_probe import pretrained_config


def get_config():
  return pretrained_config()
