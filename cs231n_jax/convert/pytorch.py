"""PyTorch ``state_dict`` -> Flax variables for the CNN zoo, and the ``convert-weights`` command.

    cs231n-jax convert-weights --weights resnet50-0676ba61.pth --model resnet50 --out /ckpt/resnet50
    cs231n-jax convert-weights --weights vgg16.npz --model vgg16 --out /ckpt/vgg16

``--weights`` is a ``.pth`` / ``.pt`` file (PyTorch's zip format) read by
:func:`cs231n_jax.safe_pickle.load_torch` -- a restricted unpickler that allows only tensors, storages
and ``OrderedDict`` and needs no torch, so a weights file from the internet cannot run code -- or an
``.npz`` archive of the same keys (read with ``allow_pickle=False``). The result is an
orbax checkpoint of ``{"params": ..., "batch_stats": ...}`` that :func:`load_variables` restores.

What the conversion does, key by key (keys in the ``state_dict``'s order):

- module names are mapped to the Flax model's by the family's rules (:data:`FAMILIES`): e.g.
  ``layer1.0.downsample.0`` -> ``layer1_0/downsample_conv``, ``features.28`` -> ``conv5_3`` in
  VGG-16, ``features.denseblock1.denselayer1.norm1`` -> ``denseblock1/denselayer1/norm1``; names
  without a rule are taken literally (dots -> nesting), so weights saved under this project's
  names (``conv1.weight``, ``fc6.bias``, ...) also convert;
- convolution kernels OIHW -> HWIO (grouped and depthwise convolutions included: PyTorch's
  ``(O, I/groups, kH, kW)`` becomes Flax's ``(kH, kW, I/groups, O)``);
- linear weights ``(out, in)`` -> ``(in, out)``; the first FC after a flatten (VGG's and AlexNet's
  fc6, GoogLeNet's auxiliary fc1) also has its input rows permuted from PyTorch's (C, H, W) flatten
  order to this project's NHWC (H, W, C) order;
- batch norm ``weight``/``bias`` -> ``params`` ``scale``/``bias``; ``running_mean``/``running_var``
  -> ``batch_stats`` ``mean``/``var``; ``num_batches_tracked`` is dropped. The Flax models use
  PyTorch's epsilons (1e-5; 1e-3 in GoogLeNet), so converted networks compute the same function.

Any disagreement between the file and the model — a key with no counterpart, a shape that differs,
a model variable the file does not provide — raises :class:`WeightMismatchError` naming the first
offending key with both shapes, instead of producing a silently wrong network.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import re
import sys
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import flax.linen as nn
import jax
import numpy as np
from flax import traverse_util

from cs231n_jax.config import parse_value
from cs231n_jax.errors import Cs231nError, DataError
from cs231n_jax.models import alexnet, densenet, googlenet, registry, resnet, squeezenet, vgg
from cs231n_jax.models.analysis import init_shapes
from cs231n_jax.train import checkpoint

BN_LEAVES = {"weight": ("params", "scale"), "bias": ("params", "bias"),
             "running_mean": ("batch_stats", "mean"), "running_var": ("batch_stats", "var")}
IGNORED_LEAVES = ("num_batches_tracked",)
CONVERTED_COLLECTIONS = ("params", "batch_stats")
# torchvision's DenseNet checkpoints predate its current names: "denselayer1.norm.1.weight" is
# "denselayer1.norm1.weight" (torchvision's own loader applies the same rewrite).
DENSENET_LEGACY = re.compile(r"^(.*denselayer\d+\.(?:norm|relu|conv))\.((?:[12])\.(?:weight|bias|running_mean|running_var))$")


class WeightMismatchError(Cs231nError, ValueError):
  """The weights do not fit the model (a missing or extra key, or a different shape)."""


@dataclasses.dataclass(frozen=True)
class Family:
  """How one model family names its modules in PyTorch.

  ``module_map(model)`` gives explicit ``torch module path -> Flax module path`` pairs (for
  ``nn.Sequential`` indices); ``rules`` are regex substitutions applied to other paths before
  dots become nesting; ``flatten_inputs(model)`` names the FC layers that follow a flatten, with
  the (H, W) of the map they flatten; ``rename_key`` rewrites legacy keys first.
  """

  module_map: Callable[[nn.Module], dict[str, str]] = lambda model: {}
  rules: tuple[tuple[str, str], ...] = ()
  flatten_inputs: Callable[[nn.Module], dict[str, tuple[int, int]]] = lambda model: {}
  rename_key: Callable[[str], str] = lambda key: key


def _vgg_map(model: vgg.VGG) -> dict[str, str]:
  """torchvision's ``features`` indices: conv (+ BN) + ReLU per layer, one max pool per block."""
  out, idx = {}, 0
  for b, widths in enumerate(vgg.VGG_CONFIGS[model.depth], start=1):
    for i in range(1, len(widths) + 1):
      out[f"features.{idx}"] = f"conv{b}_{i}"
      if model.batch_norm:
        out[f"features.{idx + 1}"] = f"bn{b}_{i}"
      idx += 3 if model.batch_norm else 2
    idx += 1
  out.update({"classifier.0": "fc6", "classifier.3": "fc7", "classifier.6": "fc8"})
  return out


