"""Flax Linen image classifiers, picked by name through the one registry (:mod:`.registry`).

Importing this package registers the classifiers (family ``classify``); the other families
register from their own packages (:mod:`cs231n_jax.zoo` imports them all).
"""

from cs231n_jax.models import (  # noqa: F401  (each import registers a family)
    alexnet,  # lecture 9's CNN zoo ...
    convnet,  # the course's ThreeLayerConvNet and the VGG-style benchmark net
    densenet,
    fractalnet,
    googlenet,
    highway_net,  # lecture 10's highway layers, deep
    lenet,  # LeNet-5 (lecture 9)
    mlp,  # the course's fully-connected nets
    mobilenet,
    nin,
    plain_twin,  # lecture 9's degradation experiment: a CIFAR ResNet with or without its shortcuts
    resnet,
    squeezenet,
    technique_nets,  # the lecture 6-7 training-technique studies' MLP and ConvNet
    vgg,
    vit,  # Vision Transformer (lecture 11)
)
from cs231n_jax.models.registry import FAMILIES, count_params, default_input_shape, family_of, get_model, list_models, register

__all__ = ["FAMILIES", "count_params", "default_input_shape", "family_of", "get_model", "list_models", "register"]
