"""Every registered model: importing this module imports each package that registers models in
:mod:`cs231n_jax.models.registry`, so ``list_models()`` / ``get_model(name)`` then see all families.

``cs231n-jax list models`` imports it; so does anything that looks models up by a name it did not
import itself (a config's ``model.name``, the registry's tests).
"""

from cs231n_jax import (  # noqa: F401  (each import registers a family)
    captioning,
    detection,
    generative,
    geometry,
    models,
    pretrained,
    rl,
    ssl,
    text,
    video,
    vis,
)
from cs231n_jax.models.registry import FAMILIES, get_model, list_models

__all__ = ["FAMILIES", "get_model", "list_models"]
