"""Real pretrained ImageNet networks (EfficientNet-Lite0, MobileNetV2) from PyPI-shipped weight files, converted to Flax.

Importing the package registers its models (cs231n_jax.models.registry).
"""
