"""Flax Linen model families, picked by name through the registry.

Importing this package registers every family; add a family by importing its module here.
"""

from cs231n_jax.models.registry import count_params, default_input_shape, get_model, list_models, register
from cs231n_jax.models import (  # noqa: F401  (each import registers a family)
    alexnet,  # lecture 9's CNN zoo (issue 4) ...
    convnet,  # the course's ThreeLayerConvNet and the VGG-style benchmark net
    densenet,
    fractalnet,
    googlenet,
    lecture7,  # the lecture 6-7 study models (issue 8)
    mlp,  # the course's fully-connected nets
    mobilenet,
    nin,
    resnet,
    squeezenet,
    vgg,
    vit,  # Vision Transformer (issue 6)
)

__all__ = ["count_params", "default_input_shape", "get_model", "list_models", "register"]
