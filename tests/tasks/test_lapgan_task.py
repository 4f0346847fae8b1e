"""LAPGAN's Laplacian pyramid against NumPy (exact reconstruction), the residual generator's conditioning, and the
runner at a toy size."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from cs231n_jax.errors import ConfigError
from cs231n_jax.tasks import lapgan as L


def test_pyramid_matches_numpy_and_reconstructs_exactly():
  rng = np.random.default_rng(0)
  x = rng.uniform(-1, 1, size=(3, 8, 8, 1))
  with jax.enable_x64(True):
    coarse, res = np.asarray(L.down(jnp.asarray(x))), np.asarray(L.residual(jnp.asarray(x)))
    back = np.asarray(L.reconstruct(jnp.asarray(coarse), jnp.asarray(res)))
    res_coarse = np.asarray(L.down(jnp.asarray(res)))
  ref_coarse = x.reshape(3, 4, 2, 4, 2, 1).mean(axis=(2, 4))
  np.testing.assert_allclose(coarse, ref_coarse, atol=1e-15)
  ref_up = np.kron(ref_coarse[..., 0], np.ones((2, 2)))[..., None]
  np.testing.assert_allclose(res, x - ref_up, atol=1e-15)
  np.testing.assert_allclose(back, x, atol=1e-15)  # up(down(x)) + h = x
  np.testing.assert_allclose(res_coarse, 0.0, atol=1e-15)  # the residual has no coarse part


def test_residual_generator_reads_the_coarse_image_and_the_runner_judges_samples(tmp_path):
  config = L.base_config()
  config.model.hidden = (16,)
  config.model.latent_dim = 4
  config.eval.num_samples = 50
  config.train.num_steps = 4
  config.train.log_every = 2
  config.train.checkpoint_every = 4
  config.train.progress = False
  nets = L.Nets((8, 8, 1), 4, (16,))
  task = L.lapgan_task(nets, __import__("optax").sgd(0.0), (8, 8, 1))
  state = task.init(jax.random.key(0), None)
  z = jnp.ones((2, 4))
  a = nets.res(state["params"]["g1"], z, jnp.zeros((2, 8, 8, 1)))
  b = nets.res(state["params"]["g1"], z, jnp.ones((2, 8, 8, 1)))
  assert float(jnp.abs(a - b).max()) > 0
  r = L.run(config, str(tmp_path))
  assert 0.1 <= r["sample_judge_confidence"] <= 1 and 0 <= r["sample_class_entropy"] <= r["uniform_class_entropy"] + 1e-9
  assert r["real_test_judge_confidence"] > 0.8
  assert (tmp_path / "lapgan_samples.png").stat().st_size > 0
  config.model.latent_dim = 0
  with pytest.raises(ConfigError, match="model.latent_dim"):
    L.run(config, str(tmp_path / "bad"))
