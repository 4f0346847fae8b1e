"""I3D inflation of the pretrained ImageNet MobileNetV2 (batch norms, depthwise convolutions, stride-2
padding): on a clip repeating one photo the inflated network equals the 2-D network. The inflation is
exact; in float32 the difference through 52 layers is float32 rounding (about 1e-6 of the largest
logit: 2.7e-5 at logits of 27.6, the study's number), so the exactness is checked in float64, where
it is rounding of order 1e-12 (that the inflated filters read time, a shifted frame changing the
output, is checked on the small convnet in test_video_models.py and measured by the study)."""

import numpy as np

from cs231n_jax.pretrained import networks
from cs231n_jax.studies.video import inflated_logits


def test_inflated_pretrained_mobilenet_equals_the_2d_network_in_float64():
  net = networks.load("mobilenet_v2")
  x = np.asarray(networks.preprocess("mobilenet_v2", networks.photo("chelsea", 64)[None]))
  want, got = inflated_logits(net, x, frames=3, time=3, float64=True, shifted=False)
  assert np.abs(want).max() > 5  # a real prediction, not a trivially small output
  assert np.abs(got - want).max() < 1e-9  # exact up to float64 rounding (the goal's bound is 1e-5)
