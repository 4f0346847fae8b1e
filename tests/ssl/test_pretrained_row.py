"""The pretrained network's probe row: bad input is named before any network is loaded."""

import numpy as np
import pytest

from cs231n_jax.studies import ssl_probe


def test_pretrained_features_reject_bad_input():
  with pytest.raises(ValueError, match="pretrained: expected NHWC grey or RGB images, got shape \\(2, 8, 8\\)"):
    ssl_probe.pretrained_features("efficientnet_lite0", np.zeros((2, 8, 8)), 64)
  with pytest.raises(ValueError, match="pretrained.size: expected an integer >= 32, got 16"):
    ssl_probe.pretrained_features("efficientnet_lite0", np.zeros((2, 8, 8, 1)), 16)
  c = ssl_probe.pretrained_config()
  assert c.runner == "cs231n_jax.studies.ssl_probe:run_pretrained" and c.pretrained.name == "efficientnet_lite0"