def _alexnet_map(model: alexnet.AlexNetFamily) -> dict[str, str]:
  del model
  return {"features.0": "conv1", "features.3": "conv2", "features.6": "conv3", "features.8": "conv4",
          "features.10": "conv5", "classifier.1": "fc6", "classifier.4": "fc7", "classifier.6": "fc8"}


def _squeezenet_map(model: squeezenet.SqueezeNet) -> dict[str, str]:
  out, idx = {"features.0": "conv1", "classifier.1": "conv10"}, 3  # conv, ReLU, pool, fire2 ...
  pools = squeezenet.POOLS[model.version]
  for i in range(len(squeezenet.FIRE_WIDTHS)):
    if i in pools and i > 0:
      idx += 1
    out[f"features.{idx}"] = f"fire{i + 2}"
    idx += 1
  return out


def _densenet_rename(key: str) -> str:
  match = DENSENET_LEGACY.match(key)
  return match.group(1) + match.group(2) if match else key


FAMILIES: dict[type[nn.Module], Family] = {
    resnet.ResNet: Family(rules=((r"^layer(\d+)\.(\d+)\.downsample\.0$", r"layer\1_\2.downsample_conv"),
                                 (r"^layer(\d+)\.(\d+)\.downsample\.1$", r"layer\1_\2.downsample_bn"),
                                 (r"^layer(\d+)\.(\d+)\.", r"layer\1_\2."))),
    vgg.VGG: Family(module_map=_vgg_map, flatten_inputs=lambda m: {"fc6": tuple(m.pool_size)}),
    alexnet.AlexNetFamily: Family(module_map=_alexnet_map, flatten_inputs=lambda m: {"fc6": tuple(m.pool_size)}),
    squeezenet.SqueezeNet: Family(module_map=_squeezenet_map),
    densenet.DenseNet: Family(rules=((r"^features\.", ""),), rename_key=_densenet_rename),
    googlenet.GoogLeNet: Family(rules=((r"\.branch(\d)\.(\d)\.", r".branch\1_\2."),),
                                flatten_inputs=lambda m: {"aux1.fc1": (googlenet.AUX_GRID,) * 2,
                                                          "aux2.fc1": (googlenet.AUX_GRID,) * 2}),
}


def family_of(model: nn.Module) -> Family:
  for cls, family in FAMILIES.items():
    if isinstance(model, cls):
      return family
  return Family()  # literal names: weights saved under this project's module names


def flax_module_path(family: Family, model: nn.Module, torch_module: str) -> tuple[str, ...]:
  explicit = family.module_map(model)
  parts = torch_module.split(".")
  # The longest mapped prefix wins: "features.3.squeeze" -> "fire2" + ".squeeze".
  for n in range(len(parts), 0, -1):
    prefix = ".".join(parts[:n])
    if prefix in explicit:
      mapped = ".".join([explicit[prefix], *parts[n:]])
      break
  else:
    mapped = torch_module
    for pattern, replacement in family.rules:
      mapped = re.sub(pattern, replacement, mapped)
  return tuple(part for part in mapped.replace("/", ".").split(".") if part)


def _fmt(path: tuple[str, ...]) -> str:
  return "/".join(path)


def _permute_flatten_rows(kernel: np.ndarray, height: int, width: int) -> np.ndarray:
  """Rows of a (C*H*W, out) kernel in PyTorch's (C, H, W) order -> NHWC's (H, W, C) order."""
  rows, out = kernel.shape
  channels = rows // (height * width)
  if channels * height * width != rows:
    raise WeightMismatchError(f"flatten: {rows} inputs are not a multiple of the {height}x{width} map")
  return kernel.reshape(channels, height, width, out).transpose(1, 2, 0, 3).reshape(rows, out)


