"""Flax Linen model families, picked by name through the registry."""

from cs231n_jax.models.registry import get_model, list_models, register

__all__ = ["get_model", "list_models", "register"]
