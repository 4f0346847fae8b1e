"""Parameter counts, per-layer shapes, memory tables and FLOP counts for the CNN zoo (lecture 9).

Everything that only needs shapes runs under ``jax.eval_shape`` / ``jax.make_jaxpr``: no array is
allocated and nothing is compiled, so VGG-16 or ResNet-152 at 224x224 are analysed in seconds on a
laptop CPU.

Two ways of counting compute:

- :func:`count_macs` walks the jaxpr of the forward pass and counts the multiply-accumulates of
  every convolution and matrix product (output elements x kernel window x input channels per
  group), the convention of the papers and of torchvision's ``_ops`` metadata ("GFLOPS", which are
  really giga multiply-adds): ResNet-18 1.814, ResNet-50 4.089, VGG-16 15.47 at 224x224.
- :func:`xla_flops` asks XLA's own cost analysis of the lowered (or compiled) program. XLA counts
  a multiply-add as 2 FLOPs, skips the zero padding of a convolution's border windows, and adds
  the elementwise work (batch norm, ReLU, pooling), so it reads about 2x the MAC count.

Command (the table in docs/benchmarks.md "CNN architectures"):
  python -m cs231n_jax.models.analysis flops --models resnet18,resnet50,vgg16
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from cs231n_jax.models.registry import default_input_shape, get_model, list_models

# torchvision's published multiply-add counts at 224x224 (``Weights.meta["_ops"]``, in G) and
# parameter counts (``meta["num_params"]``), for the models whose counters the docs table compares.
PUBLISHED_GMACS = {
    "alexnet_torchvision": 0.714, "vgg11": 7.609, "vgg13": 11.308, "vgg16": 15.47, "vgg19": 19.632,
    "resnet18": 1.814, "resnet34": 3.664, "resnet50": 4.089, "resnet101": 7.801, "resnet152": 11.514,
    "resnext50_32x4d": 4.23, "resnext101_32x8d": 16.414, "wide_resnet50_2": 11.398,
    "wide_resnet101_2": 22.753, "densenet121": 2.834, "densenet169": 3.36, "densenet201": 4.291,
    "densenet161": 7.728, "squeezenet1_0": 0.819, "squeezenet1_1": 0.349, "googlenet_torchvision": 1.498,
}
# Bytes of one float32 activation ("24M x 4 bytes" on the VGG slide).
FLOAT32_BYTES = 4
GIGA = 1e9


def _model(model: nn.Module | str, **kwargs) -> nn.Module:
  return get_model(model, **kwargs) if isinstance(model, str) else model


def _input_shape(model: nn.Module | str, input_shape: Sequence[int] | None) -> tuple[int, ...]:
  if input_shape is not None:
    return tuple(input_shape)
  if isinstance(model, str):
    return default_input_shape(model)
  raise ValueError("input_shape: required when a model instance (not a registered name) is given")


def init_shapes(model: nn.Module, input_shape: Sequence[int], batch: int = 1) -> dict[str, Any]:
  """The model's variables as ``ShapeDtypeStruct``s (``jax.eval_shape`` of ``init``; no compute)."""
  x = jax.ShapeDtypeStruct((batch, *input_shape), jnp.float32)
  return jax.eval_shape(lambda x: model.init({"params": jax.random.PRNGKey(0), "dropout": jax.random.PRNGKey(1)},
                                             x, train=False), x)


def count_leaves(tree: Any) -> int:
  return sum(int(math.prod(leaf.shape)) for leaf in jax.tree.leaves(tree))


def param_count(model: nn.Module | str, input_shape: Sequence[int] | None = None, **kwargs) -> int:
  """Number of trainable parameters (the ``params`` collection; batch-norm statistics excluded).

  This is what torchvision's ``num_params`` counts (``sum(p.numel() for p in model.parameters())``).
  """
  shape = _input_shape(model, input_shape)
  return count_leaves(init_shapes(_model(model, **kwargs), shape)["params"])


def param_counts(names: Iterable[str] | None = None) -> dict[str, int]:
  """Parameter counts of registered models at their registered input shapes (for ``list models``)."""
  names = list_models() if names is None else names
  return {name: param_count(name) for name in names}


@dataclass(frozen=True)
class Layer:
  """One top-level layer of a model: its name, output shape (without the batch axis) and the
  number of weights (kernel entries, no biases) and biases it owns."""

  name: str
  output_shape: tuple[int, ...]
  weights: int
  biases: int

  @property
  def activations(self) -> int:
    return int(math.prod(self.output_shape))


def _split_params(tree: Any) -> tuple[int, int]:
  """(weights, everything else) of one layer's parameters: ``kernel`` leaves are weights."""
  weights = others = 0
  for path, leaf in jax.tree_util.tree_leaves_with_path(tree):
    size = int(math.prod(leaf.shape))
    if getattr(path[-1], "key", None) == "kernel":
      weights += size
    else:
      others += size
  return weights, others