def convert_state_dict(state_dict: Mapping[str, Any], model: nn.Module | str,
                       input_shape: Sequence[int] | None = None, **model_kwargs) -> dict[str, Any]:
  """A PyTorch ``state_dict`` (arrays or tensors) -> ``{"params": ..., "batch_stats": ...}`` for ``model``.

  ``model`` is a module or a registered name (built with ``model_kwargs``); its variables' shapes
  come from ``jax.eval_shape`` at ``input_shape`` (default: the registered input shape).
  """
  name = model if isinstance(model, str) else type(model).__name__
  if isinstance(model, str):
    input_shape = input_shape or registry.default_input_shape(model)
    model = registry.get_model(model, **model_kwargs)
  if input_shape is None:
    raise ValueError("input_shape: required when a model instance (not a registered name) is given")
  target = traverse_util.flatten_dict({k: v for k, v in init_shapes(model, input_shape).items()
                                       if k in CONVERTED_COLLECTIONS})
  family = family_of(model)
  flatten = {flax_module_path(family, model, k): hw for k, hw in family.flatten_inputs(model).items()}
  converted: dict[tuple[str, ...], np.ndarray] = {}
  for raw_key, value in state_dict.items():
    key = family.rename_key(raw_key)
    torch_module, _, leaf = key.rpartition(".")
    if leaf in IGNORED_LEAVES:
      continue
    value = np.asarray(value.detach().cpu().numpy() if hasattr(value, "detach") else value)
    module = flax_module_path(family, model, torch_module)
    is_bn = ("params", *module, "scale") in target
    if is_bn:
      if leaf not in BN_LEAVES:
        raise WeightMismatchError(f"{raw_key}: unexpected batch-norm entry {leaf!r} for {name} module {_fmt(module)}")
      collection, flax_leaf = BN_LEAVES[leaf]
      path, array = (collection, *module, flax_leaf), value
    elif leaf == "weight":
      path = ("params", *module, "kernel")
      if value.ndim == 4:  # conv OIHW -> HWIO
        array = value.transpose(2, 3, 1, 0)
      elif value.ndim == 2:  # linear (out, in) -> (in, out)
        array = value.T
        if module in flatten and path in target:
          array = _permute_flatten_rows(array, *flatten[module])
      else:
        array = value
    elif leaf == "bias":
      path, array = ("params", *module, "bias"), value
    else:
      raise WeightMismatchError(f"{raw_key}: unknown parameter kind {leaf!r}")
    if path not in target:
      raise WeightMismatchError(
          f"{raw_key} {tuple(value.shape)}: model {name} has no variable {_fmt(path)} (first mismatched key)")
    if tuple(array.shape) != tuple(target[path].shape):
      expected = tuple(target[path].shape)
      torch_expected = _torch_layout(expected, value.ndim, leaf, is_bn)
      raise WeightMismatchError(
          f"{raw_key}: the weights have shape {tuple(value.shape)}, model {name} expects {torch_expected} "
          f"({_fmt(path)} {expected}) (first mismatched key)")
    converted[path] = array.astype(target[path].dtype)
  missing = [p for p in target if p not in converted]
  if missing:
    raise WeightMismatchError(
        f"{_fmt(missing[0])} {tuple(target[missing[0]].shape)}: model {name} needs it but the weights have no "
        f"matching key ({len(missing)} variables missing)")
  return traverse_util.unflatten_dict(converted)


def _torch_layout(flax_shape: tuple[int, ...], ndim: int, leaf: str, is_bn: bool) -> tuple[int, ...]:
  """A Flax kernel shape written in PyTorch's layout, for error messages."""
  if is_bn or leaf != "weight":
    return flax_shape
  if len(flax_shape) == 4:
    h, w, i, o = flax_shape
    return (o, i, h, w)
  if len(flax_shape) == 2:
    return flax_shape[::-1]
  return flax_shape


