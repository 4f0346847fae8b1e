"""3-D shape classification (PointNet on point clouds, a 3-D CNN on voxels) as the classification
task on the 3-D shape set.

The objective, the step, the evaluation and the best-state rule are
:mod:`cs231n_jax.tasks.classification`'s, unchanged (its batches are ``{"image", "label", "mask"}``
with any example shape: here point clouds (N, 3) or voxel grids (R, R, R, 1)). This module adds what
is specific: the data set (:mod:`cs231n_jax.data.shapes3d`), and at the end of a run the best
parameters' test accuracy under point dropout and Gaussian point noise (the corrupted clouds
voxelized again for the 3-D CNN), and the cost of one train step and its compile time.
"""

from __future__ import annotations

import dataclasses
import time
from typing import Any, Callable

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from cs231n_jax import optim
from cs231n_jax.data import shapes3d
from cs231n_jax.errors import ConfigError
from cs231n_jax.tasks import classification
from cs231n_jax.train import loop, report

RUNNER = "cs231n_jax.tasks.point_cloud:run"
ROTATIONS = ("", "so3", "z")


def base_config() -> ml_collections.ConfigDict:
  """Every field a point-cloud / voxel classification run reads."""
  c = classification.base_config()
  c.runner = RUNNER
  c.data = ml_collections.ConfigDict({
      "name": "shapes3d", "representation": "points",  # or "surface_voxels" / "voxels"
      "seed": 0, "train_per_class": 80, "val_per_class": 20, "test_per_class": 40,
      "num_points": 512, "resolution": 24, "max_tilt": float(np.pi), "scale": (0.75, 0.95), "max_shift": 0.05,
      "augment": "", "workers": 0, "prefetch": 2,
      # random rotation of every training cloud at every step, on the device: "" (none), "so3" (uniform
      # over rotations: the shape set's own pose distribution when max_tilt = pi) or "z" (about the up axis)
      "rotate": "",
  })
  c.model = ml_collections.ConfigDict({"name": "pointnet"})
  c.optimizer = optim.default_config("adam", 1e-3)
  c.optimizer.eps = 1e-8
  c.train.update({"batch_size": 32, "num_epochs": 30, "eval_batch_size": 240, "log_every": 20})
  # test accuracy of the best parameters under corruption of the test clouds
  c.robustness = ml_collections.ConfigDict({"dropout": (0.5, 0.9), "noise": (0.01, 0.03), "seed": 0})
  # steady-state train steps timed after the run (and the step's compile time); 0 = not measured
  c.timing = ml_collections.ConfigDict({"steps": 10})
  return c


def drop_points(rng: np.random.Generator, clouds: np.ndarray, fraction: float) -> np.ndarray:
  """Remove ``fraction`` of every cloud's points, replacing them by copies of kept points (PointNet's
  protocol: the cloud keeps its size, and a max-pool is blind to duplicates)."""
  if not 0.0 <= fraction < 1.0:
    raise ConfigError(f"robustness.dropout: expected fractions in [0, 1), got {fraction}")
  n = clouds.shape[1]
  keep = max(1, int(round(n * (1 - fraction))))
  out = np.empty_like(clouds)
  for i, c in enumerate(clouds):
    kept = c[rng.permutation(n)[:keep]]
    out[i] = kept[np.arange(n) % keep]
  return out


def add_noise(rng: np.random.Generator, clouds: np.ndarray, sigma: float) -> np.ndarray:
  return (clouds + sigma * rng.standard_normal(clouds.shape)).astype(np.float32)


def step_cost(step: Callable, state, batch, repeats: int) -> dict[str, float]:
  """Compile time of ``step`` (lowering + XLA compilation, seconds) and its steady-state time per
  call (milliseconds, the median of ``repeats``)."""
  key = jax.random.key(0)
  jitted = jax.jit(step)
  t0 = time.perf_counter()
  compiled = jitted.lower(state, batch, key).compile()
  compile_s = time.perf_counter() - t0
  jax.block_until_ready(compiled(state, batch, key))
  times = []
  for i in range(repeats):
    t0 = time.perf_counter()
    jax.block_until_ready(compiled(state, batch, jax.random.fold_in(key, i)))
    times.append(time.perf_counter() - t0)
  return {"compile_s": compile_s, "step_ms": 1e3 * float(np.median(times))}


def random_rotations(key: jax.Array, n: int, mode: str) -> jax.Array:
  """``n`` rotation matrices (n, 3, 3): uniform on SO(3) (``"so3"``: the Q factor of a Gaussian
  matrix with its signs fixed, determinant +1) or about the z axis (``"z"``)."""
  if mode == "so3":
    q, r = jnp.linalg.qr(jax.random.normal(key, (n, 3, 3)))
    q = q * jnp.sign(jnp.diagonal(r, axis1=-2, axis2=-1))[:, None, :]  # Haar-uniform on O(3)
    return q * jnp.linalg.det(q)[:, None, None]  # det -1 -> +1: flipping the whole matrix keeps it uniform on SO(3)
  if mode == "z":
    a = jax.random.uniform(key, (n,), minval=-jnp.pi, maxval=jnp.pi)
    c, s, z, o = jnp.cos(a), jnp.sin(a), jnp.zeros((n,)), jnp.ones((n,))
    return jnp.stack([jnp.stack([c, -s, z], -1), jnp.stack([s, c, z], -1), jnp.stack([z, z, o], -1)], -2)
  raise ConfigError(f"data.rotate: expected one of {ROTATIONS}, got {mode!r}")


