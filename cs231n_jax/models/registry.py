"""One registry for every Flax model, by name, in families: ``get_model("three_layer_convnet",
num_classes=10)``; ``list_models("pixel")``.

A family says what kind of task trains the model: ``classify`` (image classifiers, called as
``model.apply(variables, x, train=...)`` on NHWC images or flat vectors), ``pixel`` (autoregressive
pixel models), ``latent`` (VAEs, autoencoders), ``gan`` (generators and discriminators),
``caption`` (captioners), ``char_lm`` (character language models), and the families of the later
lectures (``detect``, ``segment``, ``ssl``, ``video``, ``policy``, ``3d``, and ``vis`` for lecture 13's
image-to-image networks: fast style transfer). Names are unique across
families. A package registers its models when it is imported (``cs231n_jax.zoo`` imports all of
them). ``input_shape`` is the per-example input a model is built and counted at; ``None`` where
one input does not build it (captioners also read captions; language models need a vocabulary).
Models that use batch norm take a ``bn_axis_name`` field, the one hook the ``pmap`` step
builder uses to synchronise statistics across devices; models know nothing else about parallelism.
"""

from __future__ import annotations

import inspect
import math
from typing import Callable

import flax.linen as nn

FAMILIES = ("classify", "pixel", "latent", "gan", "caption", "char_lm", "detect", "segment", "ssl", "video",
            "policy", "3d", "vis")

_REGISTRY: dict[str, type[nn.Module]] = {}
_DESCRIPTIONS: dict[str, str] = {}
_INPUT_SHAPES: dict[str, tuple[int, ...] | None] = {}
_FAMILIES: dict[str, str] = {}


def register(
    name: str, description: str = "", input_shape: tuple[int, ...] | None = (32, 32, 3), family: str = "classify",
) -> Callable[[type[nn.Module]], type[nn.Module]]:
  """Class decorator: make ``cls`` constructible as ``get_model(name, **kwargs)``.

  ``input_shape`` is the per-example shape (HWC for images; ``(latent_dim,)`` for a generator) that
  ``get_model(name)`` with its defaults is built for (224x224x3 for the ImageNet families);
  ``cs231n-jax list models`` counts parameters at it. ``None``: no single input builds the model.
  """
  if family not in FAMILIES:
    raise ValueError(f"family: expected one of {FAMILIES}, got {family!r}")

  def wrap(cls: type[nn.Module]) -> type[nn.Module]:
    if name in _REGISTRY and _REGISTRY[name] is not cls:
      raise ValueError(f"model name {name!r} is already registered to {_REGISTRY[name].__name__}")
    _REGISTRY[name] = cls
    doc = (cls.__doc__ or "").strip().splitlines()
    _DESCRIPTIONS[name] = description or (doc[0] if doc else cls.__name__)
    _INPUT_SHAPES[name] = None if input_shape is None else tuple(input_shape)
    _FAMILIES[name] = family
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


def list_models(family: str | None = None) -> dict[str, str]:
  """Registered model names (of ``family``, or all) with their one-line descriptions."""
  if family is not None and family not in FAMILIES:
    raise ValueError(f"family: expected one of {FAMILIES}, got {family!r}")
  return {k: v for k, v in sorted(_DESCRIPTIONS.items()) if family is None or _FAMILIES[k] == family}


def family_of(name: str) -> str:
  """The family ``name`` was registered in."""
  if name not in _FAMILIES:
    raise ValueError(f"model.name: unknown model {name!r}; expected one of {sorted(_REGISTRY)}")
  return _FAMILIES[name]


def default_input_shape(name: str) -> tuple[int, ...] | None:
  """The per-example input shape ``name`` was registered with (``None``: one input does not build it)."""
  if name not in _INPUT_SHAPES:
    raise ValueError(f"model.name: unknown model {name!r}; expected one of {sorted(_REGISTRY)}")
  return _INPUT_SHAPES[name]


def count_params(name: str, input_shape: tuple[int, ...] | None = None, **kwargs) -> int:
  """Trainable parameters of ``get_model(name, **kwargs)`` built for ``input_shape`` (default: the
  registered one); shapes only, via ``jax.eval_shape`` — nothing is computed or allocated. The model
  is called on zeros of that shape (with ``train=False`` where its ``__call__`` takes ``train``)."""
  import jax
  import jax.numpy as jnp

  model = get_model(name, **kwargs)
  per_example = input_shape or default_input_shape(name)
  if per_example is None:
    raise ValueError(f"input_shape: {name} is not built from one input; give input_shape and the model's arguments")
  shape = (1, *per_example)
  train = {"train": False} if "train" in inspect.signature(type(model).__call__).parameters else {}
  variables = jax.eval_shape(
      lambda: model.init(jax.random.PRNGKey(0), jnp.zeros(shape, jnp.float32), **train)
  )
  return sum(math.prod(x.shape) for x in jax.tree.leaves(variables.get("params", {})))

