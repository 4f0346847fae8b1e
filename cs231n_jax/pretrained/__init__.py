"""Real pretrained ImageNet networks (EfficientNet-Lite0, MobileNetV2) from PyPI-shipped weight files, converted to Flax.

Importing the package registers its models (cs231n_jax.models.registry).
"""

from cs231n_jax.pretrained import efficientnet_lite, mobilenet_v2  # noqa: F401  (each registers its model)
