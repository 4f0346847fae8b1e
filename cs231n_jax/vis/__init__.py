"""Lecture 13 / notes chapter 8: visualizing and understanding networks, adversarial examples,
DeepDream, texture synthesis and style transfer.

Importing the package registers its models (cs231n_jax.models.registry).
"""
from cs231n_jax.vis import digits_cnn, style_networks  # noqa: F401  (each registers a model)
