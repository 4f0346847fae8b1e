"""3-D networks (registry family ``3d``). The notes' "AI + 3D" section is empty; these follow their
papers: PointNet (Qi et al., CVPR 2017), a voxel 3-D CNN (VoxNet, Maturana & Scherer, IROS 2015),
Occupancy Networks (Mescheder et al., CVPR 2019) and NeRF (Mildenhall et al., ECCV 2020).

Sizes are smaller than the papers' (fields say which) so that they train on a CPU in minutes.
Classifiers are called ``model.apply(variables, x, train=...)`` as the classification task does.
"""

from __future__ import annotations

from typing import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

from cs231n_jax.geometry import rendering
from cs231n_jax.models.registry import register


class SharedMLP(nn.Module):
  """The same MLP applied to every point (a 1x1 convolution over the points): (B, N, C) -> (B, N, F)."""

  features: Sequence[int]

  @nn.compact
  def __call__(self, x):
    for f in self.features:
      x = nn.relu(nn.Dense(f)(x))
    return x


class InputTransform(nn.Module):
  """PointNet's T-Net: a shared MLP, max-pool, an MLP to a 3x3 matrix initialised at the identity
  (the last layer's weights start at zero), applied to the points."""

  features: Sequence[int] = (32, 64, 128)
  head: Sequence[int] = (64, 32)

  @nn.compact
  def __call__(self, points):
    g = jnp.max(SharedMLP(self.features)(points), axis=1)
    for f in self.head:
      g = nn.relu(nn.Dense(f)(g))
    m = nn.Dense(9, kernel_init=nn.initializers.zeros, bias_init=nn.initializers.zeros)(g).reshape(-1, 3, 3)
    return jnp.einsum("bni,bij->bnj", points, m + jnp.eye(3))


class PointNetEncoder(nn.Module):
  """Input transform, shared MLP, max-pool (the symmetric function): (B, N, 3) -> (B, F)."""

  features: Sequence[int] = (64, 128, 256)  # the paper: 64, 64, 64, 128, 1024
  input_transform: bool = True

  @nn.compact
  def __call__(self, points):
    if points.ndim != 3 or points.shape[-1] != 3:
      raise ValueError(f"points: expected a batch of point clouds (B, N, 3), got shape {points.shape}")
    x = InputTransform()(points) if self.input_transform else points
    return jnp.max(SharedMLP(self.features)(x), axis=1)


@register("pointnet", "PointNet classifier: input transform, shared MLP, max-pool, MLP head (Qi et al. 2017)",
          input_shape=(512, 3), family="3d")
class PointNet(nn.Module):
  num_classes: int = 12
  features: Sequence[int] = (64, 128, 256)
  head: Sequence[int] = (128, 64)  # the paper: 512, 256
  input_transform: bool = True
  dropout: float = 0.3

  @nn.compact
  def __call__(self, points, train: bool = False):
    x = PointNetEncoder(self.features, self.input_transform)(points)
    for f in self.head:
      x = nn.Dropout(self.dropout, deterministic=not train)(nn.relu(nn.Dense(f)(x)))
    return nn.Dense(self.num_classes)(x)


@register("voxel_cnn", "3-D CNN on occupancy grids (VoxNet-like: 3-D convolutions, max-pool, MLP)",
          input_shape=(24, 24, 24, 1), family="3d")
class VoxelCNN(nn.Module):
  num_classes: int = 12
  features: Sequence[int] = (16, 32, 64)
  hidden: int = 128
  dropout: float = 0.3

  @nn.compact
  def __call__(self, voxels, train: bool = False):
    if voxels.ndim != 5:
      raise ValueError(f"voxels: expected a batch of grids (B, D, H, W, C), got shape {voxels.shape}")
    x = voxels
    for f in self.features:
      x = nn.relu(nn.Conv(f, (3, 3, 3))(x))
      x = nn.max_pool(x, (2, 2, 2), (2, 2, 2))
    x = x.reshape(x.shape[0], -1)
    x = nn.Dropout(self.dropout, deterministic=not train)(nn.relu(nn.Dense(self.hidden)(x)))
    return nn.Dense(self.num_classes)(x)


@register("occupancy_net", "Occupancy network: PointNet encoder to a shape code, MLP decoder of (point, code) to "
          "inside / outside logits (Mescheder et al. 2019)", input_shape=None, family="3d")
class OccupancyNetwork(nn.Module):
  code_size: int = 128
  encoder_features: Sequence[int] = (64, 128, 256)
  decoder: Sequence[int] = (128, 128, 128)

  def setup(self):
    self.encoder = PointNetEncoder(self.encoder_features, input_transform=False)
    self.to_code = nn.Dense(self.code_size)
    self.layers = [nn.Dense(f) for f in self.decoder]
    self.code_layers = [nn.Dense(f) for f in self.decoder]
    self.out = nn.Dense(1)

  def encode(self, cloud):
    return self.to_code(self.encoder(cloud))

  def decode(self, code, queries):
    """Logits (B, M) of occupancy at ``queries`` (B, M, 3) given codes (B, code_size); the code
    is added to every hidden layer (the paper's conditioning, without its batch norm)."""
    h = queries
    for layer, code_layer in zip(self.layers, self.code_layers):
      h = nn.relu(layer(h) + code_layer(code)[:, None])
    return self.out(h)[..., 0]

  def __call__(self, cloud, queries):
    return self.decode(self.encode(cloud), queries)


@register("nerf", "NeRF MLP: positional encoding of a 3-D point to density and colour (Mildenhall et al. 2020)",
          input_shape=None, family="3d")
class NeRF(nn.Module):
  """(..., 3) points -> (density >= 0 (...), colour in [0, 1] (..., 3)). View directions are left
  out: the project's scenes are Lambertian (their colour does not depend on the view)."""

  num_frequencies: int = 6  # the paper: 10 for positions
  width: int = 128  # the paper: 256
  depth: int = 4  # the paper: 8, with a skip connection at the 5th
  skip: int = 2

  @nn.compact
  def __call__(self, points):
    enc = rendering.positional_encoding(points, self.num_frequencies)
    h = enc
    for i in range(self.depth):
      if i == self.skip:
        h = jnp.concatenate([h, enc], -1)
      h = nn.relu(nn.Dense(self.width)(h))
    out = nn.Dense(4)(h)
    return jax.nn.softplus(out[..., 0] - 1.0), jax.nn.sigmoid(out[..., 1:])
