"""The digits as generative-model data: integer intensity levels, binarised, or scaled to an interval.

The project's fixed stratified split (1,257 train / 180 val / 360 test, ``data.digits.split_indices``)
is used everywhere, so every likelihood and sample score here is comparable across the project.

- **17 levels**: the digits' pixels are integers 0..16 — the analogue, on 8x8 digits, of the
  lecture's 256-way softmax over 0..255.
- **binarised**: pixel >= 8 becomes 1 (the threshold of the generative curriculum's baselines).
- **continuous**: ``levels / 16`` in [0, 1] (VAEs, classifiers), ``* 2 - 1`` in [-1, 1] (GANs with a
  tanh output, as DCGAN), or uniformly *dequantised* ``(levels + u) / 17`` for a continuous density
  whose likelihood bounds the discrete one (:func:`dequantize`).
"""

from __future__ import annotations

import dataclasses
import math

import jax
import jax.numpy as jnp
import numpy as np

from cs231n_jax.data.digits import raw_digits, split_indices

NUM_LEVELS = 17  # the digits' intensities 0..16
BINARY_THRESHOLD = 8  # pixel >= 8 -> 1
IMAGE_SHAPE = (8, 8, 1)  # NHWC, one grey channel


@dataclasses.dataclass(frozen=True)
class LevelDigits:
  """The split as integer images ``(N, 8, 8, 1)`` int32 in ``0..num_levels-1`` with labels."""

  train: np.ndarray
  val: np.ndarray
  test: np.ndarray
  train_labels: np.ndarray
  val_labels: np.ndarray
  test_labels: np.ndarray
  num_levels: int

  @property
  def image_shape(self) -> tuple[int, int, int]:
    return tuple(self.train.shape[1:])

  def split(self, name: str) -> np.ndarray:
    if name not in ("train", "val", "test"):
      raise ValueError(f"split: expected 'train', 'val' or 'test', got {name!r}")
    return getattr(self, name)

  def labels(self, name: str) -> np.ndarray:
    self.split(name)
    return getattr(self, f"{name}_labels")


def load_level_digits(binarize: bool = False) -> LevelDigits:
  """The digits as integer levels: 17 levels (0..16), or 2 when ``binarize`` (pixel >= 8)."""
  images, labels = raw_digits()
  levels = np.rint(images).astype(np.int32)
  num_levels = NUM_LEVELS
  if binarize:
    levels = (levels >= BINARY_THRESHOLD).astype(np.int32)
    num_levels = 2
  levels = levels[..., None]
  tr, va, te = split_indices()
  return LevelDigits(levels[tr], levels[va], levels[te], labels[tr], labels[va], labels[te], num_levels)


def is_traced(x) -> bool:
  return isinstance(x, jax.core.Tracer)


def check_levels(images, num_levels: int, image_shape: tuple[int, ...] | None = None,
                 name: str = "images") -> None:
  """Raise a one-line ValueError unless ``images`` are integer levels ``0..num_levels-1`` of
  ``(N, *image_shape)``. Values are only checked on concrete arrays (not under ``jit``)."""
  shape = tuple(np.shape(images))
  if image_shape is not None and (len(shape) != len(image_shape) + 1 or shape[1:] != tuple(image_shape)):
    raise ValueError(f"{name}: expected shape (N, {', '.join(map(str, image_shape))}), got {shape}")
  # (not getattr(images, "dtype", default): the default would be evaluated, converting a tracer)
  dtype = np.dtype(images.dtype if hasattr(images, "dtype") else np.asarray(images).dtype)
  if is_traced(images):
    if not jnp.issubdtype(dtype, jnp.integer):
      raise ValueError(f"{name}: expected integer intensity levels 0..{num_levels - 1}, got dtype {dtype}")
    return
  values = np.asarray(images)
  if values.size == 0:
    return
  if not np.issubdtype(dtype, np.integer):
    if not np.all(values == np.round(values)):
      raise ValueError(f"{name}: expected integer intensity levels 0..{num_levels - 1}, got non-integer values")
  lo, hi = values.min(), values.max()
  if lo < 0 or hi > num_levels - 1:
    raise ValueError(f"{name}: expected intensity levels 0..{num_levels - 1}, got values in [{lo}, {hi}]")


def to_unit(levels, num_levels: int):
  """Levels ``0..L-1`` to [0, 1]."""
  return levels / (num_levels - 1)


def to_symmetric(levels, num_levels: int):
  """Levels ``0..L-1`` to [-1, 1] (the range of a tanh output)."""
  return 2.0 * to_unit(levels, num_levels) - 1.0


def dequantize(key: jax.Array, levels, num_levels: int) -> jax.Array:
  """``(levels + u) / L`` with ``u ~ U[0, 1)``: a continuous point inside the level's bin.

  If a continuous density ``p`` is fitted to dequantised data, Jensen's inequality gives
  ``log P(x) >= E_u[log p((x + u) / L)] - D log L`` (Theis et al. 2016; Ho et al. 2019): a bound
  on the discrete log-likelihood (:func:`discrete_bound_offset` is the ``D log L`` term).
  """
  u = jax.random.uniform(key, jnp.shape(levels))
  return (jnp.asarray(levels, jnp.float32) + u) / num_levels


def discrete_bound_offset(num_dims: int, num_levels: int) -> float:
  """``D log L``: nats added to a dequantised continuous NLL to bound the discrete NLL."""
  return num_dims * math.log(num_levels)


def nats_to_bits_per_dim(nats_per_image, num_dims: int):
  """Nats per image to bits per dimension: ``nats / (D ln 2)``."""
  return nats_per_image / (num_dims * math.log(2.0))
