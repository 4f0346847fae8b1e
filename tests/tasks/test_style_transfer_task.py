"""Fast style transfer on the engine: its steps equal a minimal reference loop (the same jitted
update from the same initial state on the same batches); the transform network's three
normalisations build; conditional instance norm blends two styles' scale and shift linearly;
bad configs are named; finish compares the network with per-image optimisation."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from cs231n_jax.errors import ConfigError
from cs231n_jax.models.registry import family_of, get_model
from cs231n_jax.tasks import style_transfer as ST
from cs231n_jax.train import loop
from cs231n_jax.train.metrics import read_jsonl
from cs231n_jax.train.steps import init_key

KEY = jax.random.PRNGKey(0)
# Shapes and numbers, not speed: compiling without LLVM's optimisation passes is ~8x faster here.
FAST_COMPILE = {"xla_backend_optimization_level": 0}


def small_config(**task):
  c = ST.base_config()
  c.task.update({"image_size": 16, "crops_per_photo": 4, "heldout_crops": 2, "style_size": 24,
                 "train_photos": ("astronaut", "coffee"), "photo_scale": 0.2, **task})
  c.features.channels = (4, 8)
  c.features.style_layers = {"conv1": 1.0, "conv2": 1.0}
  c.model.update(features=4, num_residual=0)
  c.baseline.update(num_images=1, num_steps=5, blend_steps=3)
  c.train.update(batch_size=4, num_steps=3, eval_every=3, log_every=1, eval_batch_size=4, progress=False)
  return c


def test_engine_steps_equal_a_reference_loop_and_finish_compares_with_optimisation(tmp_path):
  config = small_config()
  task, data, _, _ = ST.build(config)
  results = loop.fit(task, data, config, tmp_path)
  got = [r["loss"] for r in read_jsonl(tmp_path / "metrics.jsonl") if r["split"] == "train"]
  _, data2, _, _ = ST.build(config, with_finish=False)
  state = task.init(init_key(config.seed), data2.example)
  step = jax.jit(task.train_step)
  expected = []
  for i in range(3):
    state, metrics = step(state, next(data2.train), jax.random.fold_in(KEY, i))
    expected.append(float(metrics["loss"]))
  np.testing.assert_allclose(got, expected, rtol=1e-5)
  c = results["comparison"]
  assert c["fast_loss"] > 0 and c["optimisation_loss"] > 0 and c["speedup"] > 0 and c["compared_images"] == 1
  assert np.isclose(c["loss_ratio"], c["fast_loss"] / c["optimisation_loss"])
  assert (tmp_path / "style_examples.png").exists() and np.isfinite(results["test_loss"])


def test_the_three_normalisations_build_and_the_net_is_registered():
  x = jnp.zeros((2, 16, 16, 3))
  for norm in ("batch", "instance", "conditional_instance"):
    model = get_model("style_transform_net", features=4, num_residual=1, norm=norm, num_styles=2)

    def init_apply(k, x, m=model):
      variables = m.init(k, x, jnp.ones((2, 2)) / 2)
      return variables, m.apply(variables, x + 0.5, jnp.ones((2, 2)) / 2, train=False)

    variables, out = jax.jit(init_apply).lower(KEY, x).compile(compiler_options=FAST_COMPILE)(KEY, x)
    assert ("batch_stats" in variables) == (norm == "batch")
    assert out.shape == x.shape and float(out.min()) >= 0 and float(out.max()) <= 1
  # output="residual" starts from the input: with the last conv zeroed the network is the identity
  model = get_model("style_transform_net", features=4, num_residual=1, norm="instance", output="residual")
  y = jax.random.uniform(KEY, x.shape)

  def zeroed_apply(k, y, m=model):
    variables = m.init(k, y)
    params = {**variables["params"], "out_conv": jax.tree.map(jnp.zeros_like, variables["params"]["out_conv"])}
    return m.apply({**variables, "params": params}, y)

  np.testing.assert_array_equal(np.asarray(jax.jit(zeroed_apply).lower(KEY, y).compile(compiler_options=FAST_COMPILE)(KEY, y)),
                                np.asarray(y))
  assert family_of("style_transform_net") == "vis"
  with pytest.raises(ValueError, match="images: height and width must be multiples of 4"):
    model.init(KEY, jnp.zeros((1, 10, 10, 3)))


def test_conditional_instance_norm_blends_scale_and_shift_linearly():
  from cs231n_jax.vis.style_networks import ConditionalInstanceNorm

  norm = ConditionalInstanceNorm(2)
  x = jax.random.normal(KEY, (1, 5, 5, 3))
  params = {"params": {"scale": jnp.array([[1.0, 2.0, 3.0], [3.0, 0.5, 1.0]]), "bias": jnp.array([[0.0, 1.0, 2.0], [4.0, 0.0, -1.0]])}}
  xn = (x - x.mean(axis=(1, 2), keepdims=True)) / jnp.sqrt(x.var(axis=(1, 2), keepdims=True) + 1e-5)
  for a in (0.0, 0.3, 1.0):
    y = norm.apply(params, x, jnp.array([[1 - a, a]]))
    gamma = (1 - a) * params["params"]["scale"][0] + a * params["params"]["scale"][1]
    beta = (1 - a) * params["params"]["bias"][0] + a * params["params"]["bias"][1]
    np.testing.assert_allclose(y, xn * gamma + beta, rtol=1e-4, atol=1e-5)


def test_bad_configs_are_named():
  with pytest.raises(ConfigError, match="task.image_size: expected a multiple of 4"):
    ST.check_config(small_config(image_size=18))
  with pytest.raises(ConfigError, match="model.norm: 2 styles need 'conditional_instance'"):
    ST.check_config(small_config(styles=("texture:brick", "texture:grass")))
  with pytest.raises(ConfigError, match="model.output: expected one of"):
    c = small_config()
    c.model.output = "tanh"
    ST.check_config(c)
  with pytest.raises(ConfigError, match="task.styles: expected 'photo:NAME'"):
    ST.load_style("painting:starry_night", 16)
