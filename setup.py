"""Packages for setuptools; everything else is in pyproject.toml.

pyproject.toml cannot say this part: the experiment configs live in ``experiments/configs`` (one
file per experiment, outside the library), yet must ship inside the distribution, so that a
non-editable install (``pip install cs231n-jax``, a wheel, Colab) can ``cs231n-jax list`` and
``cs231n-jax train --config digits/three_layer_convnet.py``. They are mapped, without moving the
files, onto the package ``cs231n_jax.experiment_configs`` (a namespace package: the folders have no
``__init__.py``); ``cs231n_jax.packaged_configs`` finds them again.
"""

from setuptools import find_namespace_packages, find_packages, setup

CONFIGS_PACKAGE = "cs231n_jax.experiment_configs"
CONFIGS_DIR = "experiments/configs"

config_packages = [CONFIGS_PACKAGE] + [
    f"{CONFIGS_PACKAGE}.{name}"
    for name in find_namespace_packages(where=CONFIGS_DIR, exclude=["__pycache__", "*.__pycache__"])
]

setup(
    packages=find_packages(include=["cs231n_jax", "cs231n_jax.*"]) + config_packages,
    package_dir={CONFIGS_PACKAGE: CONFIGS_DIR},
)
