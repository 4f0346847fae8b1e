"""What a network's layers hold (lecture 13, V1-V6, V10): intermediate outputs by name, first-layer
filters as images, nearest neighbours and 2-D embeddings of penultimate features, activation maps,
and maximally activating patches with receptive-field bookkeeping.

- :func:`layer_outputs` / :func:`layer_output`: every submodule's output by its path (``"conv1"``,
  ``"blocks_3"``, ``"block_5/dw_conv"``), from Flax's ``capture_intermediates``; an unknown layer is a
  one-line error listing the model's layers. :func:`penultimate_features` reads what the model sows
  as ``intermediates/features`` (the pooled vector before the classifier).
- :func:`receptive_field`: for a chain of ``(kernel, stride, padding)`` layers, the receptive field
  size ``r``, the jump ``j`` (input pixels between adjacent output units) and the centre ``start``
  of output unit 0, by ``r += (k - 1) j``, ``start += ((k - 1) / 2 - p) j``, ``j *= s``;
  :func:`unit_box` is the input box of one output unit.
- :func:`max_activating_patches`: the top-``k`` (image, position) activations of one channel and the
  input patches their receptive fields cover.
- :func:`nearest_neighbours` (L2, brute force), :func:`embed_2d` (scikit-learn PCA or t-SNE).
"""

from __future__ import annotations

from typing import Any, Sequence

import flax.linen as nn
import jax
import numpy as np
from flax import traverse_util

from cs231n_jax.errors import ConfigError


def layer_outputs(model: nn.Module, variables: dict[str, Any], images: jax.Array) -> dict[str, jax.Array]:
  """``{path: output}`` of every submodule's ``__call__`` (and everything the model sows), eval mode."""
  _, state = model.apply(variables, images, train=False, capture_intermediates=True, mutable=["intermediates"])
  flat = traverse_util.flatten_dict(state["intermediates"])
  out = {}
  for path, value in flat.items():
    name = "/".join(p for p in path if p != "__call__")
    out[name] = value[0] if isinstance(value, tuple) else value
  out.pop("", None)  # the model's own output (the logits)
  return out


def layer_names(model: nn.Module, variables: dict[str, Any], example: jax.Array) -> list[str]:
  shapes = jax.eval_shape(lambda x: layer_outputs(model, variables, x), example)
  return sorted(shapes)


def layer_output(model: nn.Module, variables: dict[str, Any], images: jax.Array, layer: str) -> jax.Array:
  """One layer's output; ``layer`` must be one of :func:`layer_names`."""
  outputs = layer_outputs(model, variables, images)
  if layer not in outputs:
    names = sorted(outputs)
    shown = names if len(names) <= 12 else names[:12] + ["..."]
    raise ConfigError(f"layer: {type(model).__name__} has no layer {layer!r}; expected one of {shown}")
  return outputs[layer]


def penultimate_features(model: nn.Module, variables: dict[str, Any], images: jax.Array) -> jax.Array:
  """The pooled features the model sows as ``intermediates/features`` (before its classifier)."""
  _, state = model.apply(variables, images, train=False, mutable=["intermediates"])
  if "features" not in state.get("intermediates", {}):
    raise ConfigError(f"model: {type(model).__name__} sows no 'features' (penultimate) output")
  return state["intermediates"]["features"][0]


def tile(images: np.ndarray, cols: int | None = None, pad: int = 1, normalize: str = "each") -> np.ndarray:
  """(N, h, w, c) -> one (rows*(h+pad)-pad, cols*(w+pad)-pad, c) image; ``normalize``: "each" maps every
  tile to [0, 1] by its own min / max, "all" by the global ones, "none" leaves the values."""
  x = np.asarray(images, np.float32)
  if x.ndim == 3:
    x = x[..., None]
  if normalize == "each":
    lo = x.min(axis=(1, 2, 3), keepdims=True)
    x = (x - lo) / np.maximum(x.max(axis=(1, 2, 3), keepdims=True) - lo, 1e-12)
  elif normalize == "all":
    x = (x - x.min()) / max(float(x.max() - x.min()), 1e-12)
  n, h, w, c = x.shape
  cols = cols or int(np.ceil(np.sqrt(n)))
  rows = int(np.ceil(n / cols))
  out = np.ones((rows * (h + pad) - pad, cols * (w + pad) - pad, c), np.float32)
  for i in range(n):
    r, q = divmod(i, cols)
    out[r * (h + pad):r * (h + pad) + h, q * (w + pad):q * (w + pad) + w] = x[i]
  return out


def first_layer_filters(kernel: np.ndarray, cols: int | None = None) -> np.ndarray:
  """An HWIO first-layer kernel as a grid of its ``O`` filters, each scaled to [0, 1] (V1)."""
  k = np.asarray(kernel)
  if k.ndim != 4:
    raise ConfigError(f"kernel: expected an HWIO convolution kernel, got shape {k.shape}")
  return tile(np.transpose(k, (3, 0, 1, 2)), cols, pad=1, normalize="each")


