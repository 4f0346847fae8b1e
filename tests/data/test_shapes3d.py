"""The 3-D shape set: 12 classes, deterministic from the seed, every representation consistent with
the exact SDF."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from cs231n_jax.data import shapes3d
from cs231n_jax.errors import DataError
from cs231n_jax.geometry import explicit, sdf


@pytest.fixture(scope="module")
def shapes():
  return shapes3d.make_split(3, 2, 0)


def test_classes_and_determinism(shapes):
  assert shapes3d.NUM_CLASSES >= 10 and len(set(shapes3d.CLASS_NAMES)) == shapes3d.NUM_CLASSES
  assert np.array_equal(np.bincount(shapes.labels), [2] * shapes3d.NUM_CLASSES)
  again = shapes3d.make_split(3, 2, 0)
  assert np.array_equal(again.params, shapes.params) and np.array_equal(again.labels, shapes.labels)
  assert not np.array_equal(shapes3d.make_split(3, 2, 1).params, shapes.params)  # splits differ
  with pytest.raises(DataError, match="data.per_class"):
    shapes3d.make_split(0, 0, 0)


@pytest.fixture(scope="module")
def clouds(shapes):
  return shapes3d.point_clouds(shapes, 128, seed=0)


def test_point_clouds_lie_on_the_surface(shapes, clouds):
  pc = clouds
  assert pc.shape == (len(shapes.labels), 128, 3)
  d = jax.jit(jax.vmap(shapes3d.sdf_values))(jnp.asarray(shapes.params), jnp.asarray(pc))
  assert float(jnp.max(jnp.abs(d))) < 1e-3
  assert np.abs(pc).max() < shapes3d.BOUND
  np.testing.assert_array_equal(pc, shapes3d.point_clouds(shapes, 128, seed=0))
  # the points spread over the surface: no duplicated points
  assert min(len(np.unique(p.round(5), axis=0)) for p in pc) == 128


def test_a_single_sphere_shape_matches_the_sphere_sdf():
  params = shapes3d.sample_params(np.random.default_rng(0), np.array([0]))[0]
  radius = params[1] * params[-1]
  centre = params[-4:-1]
  p = jax.random.uniform(jax.random.key(0), (10_000, 3), minval=-1, maxval=1)
  np.testing.assert_allclose(shapes3d.sdf_values(jnp.asarray(params), p), sdf.sphere(radius)(p - centre), atol=1e-5)


def test_voxels_mesh_and_sdf_samples_agree(shapes, clouds):
  vox = shapes3d.voxel_grids(shapes, 16)
  assert vox.shape == (len(shapes.labels), 16, 16, 16, 1) and set(np.unique(vox)) <= {0.0, 1.0}
  assert (vox.reshape(len(vox), -1).sum(1) > 0).all()
  surface = jnp.asarray(clouds[0])  # the first shape's surface points
  p, values = jax.jit(shapes3d.sdf_samples, static_argnums=(3,))(jnp.asarray(shapes.params[0]), surface, jax.random.key(1), 256)
  assert p.shape == (256, 3) and values.shape == (256,)
  assert 0 < float(jnp.mean(values < 0)) < 1
  # the sphere's mesh encloses the sphere's volume
  params = shapes3d.sample_params(np.random.default_rng(0), np.array([0]))[0]
  v, f = shapes3d.shape_mesh(params, 32)
  exact = 4 / 3 * np.pi * (params[1] * params[-1]) ** 3
  assert abs(float(explicit.mesh_volume(v, f)) / exact - 1) < 0.03


def test_load_as_a_classification_dataset():
  cfg = {"seed": 1, "train_per_class": 2, "val_per_class": 1, "test_per_class": 1, "representation": "voxels",
         "resolution": 8}
  ds = shapes3d.load(cfg)
  assert ds.image_shape == (8, 8, 8, 1) and ds.num_classes == shapes3d.NUM_CLASSES and len(ds.train) == 24
  with pytest.raises(DataError, match="data.representation"):
    shapes3d.load({**cfg, "representation": "mesh"})
