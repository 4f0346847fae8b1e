"""The video study helpers: the direction-selectivity index of first-layer 3-D filters; stopping on preemption."""

import numpy as np

from cs231n_jax.studies.video import direction_selectivity, shifted


def test_a_filter_moving_right_is_selective_and_a_static_one_is_not():
  rng = np.random.default_rng(0)
  base = np.zeros((5, 9))
  base[:, 2:4] = rng.normal(size=(5, 2))
  moving = np.stack([shifted(base, t) for t in range(4)])  # one column right per frame
  static = np.stack([base] * 4)
  kernel = np.stack([moving, static, moving[::-1]], axis=-1)[:, :, :, None, :]  # (kt, kh, kw, 1, 3)
  prefs, dsi = direction_selectivity(kernel)
  assert prefs[0] == 1 and dsi[0] > 0.9
  assert abs(dsi[1]) < 1e-9  # equal response to both directions
  assert prefs[2] == -1 and dsi[2] > 0.9


def test_shifted_moves_columns_with_zeros():
  a = np.arange(6.0).reshape(2, 3)
  np.testing.assert_array_equal(shifted(a, 1), [[0, 0, 1], [0, 3, 4]])
  np.testing.assert_array_equal(shifted(a, -2), [[2, 0, 0], [5, 0, 0]])
