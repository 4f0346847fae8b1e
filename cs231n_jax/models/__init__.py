"""Flax Linen model families, picked by name through the registry.

Importing this package registers every family; add a family by importing its module here.
"""

from cs231n_jax.models.registry import count_params, default_input_shape, get_model, list_models, register
from cs231n_jax.models import convnet, mlp  # noqa: F401  (registers the models)

__all__ = ["count_params", "default_input_shape", "get_model", "list_models", "register"]
from cs231n_jax.models import alexnet  # noqa: F401,E402  (lecture 9 CNN zoo, issue 4)
from cs231n_jax.models import vgg  # noqa: F401,E402
from cs231n_jax.models import googlenet  # noqa: F401,E402
from cs231n_jax.models import resnet  # noqa: F401,E402
from cs231n_jax.models import densenet  # noqa: F401,E402
from cs231n_jax.models import squeezenet  # noqa: F401,E402
from cs231n_jax.models import nin  # noqa: F401,E402
from cs231n_jax.models import mobilenet  # noqa: F401,E402
from cs231n_jax.models import fractalnet  # noqa: F401,E402
from cs231n_jax.models import vit  # noqa: F401,E402  (Vision Transformer, issue 6)
