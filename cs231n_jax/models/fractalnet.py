"""FractalNet (Larsson, Maire, Shakhnarovich, "FractalNet: Ultra-Deep Neural Networks without
Residuals", ICLR 2017).

"Fractal architecture with both shallow and deep paths to output. Trained with dropping out
sub-paths. Full network at test time" (lecture 9, 14159-14171). The expansion rule (paper, eq. 1):

    f_1(z) = conv(z)
    f_{C+1}(z) = join( (f_C o f_C)(z), conv(z) )

so a block with C columns has columns of 1, 2, 4, ..., 2^(C-1) convs and 2^C - 1 convs in total.
A join averages its inputs element-wise; joins are flattened (the last join of f_{C+1} merges the
C columns ending there), as in the paper's Figure 1. Each conv is conv-BN-ReLU.

Drop-path regularisation (section 3.1), training only:
- local: every input of a join is dropped with probability ``local_drop`` (at least one survives);
- global: a single column is kept for the whole network.
Following the paper, a ``global_ratio`` share of the examples use global drop-path and the rest
local (each example draws its own; the paper draws per mini-batch).

CIFAR network (section 4.2): B = 5 blocks of C columns with 64, 128, 256, 512, 512 channels, each
block followed by a 2x2 max pool, then a linear classifier. ``fractalnet20`` (C = 3) and
``fractalnet40`` (C = 4) have 20 and 40 convolutional layers on their deepest path. The paper
lists 38.6M parameters for its 20-layer network and 22.9M for the 40-layer one; this reading of
its specification gives 33.7M and 76.1M (:func:`fractal_block_weights` counts the conv weights),
so the paper's networks must differ in a detail its text does not give (the 40-layer model's
count implies narrower channels). Per-block dropout (0%, 10%, 20%, 30%, 40% in the paper's "+dropout"
rows) is ``dropout_rates``.
"""

from __future__ import annotations

from typing import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

from cs231n_jax.models import cnn_layers as L
from cs231n_jax.models.registry import register

CIFAR_WIDTHS = (64, 128, 256, 512, 512)
LOCAL_DROP = 0.15  # the paper's local drop-path probability
GLOBAL_RATIO = 0.5  # "we use 50% local and 50% global"


def fractal_block_weights(columns: int, in_channels: int, channels: int, kernel: int = 3) -> int:
  """Conv weights of one fractal block: the first conv of each column sees ``in_channels``, the
  other ``2^C - 1 - C`` see ``channels``."""
  first = columns * kernel * kernel * in_channels * channels
  rest = (2 ** columns - 1 - columns) * kernel * kernel * channels * channels
  return first + rest


class ConvUnit(nn.Module):
  """3x3 conv -> BN -> ReLU -> [dropout]."""

  features: int
  dropout_rate: float = 0.0
  train: bool = False
  dtype: L.Dtype = jnp.float32
  param_dtype: L.Dtype = jnp.float32
  bn_axis_name: str | None = None

  @nn.compact
  def __call__(self, x: jnp.ndarray) -> jnp.ndarray:
    x = L.ConvBN(self.features, 3, padding=1, dtype=self.dtype, param_dtype=self.param_dtype,
                 bn_axis_name=self.bn_axis_name, name="unit")(x, self.train)
    return nn.Dropout(self.dropout_rate, deterministic=not self.train)(x)


