"""The Vision Transformer: registry, shapes, the patch embedding, initial logits, bad input."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from cs231n_jax.config import load_config
from cs231n_jax.errors import ConfigError
from cs231n_jax.models import count_params, get_model, list_models


def test_registered_sizes_and_parameter_counts():
  assert {"vit_tiny", "vit_small"} <= set(list_models())
  # vit_tiny: patch embedding 2*2*1*64 + 64, class token 64, positions 17*64, four blocks of
  # (4 * (64*64 + 64) attention + 2 * 128 layer norm + 64*128 + 128 + 128*64 + 64 MLP), final norm
  # 128, head 64*10 + 10.
  block = 4 * (64 * 64 + 64) + 2 * 128 + (64 * 128 + 128) + (128 * 64 + 64)
  assert count_params("vit_tiny") == (4 * 64 + 64) + 64 + 17 * 64 + 4 * block + 128 + 650
  shape = jax.eval_shape(lambda: get_model("vit_small").apply(
      get_model("vit_small").init(jax.random.key(0), jnp.zeros((1, 32, 32, 3))), jnp.zeros((2, 32, 32, 3))))
  assert shape.shape == (2, 10)


def test_initial_logits_are_zero_and_the_patch_embedding_is_a_linear_map_of_patches():
  x = jax.random.normal(jax.random.key(1), (3, 8, 8, 1))
  model = get_model("vit_tiny")
  variables = jax.jit(model.init)(jax.random.key(2), x)
  logits = jax.jit(model.apply)(variables, x)
  np.testing.assert_array_equal(logits, 0.0)  # zero head: first loss is ln 10
  kernel = variables["params"]["patch_embedding"]["kernel"]  # (2, 2, 1, 64)
  bias = variables["params"]["patch_embedding"]["bias"]
  patches = x.reshape(3, 4, 2, 4, 2, 1).transpose(0, 1, 3, 2, 4, 5).reshape(3, 16, 4)  # row-major patches
  by_hand = patches @ kernel.reshape(4, 64) + bias
  conv = jax.lax.conv_general_dilated(x, kernel, (2, 2), "VALID", dimension_numbers=("NHWC", "HWIO", "NHWC"))
  np.testing.assert_allclose(conv.reshape(3, 16, 64) + bias, by_hand, atol=1e-5)


def test_mean_pool_and_dropout_only_when_training():
  x = jax.random.normal(jax.random.key(3), (2, 8, 8, 1))
  model = get_model("vit_tiny", pool="mean", num_layers=1, dropout_rate=0.5, positional="sinusoidal")
  variables = model.init(jax.random.key(4), x)
  assert "cls_token" not in variables["params"]
  head = variables["params"]["head"]
  variables["params"]["head"] = {"kernel": jax.random.normal(jax.random.key(6), head["kernel"].shape), "bias": head["bias"]}

  @jax.jit
  def run(key):
    return (model.apply(variables, x, train=False), model.apply(variables, x, train=False),
            model.apply(variables, x, train=True, rngs={"dropout": key}))

  a, b, c = run(jax.random.key(5))
  np.testing.assert_array_equal(a, b)
  assert float(jnp.abs(a - c).max()) > 1e-4


def test_config_loads_and_names_the_model():
  c = load_config("experiments/configs/cnn/vit_digits.py")
  assert c.model.name == "vit_tiny" and c.data.view == "8x8x1" and c.runner == "cs231n_jax.tasks.classification:run"


@pytest.mark.parametrize("kwargs,shape,exc,pattern", [
    ({"patch_size": 3}, (1, 8, 8, 1), ConfigError, "model.patch_size: 3 must divide the image size 8x8"),
    ({"pool": "max"}, (1, 8, 8, 1), ConfigError, "model.pool"),
    ({}, (8, 8, 1), ValueError, "NHWC"),
    ({"hidden_dim": 60, "num_heads": 8}, (1, 8, 8, 1), ConfigError, "divisible"),
])
def test_bad_input(kwargs, shape, exc, pattern):
  with pytest.raises(exc, match=pattern):
    get_model("vit_tiny", **kwargs).init(jax.random.key(0), jnp.zeros(shape))