def activation_maps(activations: np.ndarray, cols: int | None = None) -> np.ndarray:
  """One image's (h, w, C) layer output as C grayscale tiles (V5)."""
  a = np.asarray(activations)
  if a.ndim != 3:
    raise ConfigError(f"activations: expected one image's (h, w, C) layer output, got shape {a.shape}")
  return tile(np.transpose(a, (2, 0, 1))[..., None], cols, pad=1, normalize="each")


def receptive_field(layers: Sequence[tuple[int, int, int]]) -> tuple[int, int, float]:
  """``(size, jump, start)`` after a chain of ``(kernel, stride, padding)`` layers (input: 1, 1, 0)."""
  size, jump, start = 1, 1, 0.0
  for kernel, stride, padding in layers:
    size += (kernel - 1) * jump
    start += ((kernel - 1) / 2 - padding) * jump
    jump *= stride
  return size, jump, start


def unit_box(layers: Sequence[tuple[int, int, int]], row: int, col: int, image_size: tuple[int, int] | None = None,
             ) -> tuple[int, int, int, int]:
  """``(top, left, bottom, right)`` (bottom / right exclusive) of the input pixels output unit
  ``(row, col)`` sees, clipped to ``image_size`` when given."""
  size, jump, start = receptive_field(layers)
  half = (size - 1) / 2
  top, left = int(round(start + row * jump - half)), int(round(start + col * jump - half))
  box = (top, left, top + size, left + size)
  if image_size is not None:
    h, w = image_size
    box = (max(box[0], 0), max(box[1], 0), min(box[2], h), min(box[3], w))
  return box


def max_activating_patches(activations: np.ndarray, images: np.ndarray, channel: int,
                           layers: Sequence[tuple[int, int, int]], k: int = 8) -> tuple[list[np.ndarray], list[tuple]]:
  """The ``k`` largest values of ``channel`` over a batch's (N, h, w, C) ``activations`` (at most one
  per image) and the input patches (zero-padded to the full receptive field) they see (V6)."""
  a = np.asarray(activations)[..., channel]
  n, h, w = a.shape
  best_pos = a.reshape(n, -1).argmax(1)
  best_val = a.reshape(n, -1).max(1)
  order = np.argsort(-best_val, kind="stable")[:k]
  size = receptive_field(layers)[0]
  patches, where = [], []
  for i in order:
    row, col = divmod(int(best_pos[i]), w)
    top, left, _, _ = unit_box(layers, row, col)
    patch = np.zeros((size, size, images.shape[-1]), np.float32)
    y0, x0 = max(top, 0), max(left, 0)
    y1, x1 = min(top + size, images.shape[1]), min(left + size, images.shape[2])
    patch[y0 - top:y1 - top, x0 - left:x1 - left] = images[i, y0:y1, x0:x1]
    patches.append(patch)
    where.append((int(i), row, col, float(best_val[i])))
  return patches, where


def nearest_neighbours(queries: np.ndarray, bank: np.ndarray, k: int = 5) -> np.ndarray:
  """(Q, k) indices into ``bank`` of each query's ``k`` nearest rows in L2 (ties: lower index first)."""
  q = np.asarray(queries, np.float64).reshape(len(queries), -1)
  b = np.asarray(bank, np.float64).reshape(len(bank), -1)
  d = (q * q).sum(1)[:, None] - 2 * q @ b.T + (b * b).sum(1)[None, :]
  return np.argsort(d, axis=1, kind="stable")[:, :k]


def embed_2d(features: np.ndarray, method: str = "pca", seed: int = 0, perplexity: float = 30.0) -> np.ndarray:
  """(N, 2) by scikit-learn's PCA or t-SNE (V4)."""
  x = np.asarray(features, np.float64).reshape(len(features), -1)
  if method == "pca":
    from sklearn.decomposition import PCA

    return PCA(2, random_state=seed).fit_transform(x)
  if method == "tsne":
    from sklearn.manifold import TSNE

    return TSNE(2, perplexity=min(perplexity, (len(x) - 1) / 3), random_state=seed, init="pca").fit_transform(x)
  raise ConfigError(f"method: expected 'pca' or 'tsne', got {method!r}")


def neuron_gradient(model: nn.Module, variables: dict[str, Any], image: jax.Array, layer: str, index: tuple[int, ...],
                    ) -> jax.Array:
  """d (one unit of ``layer``) / d image for one HWC image (V10): ``index`` into the layer's per-image output."""
  return jax.grad(lambda x: layer_output(model, variables, x[None], layer)[0][index])(image)


__all__ = ["activation_maps", "embed_2d", "first_layer_filters", "layer_names", "layer_output", "layer_outputs",
           "max_activating_patches", "nearest_neighbours", "neuron_gradient", "penultimate_features", "receptive_field",
           "tile", "unit_box"]
