"""Pretext tasks: rotations and tile shuffles against NumPy, the fixed permutation set, bad configs."""

import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from cs231n_jax.errors import ConfigError
from cs231n_jax.tasks import pretext


def test_rotations_and_tile_shuffles_match_numpy():
  rng = np.random.default_rng(0)
  x = rng.normal(size=(5, 8, 8, 2)).astype(np.float32)
  k = np.array([0, 1, 2, 3, 1])
  got = pretext.rotate_by(jnp.asarray(x), jnp.asarray(k))
  np.testing.assert_array_equal(got, np.stack([np.rot90(x[i], k[i], axes=(0, 1)) for i in range(5)]))

  grid, tile = pretext.to_grid(jnp.asarray(x))
  assert grid.shape == (5, 9, 9, 2) and tile == 3
  np.testing.assert_array_equal(grid[:, :8, :8], x)
  perm = np.array([8, 0, 1, 2, 3, 4, 5, 6, 7])
  out = np.asarray(pretext.shuffle_tiles(grid[0], jnp.asarray(perm), 3))
  g = np.asarray(grid[0])
  for pos in range(9):
    src = perm[pos]
    np.testing.assert_array_equal(out[3 * (pos // 3):3 * (pos // 3) + 3, 3 * (pos % 3):3 * (pos % 3) + 3],
                                  g[3 * (src // 3):3 * (src // 3) + 3, 3 * (src % 3):3 * (src % 3) + 3])


def test_jigsaw_permutation_set_is_fixed_distinct_and_spread():
  a = pretext.jigsaw_permutations(30, seed=0)
  np.testing.assert_array_equal(a, pretext.jigsaw_permutations(30, seed=0))
  assert a.shape == (30, 9) and len({tuple(p) for p in a}) == 30
  assert all(sorted(p) == list(range(9)) for p in a)
  dmin = min(int(np.sum(p != q)) for p, q in itertools.combinations(a, 2))
  assert dmin >= 6  # greedy max-min Hamming: far apart (random pairs of permutations average 8 of 9)
  images = jnp.zeros((4, 8, 8, 1))
  x, labels = pretext.pretext_batch("jigsaw", jax.random.PRNGKey(0), images, jnp.asarray(a))
  assert x.shape == (4, 9, 9, 1) and labels.shape == (4,) and int(labels.max()) < 30
  with pytest.raises(ConfigError, match="jigsaw.num_permutations"):
    pretext.jigsaw_permutations(1)
  c = pretext.base_config()
  c.method = "colour"
  with pytest.raises(ConfigError, match="method: expected one of \\('rotation', 'jigsaw'\\)"):
    pretext.build(c)
