"""LeNet-5's exact parameter count and shapes; the highway classifier and its plain twin."""

import jax
import jax.numpy as jnp
import numpy as np

from cs231n_jax.models import count_params, get_model


def _size(tree):
  return sum(np.size(a) for a in jax.tree_util.tree_leaves(tree))
from cs231n_jax.models.lenet import PARAMETERS_32x32x1


def test_lenet5_parameters_and_shapes():
  model = get_model("lenet5")
  x = jnp.zeros((2, 32, 32, 1))
  v = model.init(jax.random.key(0), x)
  # 6*(25+1) + 16*(6*25+1) + (400*120+120) + (120*84+84) + (84*10+10)
  assert PARAMETERS_32x32x1 == 156 + 2416 + 48120 + 10164 + 850 == 61706
  assert _size(v["params"]) == count_params("lenet5") == PARAMETERS_32x32x1
  assert model.apply(v, x).shape == (2, 10)
  shapes = jax.eval_shape(lambda: model.apply(v, x, capture_intermediates=True, mutable=["intermediates"]))[1]
  assert shapes["intermediates"]["C1"]["__call__"][0].shape == (2, 28, 28, 6)
  assert shapes["intermediates"]["C3"]["__call__"][0].shape == (2, 10, 10, 16)
  # On the CIFAR-shaped 32x32x3 view only C1 grows: 6*(75+1) = 456.
  v3 = model.init(jax.random.key(0), jnp.zeros((1, 32, 32, 3)))
  assert _size(v3["params"]) == PARAMETERS_32x32x1 + 300


def test_highway_net_and_plain_twin_have_the_same_shape():
  x = jnp.ones((3, 8, 8, 1))
  hw, plain = get_model("highway_mlp", depth=4, width=16), get_model("highway_mlp", depth=4, width=16, plain=True)
  vh, vp = hw.init(jax.random.key(0), x), plain.init(jax.random.key(0), x)
  assert hw.apply(vh, x).shape == plain.apply(vp, x).shape == (3, 10)
  # Each highway layer has two D x D maps (H and T); a plain layer one.
  assert _size(vh["params"]) - _size(vp["params"]) == 4 * (16 * 16 + 16)