class FractalBlock(nn.Module):
  """One fractal block of ``columns`` columns; called with the per-example global column choice.

  ``global_column[n]`` is the column (0 = deepest) example ``n`` keeps everywhere, or -1 for local
  drop-path. Convs are named ``col{c}_{i}`` (column c counted from the deepest, i its depth).
  """

  columns: int
  features: int
  dropout_rate: float = 0.0
  local_drop: float = LOCAL_DROP
  train: bool = False
  dtype: L.Dtype = jnp.float32
  param_dtype: L.Dtype = jnp.float32
  bn_axis_name: str | None = None
  global_column: jnp.ndarray | None = None

  def _unit(self, name: str) -> ConvUnit:
    return ConvUnit(self.features, self.dropout_rate, self.train, self.dtype, self.param_dtype, self.bn_axis_name,
                    name=name)

  def _columns(self, z, c: int, first_column: int, depth: dict[int, int]) -> list[tuple[int, jnp.ndarray]]:
    """The unjoined outputs of f_c(z) as (global column index, tensor), deepest column first.

    Columns ``first_column .. first_column + c - 1`` (0 = the block's deepest) take part; ``depth``
    counts the convs built so far in each column, for naming.
    """
    shallow = first_column + c - 1
    depth[shallow] = depth.get(shallow, 0) + 1
    new = (shallow, self._unit(f"col{shallow}_{depth[shallow]}")(z))
    if c == 1:
      return [new]
    inner = self._join(self._columns(z, c - 1, first_column, depth))
    return self._columns(inner, c - 1, first_column, depth) + [new]

  def _join(self, inputs: list[tuple[int, jnp.ndarray]]) -> jnp.ndarray:
    """Element-wise mean of the inputs that survive drop-path (all of them at test time)."""
    values = jnp.stack([x for _, x in inputs]).astype(jnp.float32)
    if not self.train or len(inputs) == 1 or self.global_column is None:
      return jnp.mean(values, axis=0).astype(inputs[0][1].dtype)
    n = values.shape[1]
    key = self.make_rng("dropout")
    keep = jax.random.bernoulli(key, 1.0 - self.local_drop, (len(inputs), n))
    # At least one input survives: if all were dropped, keep a random one.
    rescue = jax.nn.one_hot(jax.random.randint(jax.random.fold_in(key, 1), (n,), 0, len(inputs)), len(inputs)).T
    keep = jnp.where(keep.any(axis=0, keepdims=True), keep, rescue > 0)
    columns = jnp.asarray([c for c, _ in inputs])
    global_keep = columns[:, None] == self.global_column[None, :]
    use_global = (self.global_column >= 0)[None, :] & global_keep.any(axis=0, keepdims=True)
    mask = jnp.where(use_global, global_keep, keep).astype(jnp.float32)
    total = jnp.einsum("in,in...->n...", mask, values)
    return (total / jnp.maximum(mask.sum(axis=0), 1.0).reshape((n,) + (1,) * (values.ndim - 2))).astype(
        inputs[0][1].dtype)

  @nn.compact
  def __call__(self, x: jnp.ndarray) -> jnp.ndarray:
    return self._join(self._columns(x, self.columns, 0, {}))


class FractalNet(nn.Module):
  """FractalNet: fractal blocks each followed by 2x2 max pooling, then a linear classifier."""

  columns: int = 3
  widths: Sequence[int] = CIFAR_WIDTHS
  dropout_rates: Sequence[float] | None = None
  local_drop: float = LOCAL_DROP
  global_ratio: float = GLOBAL_RATIO
  drop_path: bool = True
  num_classes: int = 10
  dtype: L.Dtype = jnp.float32
  param_dtype: L.Dtype = jnp.float32
  bn_axis_name: str | None = None

  @nn.compact
  def __call__(self, x: jnp.ndarray, *, train: bool = False) -> jnp.ndarray:
    L.check_images(x, "FractalNet")
    if self.columns < 1:
      raise ValueError(f"model.columns: expected at least 1, got {self.columns}")
    rates = tuple(self.dropout_rates) if self.dropout_rates is not None else (0.0,) * len(self.widths)
    L.check_sequence("dropout_rates", rates, len(self.widths))
    L.check_probability("local_drop", self.local_drop)
    x = x.astype(self.dtype)
    global_column = None
    if train and self.drop_path:
      key = self.make_rng("dropout")
      n = x.shape[0]
      chosen = jax.random.randint(key, (n,), 0, self.columns)
      is_global = jax.random.uniform(jax.random.fold_in(key, 1), (n,)) < self.global_ratio
      global_column = jnp.where(is_global, chosen, -1)
    for b, (width, rate) in enumerate(zip(self.widths, rates), start=1):
      x = FractalBlock(self.columns, width, rate, self.local_drop, train, self.dtype,
                       self.param_dtype, self.bn_axis_name, global_column=global_column, name=f"block{b}")(x)
      x = L.MaxPool(2, 2, name=f"pool{b}")(x)
    x = L.global_avg_pool(x)
    return L.logits_f32(L.dense(self, self.num_classes, "fc")(x))


@register("fractalnet20", input_shape=(32, 32, 3))
class FractalNet20(FractalNet):
  """FractalNet with 5 blocks of C = 3 columns (20 layers deep) for CIFAR (Larsson et al. 2017)."""

  columns: int = 3


@register("fractalnet40", input_shape=(32, 32, 3))
class FractalNet40(FractalNet):
  """FractalNet with 5 blocks of C = 4 columns (40 layers deep) for CIFAR (Larsson et al. 2017)."""

  columns: int = 4
