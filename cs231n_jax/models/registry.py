"""Models are picked by name: ``get_model("three_layer_convnet", num_classes=10)``.

Every registered model is a Flax Linen module called as ``model.apply(variables, x, train=...)``
on NHWC images (or flat vectors for the fully-connected nets). Models that use batch norm take a
``bn_axis_name`` field, the one hook the ``pmap`` step builder uses to synchronise statistics
across devices; models know nothing else about parallelism.
"""

from __future__ import annotations

import math
from typing import Callable

import flax.linen as nn

_REGISTRY: dict[str, type[nn.Module]] = {}
_DESCRIPTIONS: dict[str, str] = {}
_INPUT_SHAPES: dict[str, tuple[int, ...]] = {}


def register(
    name: str, description: str = "", input_shape: tuple[int, ...] = (32, 32, 3)
) -> Callable[[type[nn.Module]], type[nn.Module]]:
  """Class decorator: make ``cls`` constructible as ``get_model(name, **kwargs)``.

  ``input_shape`` is the per-example shape (HWC) the model is usually built for (224x224x3 for the
  ImageNet families); ``cs231n-jax list models`` counts parameters at it.
  """

  def wrap(cls: type[nn.Module]) -> type[nn.Module]:
    if name in _REGISTRY and _REGISTRY[name] is not cls:
      raise ValueError(f"model name {name!r} is already registered to {_REGISTRY[name].__name__}")
    _REGISTRY[name] = cls
    doc = (cls.__doc__ or "").strip().splitlines()
    _DESCRIPTIONS[name] = description or (doc[0] if doc else cls.__name__)
    _INPUT_SHAPES[name] = tuple(input_shape)
    return cls

  return wrap


def get_model(name: str, **kwargs) -> nn.Module:
  """Build the registered model ``name`` with its constructor arguments."""
  if name not in _REGISTRY:
    raise ValueError(f"model.name: unknown model {name!r}; expected one of {sorted(_REGISTRY)}")
  cls = _REGISTRY[name]
  fields = set(getattr(cls, "__dataclass_fields__", {})) - {"parent", "name"}
  unknown = sorted(set(kwargs) - fields)
  if unknown:
    raise ValueError(f"model.{unknown[0]}: {name} has no such argument; expected one of {sorted(fields)}")
  return cls(**kwargs)


def list_models() -> dict[str, str]:
  """Registered model names with their one-line descriptions."""
  return dict(sorted(_DESCRIPTIONS.items()))


def default_input_shape(name: str) -> tuple[int, ...]:
  """The per-example input shape ``name`` was registered with."""
  if name not in _INPUT_SHAPES:
    raise ValueError(f"model.name: unknown model {name!r}; expected one of {sorted(_REGISTRY)}")
  return _INPUT_SHAPES[name]


def count_params(name: str, input_shape: tuple[int, ...] | None = None, **kwargs) -> int:
  """Trainable parameters of ``get_model(name, **kwargs)`` built for ``input_shape`` (default: the
  registered one); shapes only, via ``jax.eval_shape`` — nothing is computed or allocated."""
  import jax
  import jax.numpy as jnp

  model = get_model(name, **kwargs)
  shape = (1, *(input_shape or default_input_shape(name)))
  variables = jax.eval_shape(
      lambda: model.init(jax.random.PRNGKey(0), jnp.zeros(shape, jnp.float32), train=False)
  )
  return sum(math.prod(x.shape) for x in jax.tree.leaves(variables.get("params", {})))

