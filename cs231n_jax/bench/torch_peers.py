"""The benchmark's PyTorch peers: the same networks as the project's Flax models, module for module.

Module names equal the Flax modules' (``Conv_0``, ``layer1_0.conv1``, ...), so
``cs231n_jax.convert.pytorch.convert_state_dict`` maps a peer's weights onto the Flax model
literally, and the study checks that both compute the same loss before timing them. Flattening
is done in NHWC order (a permute before ``flatten``) for the same reason. Needs the ``bench``
extra (torch).
"""

from __future__ import annotations

import torch
from torch import nn


def flatten_nhwc(x: torch.Tensor) -> torch.Tensor:
  return x.permute(0, 2, 3, 1).flatten(1)


class ThreeLayerConvNet(nn.Module):
  """conv (same padding) - relu - 2x2 max pool - affine - relu - affine."""

  def __init__(self, in_channels=3, image_size=32, num_filters=32, filter_size=7, hidden_dim=100, num_classes=10):
    super().__init__()
    self.Conv_0 = nn.Conv2d(in_channels, num_filters, filter_size, padding=(filter_size - 1) // 2)
    self.Dense_0 = nn.Linear(num_filters * (image_size // 2) ** 2, hidden_dim)
    self.Dense_1 = nn.Linear(hidden_dim, num_classes)

  def forward(self, x):
    x = nn.functional.max_pool2d(torch.relu(self.Conv_0(x)), 2)
    return self.Dense_1(torch.relu(self.Dense_0(flatten_nhwc(x))))


class SmallVGG(nn.Module):
  """[conv3x3 - relu] x 2 - pool per stage, widths 32 / 64 / 128, then affine."""

  def __init__(self, widths=(32, 64, 128), convs_per_stage=2, num_classes=10, image_size=32):
    super().__init__()
    self.widths, self.convs_per_stage = widths, convs_per_stage
    c, i = 3, 0
    for w in widths:
      for _ in range(convs_per_stage):
        setattr(self, f"Conv_{i}", nn.Conv2d(c, w, 3, padding=1))
        c, i = w, i + 1
    self.Dense_0 = nn.Linear(c * (image_size // 2 ** len(widths)) ** 2, num_classes)

  def forward(self, x):
    i = 0
    for _ in self.widths:
      for _ in range(self.convs_per_stage):
        x = torch.relu(getattr(self, f"Conv_{i}")(x))
        i += 1
      x = nn.functional.max_pool2d(x, 2)
    return self.Dense_0(flatten_nhwc(x))


class BasicBlock(nn.Module):
  """He et al.'s CIFAR block with option A shortcuts (subsample, zero-pad channels)."""

  def __init__(self, in_planes, planes, stride):
    super().__init__()
    self.conv1 = nn.Conv2d(in_planes, planes, 3, stride, 1, bias=False)
    self.bn1 = nn.BatchNorm2d(planes)
    self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
    self.bn2 = nn.BatchNorm2d(planes)
    self.stride, self.extra = stride, planes - in_planes

  def forward(self, x):
    y = torch.relu(self.bn1(self.conv1(x)))
    y = self.bn2(self.conv2(y))
    s = x[:, :, ::self.stride, ::self.stride] if self.stride > 1 else x
    if self.extra:
      s = nn.functional.pad(s, (0, 0, 0, 0, self.extra // 2, self.extra - self.extra // 2))
    return torch.relu(y + s)


class CifarResNet(nn.Module):
  """ResNet-(6n+2) for CIFAR: 16/32/64 filters, n basic blocks per stage."""

  def __init__(self, n: int, num_classes=10):
    super().__init__()
    self.conv1 = nn.Conv2d(3, 16, 3, 1, 1, bias=False)
    self.bn1 = nn.BatchNorm2d(16)
    in_planes = 16
    self.block_names = []
    for stage, planes in enumerate((16, 32, 64), start=1):
      for j in range(n):
        name = f"layer{stage}_{j}"
        setattr(self, name, BasicBlock(in_planes, planes, 2 if j == 0 and stage > 1 else 1))
        self.block_names.append(name)
        in_planes = planes
    self.fc = nn.Linear(64, num_classes)

  def forward(self, x):
    x = torch.relu(self.bn1(self.conv1(x)))
    for name in self.block_names:
      x = getattr(self, name)(x)
    return self.fc(x.mean(dim=(2, 3)))


def build(name: str) -> nn.Module:
  """The peer of the registered Flax model ``name`` (with the benchmark's constructor arguments)."""
  if name == "three_layer_convnet":
    return ThreeLayerConvNet()
  if name == "small_vgg":
    return SmallVGG()
  if name.startswith("resnet") and name[len("resnet"):].isdigit():
    depth = int(name[len("resnet"):])
    return CifarResNet((depth - 2) // 6)
  raise ValueError(f"model: no PyTorch peer for {name!r}")