def layer_outputs(model: nn.Module | str, input_shape: Sequence[int] | None = None,
                  include_input: bool = True, **kwargs) -> list[Layer]:
  """The output shape and parameter count of every top-level layer, in call order (no compute).

  Uses Flax's ``capture_intermediates`` inside ``jax.eval_shape``; the names are the module names
  the families give their layers (conv1, pool1, fc6, ...). Dropout layers are left out.
  """
  net = _model(model, **kwargs)
  shape = _input_shape(model, input_shape)
  variables = init_shapes(net, shape)
  order: list[tuple[str, tuple[int, ...]]] = []

  def forward(variables, x):
    _, state = net.apply(variables, x, train=False, capture_intermediates=lambda mdl, _: len(mdl.path) == 1,
                         mutable=["intermediates"])
    for name, value in state["intermediates"].items():  # insertion order = call order
      out = value[0] if isinstance(value, tuple) else value
      order.append((name, tuple(jax.tree.leaves(out)[0].shape[1:])))
    return None

  jax.eval_shape(forward, variables, jax.ShapeDtypeStruct((1, *shape), jnp.float32))
  params = variables["params"]
  layers = [Layer("input", shape, 0, 0)] if include_input else []
  for name, out_shape in order:
    if name.startswith("Dropout") or name == "__call__":
      continue
    weights, biases = _split_params(params.get(name, {}))
    layers.append(Layer(name, out_shape, weights, biases))
  return layers


# ---------------------------------------------------------------------------------------------
# Multiply-accumulate counting from the jaxpr.


def _conv_macs(eqn) -> int:
  lhs, rhs = eqn.invars[0].aval, eqn.invars[1].aval
  out = eqn.outvars[0].aval
  dn = eqn.params["dimension_numbers"]
  # rhs_spec = (out feature dim, in feature dim, *spatial dims) of the kernel.
  rhs_spec = dn.rhs_spec
  window = math.prod(rhs.shape[d] for d in rhs_spec[2:])
  in_per_group = rhs.shape[rhs_spec[1]]
  del lhs
  return int(math.prod(out.shape)) * window * in_per_group


def _dot_macs(eqn) -> int:
  lhs = eqn.invars[0].aval
  out = eqn.outvars[0].aval
  (lhs_contract, _), _ = eqn.params["dimension_numbers"]
  contracted = math.prod(lhs.shape[d] for d in lhs_contract)
  return int(math.prod(out.shape)) * contracted


def _jaxpr_macs(jaxpr, counted: dict[str, int]) -> int:
  total = 0
  for eqn in jaxpr.eqns:
    name = eqn.primitive.name
    if name == "conv_general_dilated":
      macs = _conv_macs(eqn)
      counted["conv"] = counted.get("conv", 0) + macs
      total += macs
    elif name == "dot_general":
      macs = _dot_macs(eqn)
      counted["dot"] = counted.get("dot", 0) + macs
      total += macs
    else:
      multiplier = eqn.params.get("length", 1) if name == "scan" else 1
      for sub in jax.core.subjaxprs(eqn) if hasattr(jax.core, "subjaxprs") else _subjaxprs(eqn):
        total += multiplier * _jaxpr_macs(sub, counted)
  return total


def _subjaxprs(eqn):
  """The jaxprs nested in an equation's parameters (pjit, scan, remat, custom_jvp, cond, ...)."""
  for value in eqn.params.values():
    for v in value if isinstance(value, (tuple, list)) else (value,):
      if hasattr(v, "jaxpr") and hasattr(v.jaxpr, "eqns"):
        yield v.jaxpr
      elif hasattr(v, "eqns"):
        yield v


def count_macs(model: nn.Module | str, input_shape: Sequence[int] | None = None, batch: int = 1,
               fn: Callable | None = None, **kwargs) -> int:
  """Multiply-accumulates of the convolutions and matrix products of one eval-mode forward pass.

  Counts ``conv_general_dilated`` as output elements x kernel window x input channels per group
  (padding included, as the papers and torchvision count) and ``dot_general`` as output elements
  x contracted size. Batch norm, activations and pooling are not counted. Scans count ``length``
  times. Runs on the jaxpr only: nothing is compiled.
  """
  net = _model(model, **kwargs)
  shape = _input_shape(model, input_shape)
  x = jax.ShapeDtypeStruct((batch, *shape), jnp.float32)
  variables = init_shapes(net, shape, batch)
  forward = fn or (lambda v, x: net.apply(v, x, train=False))
  closed = jax.make_jaxpr(forward)(variables, x)
  return _jaxpr_macs(closed.jaxpr, {})


def xla_flops(model: nn.Module | str, input_shape: Sequence[int] | None = None, batch: int = 1,
              compiled: bool = False, **kwargs) -> float:
  """FLOPs of one eval-mode forward pass by XLA's cost analysis.

  ``compiled=False`` analyses the lowered (unoptimised) HLO: no compilation, seconds even for
  VGG-16. ``compiled=True`` compiles for this machine's backend and analyses the optimised HLO
  (slow for the 224x224 models on a CPU; the docs table uses it on request).
  """
  net = _model(model, **kwargs)
  shape = _input_shape(model, input_shape)
  variables = init_shapes(net, shape, batch)
  x = jax.ShapeDtypeStruct((batch, *shape), jnp.float32)
  lowered = jax.jit(lambda v, x: net.apply(v, x, train=False)).lower(variables, x)
  analysis = lowered.compile().cost_analysis() if compiled else lowered.cost_analysis()
  if isinstance(analysis, (list, tuple)):  # older JAX returned one dict per device
    analysis = analysis[0]
  return float(analysis["flops"])
