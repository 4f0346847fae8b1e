"""Flax Linen model families, picked by name through the registry.

Importing this package registers every family; add a family by importing its module here.
"""

from cs231n_jax.models.registry import count_params, default_input_shape, get_model, list_models, register
from cs231n_jax.models import convnet, mlp  # noqa: F401  (registers the models)

__all__ = ["count_params", "default_input_shape", "get_model", "list_models", "register"]
