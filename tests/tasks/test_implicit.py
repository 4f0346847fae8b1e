"""The occupancy and NeRF tasks on the engine: the engine's steps equal a minimal reference loop
(the same jitted update, batches and step keys), and tiny runs learn."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from cs231n_jax.errors import ConfigError
from cs231n_jax.geometry import rendering
from cs231n_jax.tasks import implicit
from cs231n_jax.train import loop
from cs231n_jax.train.metrics import read_jsonl
from cs231n_jax.train.steps import engine_state, init_key


def occupancy_config():
  c = implicit.occupancy_config()
  c.data.update(train_per_class=1, val_per_class=1, test_per_class=1, num_points=32, queries=128, queries_per_step=32,
                eval_points=256)
  c.model.update(code_size=16, encoder_features=(16, 32), decoder=(32, 32))
  c.train.update(batch_size=4, num_steps=4, eval_every=4, log_every=1, eval_batch_size=12, progress=False)
  c.timing.steps = 2
  return c


def nerf_config():
  c = implicit.nerf_config()
  c.data.update(image_size=16, train_views=8, test_views=1)
  c.render.update(coarse_samples=8, fine_samples=16)
  c.model.update(num_frequencies=3, width=32, depth=2, skip=1)
  c.optimizer.learning_rate = 1e-2
  c.train.update(batch_size=128, num_steps=120, eval_every=120, log_every=1, eval_batch_size=256, progress=False)
  c.timing.steps = 0  # the step cost is measured (and tested) in the occupancy run: the same helper
  c.diagnostics.ceiling_samples = (8,)
  return c


def reference_losses(config, steps):
  task, data, _ = implicit.build(config)
  state = task.init(init_key(config.seed), data.example)
  rng = engine_state(None, config.seed)["rng"]
  step = jax.jit(task.train_step)
  out = []
  for i in range(steps):
    state, metrics = step(state, next(data.train), jax.random.fold_in(rng, i))
    out.append(float(metrics["loss"]))
  return out


def test_occupancy_engine_steps_equal_a_reference_loop(tmp_path):
  config = occupancy_config()
  task, data, _ = implicit.build(config, with_report=True)
  results = loop.fit(task, data, config, tmp_path)
  got = [r["loss"] for r in read_jsonl(tmp_path / "metrics.jsonl") if r["split"] == "train"]
  np.testing.assert_allclose(got, reference_losses(config, 4), rtol=1e-5)
  assert 0.0 <= results["test_iou"] <= 1.0 and results["compile_s"] > 0 and results["step_ms"] > 0


def test_nerf_learns_a_tiny_scene(tmp_path):
  config = nerf_config()
  task, data, _ = implicit.build(config, with_report=True)
  results = loop.fit(task, data, config, tmp_path)
  psnr = [r["psnr"] for r in read_jsonl(tmp_path / "metrics.jsonl") if r["split"] == "train"]
  assert np.mean(psnr[-10:]) > np.mean(psnr[:10]) + 3.0  # fitting the views
  # held out: better than painting the background everywhere (what an untrained NeRF renders)
  truth = np.asarray(implicit.nerf_views(config.data)["test"][0])
  background_psnr = -10 * np.log10(np.mean((truth - 1.0) ** 2))
  assert results["val_psnr"] > background_psnr + 1.0, (results["val_psnr"], background_psnr)
  assert results["render_s_per_image"] > 0 and "compile_s" not in results
  assert (tmp_path / "nerf_test_renders.npy").exists()
  # the diagnostics: the exact field at 8 samples, and the error's share on edge pixels
  assert background_psnr < results["exact_field_psnr_8_samples"] < 100.0
  assert 0.0 < results["edge_pixel_fraction"] < 1.0 and 0.0 <= results["edge_error_share"] <= 1.0
  # the exact field with this run's hierarchical sampling (8 + 16) beats its 8 coarse samples alone (measured: 14.6 -> 19.8 dB)
  assert results["exact_field_psnr_8_plus_16_hierarchical"] > results["exact_field_psnr_8_samples"] + 3.0
  np.testing.assert_allclose(reference_losses(config, 3),
                             [r["loss"] for r in read_jsonl(tmp_path / "metrics.jsonl") if r["split"] == "train"][:3], rtol=1e-5)


def test_hierarchical_step_trains_each_network_on_its_own_loss():
  """One step of plain gradient descent (lr 1): the coarse network moves by the gradient of the coarse colours'
  MSE alone, the fine network by that of the fine colours' MSE (the fine samples carry no gradient into the
  coarse weights), both losses from the paper's sum; the logged loss is the fine MSE."""
  config = nerf_config()  # the learning test's views (cached)
  _, data, model = implicit.build(config)
  r, d = config.render, config.data
  background = jnp.asarray(rendering.default_scene().background, jnp.float32)
  task = implicit.nerf_task(model, optax.sgd(1.0), r, d.near, d.far, background)
  state = task.init(jax.random.key(0), data.example)
  batch = {k: jnp.asarray(v) for k, v in next(data.train).items()}
  key = jax.random.key(3)
  new, metrics = jax.jit(task.train_step)(state, batch, key)

  def mse(params, which):
    coarse, fine = implicit.render_rays(model, params, batch, key, r, d.near, d.far, background, True)
    out = coarse if which == "coarse" else fine
    return jnp.sum(jnp.mean((out - batch["rgb"]) ** 2, -1) * batch["mask"]) / jnp.sum(batch["mask"])

  grads = jax.jit(lambda p: {w: jax.grad(mse)(p, w)[w] for w in ("coarse", "fine")})(state["params"])
  for which, grad in grads.items():
    moved = jax.tree.map(lambda a, b: a - b, state["params"][which], new["params"][which])
    jax.tree.map(lambda g, m: np.testing.assert_allclose(m, g, rtol=2e-3, atol=1e-6), grad, moved)
    assert max(float(jnp.abs(g).max()) for g in jax.tree.leaves(grad)) > 1e-4  # the loss reaches every network
  np.testing.assert_allclose(float(metrics["loss"]), float(jax.jit(mse, static_argnums=1)(state["params"], "fine")), rtol=1e-5)


def test_bad_configs_are_one_line_errors():
  c = nerf_config()
  c.kind = "mesh"
  with pytest.raises(ConfigError, match="kind: expected one of"):
    implicit.build(c)
  c = nerf_config()
  c.data.near = 5.0
  with pytest.raises(ConfigError, match="data.near, data.far"):
    implicit.build(c)