def load_state_dict(path: str | os.PathLike) -> dict[str, np.ndarray]:
  """Read a ``.pth`` / ``.pt`` (through :mod:`cs231n_jax.safe_pickle`, no torch) or ``.npz`` file into
  numpy arrays, in order.

  A checkpoint that wraps its weights (``{"state_dict": ...}`` or ``{"model": ...}``) is unwrapped.
  """
  p = Path(path)
  if not p.is_file():
    raise WeightMismatchError(f"--weights: no such file {str(path)!r}")
  suffix = p.suffix.lower()
  if suffix == ".npz":
    with np.load(p, allow_pickle=False) as archive:
      return {k: archive[k] for k in archive.files}
  if suffix in (".pth", ".pt", ".bin"):
    from cs231n_jax import safe_pickle

    try:
      data = safe_pickle.load_torch(p)
    except safe_pickle.UnsafePickleError as e:
      raise WeightMismatchError(f"--weights: {e}") from None
    except DataError as e:
      raise WeightMismatchError(f"--weights: {e}") from None
    for wrapper in ("state_dict", "model"):
      if isinstance(data, dict) and wrapper in data and isinstance(data[wrapper], dict):
        data = data[wrapper]
    if not isinstance(data, dict):
      raise WeightMismatchError(f"--weights: {p.name} holds a {type(data).__name__}, expected a state_dict")
    return {k: v for k, v in data.items() if isinstance(v, np.ndarray)}
  raise WeightMismatchError(f"--weights: expected a .pth, .pt or .npz file, got {p.name!r}")


# ---------------------------------------------------------------------------------------------
# Checkpoint I/O (cs231n_jax.train.checkpoint owns every orbax call).


def save_variables(directory: str | os.PathLike, variables: dict[str, Any], overwrite: bool = False) -> Path:
  """Write ``variables`` as an orbax checkpoint (a directory), through the project's checkpoint module."""
  return Path(str(checkpoint.save_tree(directory, variables, overwrite=overwrite)))


def load_variables(directory: str | os.PathLike, model: nn.Module | str, input_shape: Sequence[int] | None = None,
                   **model_kwargs) -> dict[str, Any]:
  """Restore converted variables for ``model`` (the target structure comes from ``eval_shape``)."""
  if isinstance(model, str):
    input_shape = input_shape or registry.default_input_shape(model)
    model = registry.get_model(model, **model_kwargs)
  target = {k: v for k, v in init_shapes(model, input_shape).items() if k in CONVERTED_COLLECTIONS}
  return checkpoint.load_tree(directory, target)


# ---------------------------------------------------------------------------------------------
# The command.


class _Parser(argparse.ArgumentParser):
  def error(self, message):
    raise WeightMismatchError(f"convert-weights: {message}")


def build_parser() -> argparse.ArgumentParser:
  p = _Parser(prog="cs231n-jax convert-weights",
              description="Convert a PyTorch state_dict (.pth, or .npz without torch) to Flax variables (orbax).")
  p.add_argument("--weights", required=True, help="the .pth / .pt / .npz file")
  p.add_argument("--model", required=True, help="a registered model name (cs231n-jax list models)")
  p.add_argument("--out", required=True, help="the orbax checkpoint directory to write")
  p.add_argument("--model-arg", action="append", default=[], metavar="KEY=VALUE",
                 help="a model constructor argument, e.g. num_classes=10 or batch_norm=true (repeatable)")
  p.add_argument("--overwrite", action="store_true", help="replace an existing --out directory")
  return p


def run(argv: Sequence[str]) -> int:
  """``cs231n-jax convert-weights``; returns the exit status (0 ok, 2 bad input, printed on stderr)."""
  try:
    args = build_parser().parse_args(list(argv))
    kwargs = {}
    for item in args.model_arg:
      key, sep, text = item.partition("=")
      if not sep:
        raise WeightMismatchError(f"--model-arg: expected KEY=VALUE, got {item!r}")
      kwargs[key] = parse_value(text)
    if Path(args.out).exists() and not args.overwrite:
      raise WeightMismatchError(f"--out: {args.out} exists (pass --overwrite to replace it)")
    state_dict = load_state_dict(args.weights)
    variables = convert_state_dict(state_dict, args.model, **kwargs)
    out = save_variables(args.out, variables, overwrite=args.overwrite)
  except (Cs231nError, ValueError) as e:
    print(f"cs231n-jax convert-weights: error: {e}", file=sys.stderr)
    return 2
  count = sum(int(np.prod(x.shape)) for x in jax.tree.leaves(variables.get("params", {})))
  print(f"converted {len(state_dict)} tensors into {count:,} parameters of {args.model}; saved to {out}")
  return 0


if __name__ == "__main__":
  sys.exit(run(sys.argv[1:]))
