"""The real optical-flow estimators standing in for Brox-Malik (scikit-image's TV-L1 and iterative
Lucas-Kanade) against known displacements: a smooth blob moved by a known shift, and E1's clips against
the generator's ground truth."""

import numpy as np
import pytest

from cs231n_jax.data.clips import shape_sprite
from cs231n_jax.errors import ConfigError
from cs231n_jax.video.flow import endpoint_error, estimate_flow


def blob_clip(shift, frames=3, size=32):
  yy, xx = np.mgrid[:size, :size].astype(np.float64)
  return np.stack([np.exp(-((yy - 12 - t * shift[0]) ** 2 + (xx - 12 - t * shift[1]) ** 2) / 18.0) for t in range(frames)])


@pytest.mark.parametrize("method", ["ilk", "tvl1"])
def test_estimated_flow_recovers_a_known_shift(method):
  clip = blob_clip((1, 2))
  flow = estimate_flow(clip, method)
  assert flow.shape == (3, 32, 32, 2) and np.all(flow[-1] == 0)
  on_blob = clip[0] > 0.3
  median = np.median(flow[0][on_blob], axis=0)  # (dy, dx): where frame 0's content is in frame 1
  np.testing.assert_allclose(median, [1.0, 2.0], atol=0.35)
  truth = np.broadcast_to(np.array([1.0, 2.0]), flow[0].shape)
  assert endpoint_error(flow[0], truth, on_blob) < 0.5


@pytest.mark.parametrize("speed", [-2, -1, 1, 2])
def test_estimated_flow_keeps_the_sign_of_e1_like_motion(speed):
  """A shape sprite of E1's (8x8 on a 16x16 wrapping canvas, noise 0.05) moving ``speed`` columns per
  frame: iLK's mean horizontal flow on the sprite has the motion's sign (what E4's temporal stream
  reads) and the size of the speed within a pixel."""
  rng = np.random.default_rng(abs(speed))
  canvas = np.zeros((16, 16))
  canvas[4:12, 3:11] = shape_sprite("cross", 8)
  clip = np.stack([np.roll(canvas, speed * t, axis=1) for t in range(4)]) + rng.normal(0, 0.05, (4, 16, 16))
  flow = estimate_flow(clip, "ilk")
  on = canvas > 0.5
  dx = np.stack([flow[t][np.roll(on, speed * t, axis=1)][:, 1] for t in range(3)]).mean()
  assert np.sign(dx) == np.sign(speed) and abs(dx - speed) < 1.0


def test_endpoint_error_is_the_mean_euclidean_distance():
  rng = np.random.default_rng(0)
  a, b = rng.normal(size=(4, 5, 2)), rng.normal(size=(4, 5, 2))
  mask = rng.random((4, 5)) > 0.5
  want = np.mean([np.hypot(*(a[i, j] - b[i, j])) for i, j in zip(*np.nonzero(mask))])
  assert endpoint_error(a, b, mask) == pytest.approx(want)


def test_bad_flow_input_is_named():
  with pytest.raises(ConfigError, match="data.flow"):
    estimate_flow(np.zeros((3, 8, 8)), "brox")
  with pytest.raises(ConfigError, match="frames"):
    estimate_flow(np.zeros((3, 8, 8, 1)), "ilk")
