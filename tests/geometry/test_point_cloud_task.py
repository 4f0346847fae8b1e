"""PointNet and the voxel CNN through the classification task on the shape set: a tiny run reports
test accuracy, accuracy under point dropout and noise, the step cost and the compile time."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from cs231n_jax.errors import ConfigError
from cs231n_jax.tasks import point_cloud
from cs231n_jax.train import loop


def tiny(representation, model):
  c = point_cloud.base_config()
  c.data.update(representation=representation, train_per_class=3, val_per_class=1, test_per_class=1, num_points=64,
                resolution=8)
  c.model = point_cloud.ml_collections.ConfigDict(model)
  c.robustness.update(dropout=(0.5,), noise=(0.05,))
  c.timing.steps = 2
  c.train.update(batch_size=12, num_epochs=0, num_steps=6, eval_every=6, log_every=2, eval_batch_size=12, progress=False)
  return c


@pytest.mark.parametrize("representation,model,rotate", [
    ("points", {"name": "pointnet", "features": (16, 32), "head": (16,)}, "z"),
    # rotated clouds for a 3-D CNN: the data are clouds, voxelized on the device in every step
    ("surface_voxels", {"name": "voxel_cnn", "features": (4, 8), "hidden": 16}, "so3"),
])
def test_a_tiny_run_reports_robustness_and_cost(tmp_path, representation, model, rotate):
  config = tiny(representation, model)
  config.data.rotate = rotate
  config.timing.steps = 2 if representation == "surface_voxels" else 0  # the step cost measured in one of the two
  task, data, _ = point_cloud.build(config, with_report=True)
  results = loop.fit(task, data, config, tmp_path)
  for key in ("robust/clean", "robust/dropout_0.5", "robust/noise_0.05", "test_accuracy"):
    assert 0.0 <= results[key] <= 1.0, key
  # the clean robustness accuracy is the engine's test accuracy (the same test clouds and parameters)
  np.testing.assert_allclose(results["robust/clean"], results["test_accuracy"], atol=1e-6)
  if config.timing.steps:
    assert results["compile_s"] > 0 and results["step_ms"] > 0
  else:  # timing.steps = 0: the step is not compiled a second time to be timed
    assert "compile_s" not in results and "step_ms" not in results


def test_drop_points_keeps_the_cloud_size_and_only_its_points():
  rng = np.random.default_rng(0)
  clouds = rng.normal(size=(2, 10, 3)).astype(np.float32)
  dropped = point_cloud.drop_points(rng, clouds, 0.7)
  assert dropped.shape == clouds.shape
  for c, d in zip(clouds, dropped):
    assert len(np.unique(d, axis=0)) == 3 and all((p == c).all(1).any() for p in d)
  with pytest.raises(ConfigError, match="robustness.dropout"):
    point_cloud.drop_points(rng, clouds, 1.0)


def test_random_rotations():
  r = point_cloud.random_rotations(jax.random.key(0), 20_000, "so3")
  np.testing.assert_allclose(jnp.einsum("nij,nkj->nik", r, r), np.broadcast_to(np.eye(3), r.shape), atol=1e-5)
  np.testing.assert_allclose(jnp.linalg.det(r), 1.0, atol=1e-5)
  # uniform on SO(3): E[R] = 0 (each entry's standard error 0.004 here), and every axis goes everywhere
  assert float(jnp.max(jnp.abs(r.mean(0)))) < 0.02
  np.testing.assert_allclose(jnp.mean(r[:, :, 2] ** 2, 0), [1 / 3] * 3, atol=0.02)
  z = point_cloud.random_rotations(jax.random.key(1), 100, "z")
  np.testing.assert_allclose(z[:, 2], np.broadcast_to([0.0, 0.0, 1.0], (100, 3)), atol=1e-6)
  np.testing.assert_allclose(jnp.linalg.det(z), 1.0, atol=1e-5)
  with pytest.raises(ConfigError, match="data.rotate: expected one of"):
    point_cloud.random_rotations(jax.random.key(0), 2, "x")