def on_device_inputs(task, rotate: str, resolution: int | None):
  """``task`` with its batches' clouds rotated at random in training (``rotate``) and, with a
  ``resolution``, voxelized on the device (so the 3-D CNN sees every rotated cloud voxelized again)."""
  voxelize = (lambda x: shapes3d.clouds_to_voxels(x, resolution)) if resolution else (lambda x: x)  # noqa: E731

  def init(key, example):
    return task.init(key, {**example, "image": voxelize(jnp.asarray(example["image"]))})

  def train_step(state, batch, key, axis_name=None):
    x = batch["image"]
    if rotate:
      k_rot, key = jax.random.split(key)
      x = jnp.einsum("bni,bji->bnj", x, random_rotations(k_rot, x.shape[0], rotate))
    return task.train_step(state, {**batch, "image": voxelize(x)}, key, axis_name)

  def eval_step(state, batch):
    return task.eval_step(state, {**batch, "image": voxelize(batch["image"])})

  return dataclasses.replace(task, init=init, train_step=train_step, eval_step=eval_step)


def robustness(state, config: ml_collections.ConfigDict) -> dict[str, float]:
  """Test accuracy of ``state``'s model on the clean test clouds and under each dropout fraction and
  noise level of ``config.robustness``."""
  d = config.data
  clouds, labels = shapes3d.split_clouds(d, "test")
  rng = np.random.default_rng(config.robustness.seed)

  @jax.jit
  def predict(x):
    logits, _, _ = classification.apply_model(state, state.params, x, False, state.rng)
    return jnp.argmax(logits, -1)

  def accuracy(c):
    x = jnp.asarray(c)
    if d.representation == "surface_voxels":
      x = shapes3d.clouds_to_voxels(x, int(d.resolution))
    elif d.representation != "points":
      raise ConfigError(f"data.representation: corruption tests need 'points' or 'surface_voxels', got {d.representation!r}")
    preds = np.concatenate([np.asarray(predict(x[i:i + 240])) for i in range(0, len(labels), 240)])
    return float(np.mean(preds == labels))

  out = {"robust/clean": accuracy(clouds)}
  for f in config.robustness.dropout:
    out[f"robust/dropout_{f}"] = accuracy(drop_points(rng, clouds, f))
  for s in config.robustness.noise:
    out[f"robust/noise_{s}"] = accuracy(add_noise(rng, clouds, s))
  return out


def build(config: ml_collections.ConfigDict, with_report: bool = False):
  """``(task, data, dataset)``: the classification task on the shape set."""
  classification.check_config(config)
  if config.data.get("name") != "shapes3d":
    raise ConfigError(f"data.name: the point-cloud task reads 'shapes3d', got {config.data.get('name')!r}")
  t = config.train
  rotate = config.data.get("rotate", "")
  if rotate not in ROTATIONS:
    raise ConfigError(f"data.rotate: expected one of {ROTATIONS}, got {rotate!r}")
  # a 3-D CNN with rotated clouds reads the clouds and voxelizes them on the device
  device_voxels = bool(rotate) and config.data.representation == "surface_voxels"
  dataset = shapes3d.load({**config.data, "representation": "points"} if device_voxels else config.data)
  data = classification.classification_data(dataset, config)
  num_steps = loop.total_steps(t, data.train.steps_per_epoch)
  model = classification.build_model(config.model, dataset.num_classes, t.compute_dtype)
  tx = optim.make_optimizer(config.optimizer, num_steps)
  task = None

  def finish(state, evals, workdir):
    extra = {}
    if config.data.representation in ("points", "surface_voxels"):
      extra.update(robustness(state, config))
    n = t.batch_size
    batch = {"image": dataset.train.images[:n], "label": dataset.train.labels[:n], "mask": np.ones((n,), np.float32)}
    if config.timing.steps:
      extra.update(step_cost(task.train_step, state, batch, config.timing.steps))
    if jax.process_index() == 0:
      print(report.summary_table([("model", config.model.name), ("data", dataset.name), ("steps", num_steps),
                                  ("test accuracy", evals["test"]["accuracy"]), *sorted(extra.items()),
                                  ("workdir", str(workdir))]))
    return extra

  task = classification.classification_task(model, tx, finish=finish if with_report else None)
  if rotate or device_voxels:
    task = on_device_inputs(task, rotate, int(config.data.resolution) if device_voxels else None)
  return task, data, dataset


def run(config: ml_collections.ConfigDict, workdir: str) -> dict[str, Any]:
  """Train ``config.model`` on the 3-D shape set in ``workdir``; returns the final results (with the
  robustness accuracies, the step cost and the compile time)."""
  task, data, _ = build(config, with_report=True)
  return loop.fit(task, data, config, workdir)


def evaluate(config: ml_collections.ConfigDict, workdir: str, split: str = "test") -> dict[str, Any]:
  task, data, _ = build(config)
  return loop.evaluate_run(task, data, config, workdir, split)
