"""The lecture 13 measurements: class visualization, fooling and accuracy-vs-epsilon on the digits CNNs,
targeted PGD on a pretrained ImageNet network over the bundled photos, saliency / occlusion / deletion on
synthetic scenes with known object masks, transfer learning on lfw_subset (cs231n_jax/studies/understanding.py).

The ``digits`` part reads the workdirs of experiments/configs/vis/digits_cnn.py and digits_cnn_pgd.py
(``digits.clean_workdir`` / ``digits.pgd_workdir``): train those first. Parts run in the order of ``parts``;
``--config.parts='("scenes",)'`` runs one.

Command: cs231n-jax train --config experiments/configs/vis/understanding.py --workdir workdirs/vis_understanding
Expected: see docs/sections/visualization.md (measured on CPU-2, part by part)
"""

from cs231n_jax.studies.understanding import get_base_config


def get_config():
  return get_base_config()
