"""Implicit 3-D models as tasks: an occupancy network (Mescheder et al. 2019) and a NeRF
(Mildenhall et al. 2020).

Occupancy (``run_occupancy``): a shape's point cloud -> a code; (query point, code) -> inside /
outside logit, trained by binary cross-entropy on SDF samples of the 3-D shape set (half near the
surface, half uniform; each step draws its own subset of each shape's queries from the step key).
The metric is volume IoU against the exact shape, on uniform points of [-1, 1]³ whose occupancy is
the exact SDF's sign.

NeRF (``run_nerf``): rays of views rendered by the project's sphere tracer over an SDF scene
(:mod:`cs231n_jax.geometry.rendering`: the ground truth is exact), batches of training rays, stratified
coarse samples and optional hierarchical fine samples, MSE on colours. The metric is PSNR over every
pixel of held-out views (pooled MSE); at the end, the render time of one view.

``run`` dispatches on ``config.kind`` ("occupancy" | "nerf").
"""

from __future__ import annotations

import functools
import time
from typing import Any

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax
from etils import epath

from cs231n_jax import optim
from cs231n_jax.data import shapes3d
from cs231n_jax.data.pipeline import ArraySource, BatchIterator, eval_batches
from cs231n_jax.errors import ConfigError
from cs231n_jax.geometry import rendering
from cs231n_jax.models.registry import get_model
from cs231n_jax.tasks.point_cloud import step_cost
from cs231n_jax.train import loop, report
from cs231n_jax.train.steps import mean_over_valid, psum_if
from cs231n_jax.train.task import Data, Task

RUNNER = "cs231n_jax.tasks.implicit:run"
KINDS = ("occupancy", "nerf")


def model_kwargs(block: ml_collections.ConfigDict) -> dict[str, Any]:
  return {k: v for k, v in block.items() if k != "name"}


def positive_ints(config, fields) -> None:
  for block, name in fields:
    v = config[block][name]
    if isinstance(v, bool) or not isinstance(v, int) or v < 1:
      raise ConfigError(f"{block}.{name}: expected a positive integer, got {v!r}")


def engine_parts(config: ml_collections.ConfigDict, train: ArraySource, evals: dict[str, ArraySource]):
  """What both runners hand the engine: ``(Data, num_steps, model, optimizer)`` for a training source and
  named evaluation sources."""
  t = config.train
  it = BatchIterator(train, t.batch_size, seed=config.seed, name="train")
  data = Data(train=it, eval={n: (lambda n=n: eval_batches(evals[n], t.eval_batch_size, name=n)) for n in evals},
              example=train.get_batch(np.arange(1)), batch_size=t.batch_size)
  num_steps = loop.total_steps(t, it.steps_per_epoch)
  model = get_model(config.model.name, **model_kwargs(config.model))
  return data, num_steps, model, optim.make_optimizer(config.optimizer, num_steps)


def timed_step(task: Task, state, train: ArraySource, config: ml_collections.ConfigDict) -> dict[str, float]:
  """Compile time and steady-state cost of the train step on the first training batch (none when
  ``config.timing.steps`` is 0: a second compilation of the step is what measuring costs)."""
  if not config.timing.steps:
    return {}
  n = config.train.batch_size
  batch = {**train.get_batch(np.arange(n)), "mask": np.ones((n,), np.float32)}
  return step_cost(task.train_step, state, batch, config.timing.steps)


# ---------------------------------------------------------------------------------------------
# Occupancy network.
# ---------------------------------------------------------------------------------------------


def occupancy_config() -> ml_collections.ConfigDict:
  c = ml_collections.ConfigDict()
  c.runner = RUNNER
  c.kind = "occupancy"
  c.seed = 0
  c.data = ml_collections.ConfigDict({
      "seed": 0, "train_per_class": 20, "val_per_class": 2, "test_per_class": 4, "num_points": 256,
      "max_tilt": float(np.pi), "scale": (0.75, 0.95), "max_shift": 0.05,
      "queries": 2048, "near_fraction": 0.5, "sigma": 0.05,  # SDF samples per training shape
      "queries_per_step": 512,  # drawn from those for each shape of a batch, from the step key
      "eval_points": 8192,  # uniform points per evaluation shape for the IoU
  })
  c.model = ml_collections.ConfigDict({"name": "occupancy_net", "code_size": 128, "encoder_features": (64, 128, 256),
                                       "decoder": (128, 128, 128)})
  c.optimizer = optim.default_config("adam", 5e-4)
  c.optimizer.eps = 1e-8
  c.train = loop.engine_config()
  c.train.update({"batch_size": 16, "num_steps": 2000, "eval_every": 250, "log_every": 50, "eval_batch_size": 24,
                  "checkpoint_every": 0, "keep_checkpoints": 1})
  c.timing = ml_collections.ConfigDict({"steps": 10})
  return c


def frozen(block: ml_collections.ConfigDict) -> tuple:
  """A hashable copy of a config block's values (the key of the data caches below)."""
  return tuple((k, tuple(v) if isinstance(v, (list, tuple)) else v) for k, v in sorted(block.items()))


@functools.partial(jax.jit, static_argnums=(3, 4, 5))
def training_queries(params, surface, keys, num_points: int, near_fraction: float, sigma: float):
  return jax.vmap(lambda q, s, k: shapes3d.sdf_samples(q, s, k, num_points, near_fraction, sigma))(params, surface, keys)


@functools.partial(jax.jit, static_argnums=(2,))
def uniform_queries(params, keys, num_points: int):
  """Uniform points of [-1, 1]³ per shape and the shape's exact SDF at them."""
  queries = jax.vmap(lambda k: jax.random.uniform(k, (num_points, 3), minval=-1.0, maxval=1.0))(keys)
  return queries, jax.vmap(shapes3d.sdf_values)(params, queries)


def occupancy_split(d: ml_collections.ConfigDict, name: str, train: bool) -> ArraySource:
  """Clouds and queries of a split: SDF samples with labels (training) or uniform points (evaluation)."""
  return _occupancy_split(frozen(d), name, train)


@functools.lru_cache(maxsize=8)
def _occupancy_split(key: tuple, name: str, train: bool) -> ArraySource:
  d = dict(key)
  shapes = shapes3d.split_shapes(d, name)
  clouds, _ = shapes3d.split_clouds(d, name)
  key = jax.random.key(int(d["seed"]) * 104729 + shapes3d.SPLITS.index(name))
  params = jnp.asarray(shapes.params)
  keys = jax.random.split(key, len(params))
  if train:
    surface = jnp.asarray(shapes3d.point_clouds(shapes, 512, int(d["seed"]) + 17))
    queries, values = training_queries(params, surface, keys, int(d["queries"]), float(d["near_fraction"]), float(d["sigma"]))
  else:
    queries, values = uniform_queries(params, keys, int(d["eval_points"]))
  return ArraySource({"cloud": clouds.astype(np.float32), "queries": read_only(queries),
                      "occupied": read_only(np.asarray(values) < 0)})


def read_only(x) -> np.ndarray:
  """float32 NumPy copy that cannot be written (cached data are shared between runs)."""
  out = np.array(x, np.float32)
  out.setflags(write=False)
  return out


def occupancy_task(model, tx, queries_per_step: int, finish=None) -> Task:
  def init(key, example):
    params = model.init(key, jnp.asarray(example["cloud"]), jnp.asarray(example["queries"][:, :8]))["params"]
    return {"params": params, "opt_state": tx.init(params)}

  def train_step(state, batch, key, axis_name=None):
    b, k = batch["occupied"].shape
    idx = jax.random.randint(key, (b, queries_per_step), 0, k)
    q = jnp.take_along_axis(batch["queries"], idx[..., None], 1)
    occ = jnp.take_along_axis(batch["occupied"], idx, 1)

    def loss_fn(params):
      logits = model.apply({"params": params}, batch["cloud"], q)
      per_shape = jnp.mean(optax.sigmoid_binary_cross_entropy(logits, occ), -1)
      return mean_over_valid(per_shape, batch["mask"], axis_name), logits

    (loss, logits), grads = jax.value_and_grad(loss_fn, has_aux=True)(state["params"])
    grads = psum_if(grads, axis_name)
    updates, opt_state = tx.update(grads, state["opt_state"], state["params"])
    acc = mean_over_valid(jnp.mean((logits > 0) == (occ > 0.5), -1), batch["mask"], axis_name)
    return ({"params": optax.apply_updates(state["params"], updates), "opt_state": opt_state},
            {"loss": psum_if(loss, axis_name), "accuracy": psum_if(acc, axis_name)})

  def eval_step(state, batch):
    logits = model.apply({"params": state["params"]}, batch["cloud"], batch["queries"])
    pred, gt = logits > 0, batch["occupied"] > 0.5
    iou = jnp.sum(pred & gt, -1) / jnp.maximum(jnp.sum(pred | gt, -1), 1)
    m = batch["mask"]
    bce = jnp.mean(optax.sigmoid_binary_cross_entropy(logits, batch["occupied"]), -1)
    return {"iou_sum": jnp.sum(iou * m), "loss_sum": jnp.sum(bce * m),
            "accuracy_sum": jnp.sum(jnp.mean(pred == gt, -1) * m), "count": jnp.sum(m)}

  return Task(init=init, train_step=train_step, eval_step=eval_step, metric="iou", mode="max",
              best=lambda s: s["params"], with_best=lambda s, p: {**s, "params": p}, finish=finish, name="occupancy")


def build_occupancy(config: ml_collections.ConfigDict, with_report: bool = False):
  d, t = config.data, config.train
  positive_ints(config, [("data", "queries"), ("data", "queries_per_step"), ("data", "eval_points"), ("data", "num_points")])
  loop.check_engine_config(t)
  train = occupancy_split(d, "train", True)
  data, num_steps, model, tx = engine_parts(config, train, {name: occupancy_split(d, name, False) for name in ("val", "test")})
  task = None

  def finish(state, results, workdir):
    extra = timed_step(task, state, train, config)
    if jax.process_index() == 0:
      print(report.summary_table([("model", config.model.name), ("steps", num_steps), ("val IoU", results["val"]["iou"]),
                                  ("test IoU", results["test"]["iou"]), *sorted(extra.items()), ("workdir", str(workdir))]))
    return extra

  task = occupancy_task(model, tx, int(d.queries_per_step), finish if with_report else None)
  return task, data, model


# ---------------------------------------------------------------------------------------------
# NeRF.
# ---------------------------------------------------------------------------------------------


def nerf_config() -> ml_collections.ConfigDict:
  c = ml_collections.ConfigDict()
  c.runner = RUNNER
  c.kind = "nerf"
  c.seed = 0
  c.data = ml_collections.ConfigDict({
      "image_size": 64, "train_views": 16, "test_views": 4, "radius": 3.2, "fov_degrees": 40.0,
      "elevations_degrees": (15.0, 45.0),  # training views alternate; held-out views sit between them
      "test_elevation_degrees": 30.0, "near": 2.0, "far": 4.4,
  })
  c.render = ml_collections.ConfigDict({"coarse_samples": 32, "fine_samples": 0, "randomized": True})
  c.model = ml_collections.ConfigDict({"name": "nerf", "num_frequencies": 6, "width": 64, "depth": 4, "skip": 2})
  c.optimizer = optim.default_config("adam", 2e-3)
  c.optimizer.eps = 1e-8
  c.optimizer.schedule.name = "cosine"
  c.train = loop.engine_config()
  c.train.update({"batch_size": 512, "num_steps": 3000, "eval_every": 500, "log_every": 100, "eval_batch_size": 4096,
                  "checkpoint_every": 0, "keep_checkpoints": 1})
  c.timing = ml_collections.ConfigDict({"steps": 10})
  # diagnostics at the end: the exact scene rendered by the quadrature at these uniform sample counts (the
  # ceiling of a network evaluated there), and where the held-out error lies (edge pixels or not)
  c.diagnostics = ml_collections.ConfigDict({"ceiling_samples": (32, 64, 128)})
  return c


def nerf_cameras(d: ml_collections.ConfigDict):
  """Training cameras (azimuths 2πi/V, elevations alternating) and held-out cameras (between them)."""
  v = int(d.train_views)
  els = [np.radians(e) for e in d.elevations_degrees]
  train = [rendering.orbit_camera(2 * np.pi * i / v, els[i % len(els)], d.radius, d.image_size, d.fov_degrees)
           for i in range(v)]
  test = [rendering.orbit_camera(2 * np.pi * (i + 0.37) / d.test_views, np.radians(d.test_elevation_degrees), d.radius,
                                 d.image_size, d.fov_degrees) for i in range(int(d.test_views))]
  return train, test


def nerf_views(d: ml_collections.ConfigDict, scene=None):
  """Ground-truth views and their rays: {"train": (images, origins, directions), "test": ...}; the
  default scene's views are rendered once per data config (a cache: tests and notebooks ask again)."""
  if scene is not None:
    return _render_views(d, scene)
  return _default_scene_views(frozen(d))


@functools.lru_cache(maxsize=4)
def _default_scene_views(key: tuple):
  views = _render_views(ml_collections.ConfigDict(dict(key)), rendering.default_scene())
  return {k: tuple(read_only(a) for a in v) for k, v in views.items()}


def _render_views(d: ml_collections.ConfigDict, scene):
  train, test = nerf_cameras(d)
  return {"train": rendering.render_views(scene, train, d.image_size), "test": rendering.render_views(scene, test, d.image_size)}


def rays_source(images, origins, dirs) -> ArraySource:
  return ArraySource({"origin": np.asarray(origins, np.float32).reshape(-1, 3),
                      "direction": np.asarray(dirs, np.float32).reshape(-1, 3),
                      "rgb": np.asarray(images, np.float32).reshape(-1, 3)})


def render_rays(model, params, batch, key, render: ml_collections.ConfigDict, near: float, far: float,
                background, randomized: bool):
  """Coarse (and fine, with ``render.fine_samples``) colours (R, 3) of a batch of rays."""
  o, d = batch["origin"], batch["direction"]
  k_c, k_f = jax.random.split(key)
  t = rendering.stratified_samples(k_c, o.shape[0], render.coarse_samples, near, far, randomized)
  sigma, rgb = model.apply({"params": params["coarse"]}, o[:, None] + t[..., None] * d[:, None])
  coarse, weights, _ = rendering.volume_render(sigma, rgb, t, background)
  if not render.fine_samples:
    return coarse, None
  t_all = rendering.hierarchical_samples(k_f, t, weights, render.fine_samples, near, far, randomized)
  sigma, rgb = model.apply({"params": params["fine"]}, o[:, None] + t_all[..., None] * d[:, None])
  fine, _, _ = rendering.volume_render(sigma, rgb, t_all, background)
  return coarse, fine


def nerf_task(model, tx, render, near, far, background, finish=None) -> Task:
  def init(key, example):
    k_c, k_f = jax.random.split(key)
    x = jnp.zeros((1, 3))
    params = {"coarse": model.init(k_c, x)["params"]}
    if render.fine_samples:
      params["fine"] = model.init(k_f, x)["params"]
    return {"params": params, "opt_state": tx.init(params)}

  def train_step(state, batch, key, axis_name=None):
    def loss_fn(params):
      coarse, fine = render_rays(model, params, batch, key, render, near, far, background, render.randomized)
      mse = lambda c: mean_over_valid(jnp.mean((c - batch["rgb"]) ** 2, -1), batch["mask"], axis_name)  # noqa: E731
      main = mse(coarse if fine is None else fine)
      return main + (0.0 if fine is None else mse(coarse)), main

    (_, mse), grads = jax.value_and_grad(loss_fn, has_aux=True)(state["params"])
    grads = psum_if(grads, axis_name)
    updates, opt_state = tx.update(grads, state["opt_state"], state["params"])
    mse = psum_if(mse, axis_name)
    return ({"params": optax.apply_updates(state["params"], updates), "opt_state": opt_state},
            {"loss": mse, "psnr": -10.0 * jnp.log10(mse)})

  def eval_step(state, batch):
    coarse, fine = render_rays(model, state["params"], batch, jax.random.key(0), render, near, far, background, False)
    out = coarse if fine is None else fine
    return {"sq_error": jnp.sum(jnp.mean((out - batch["rgb"]) ** 2, -1) * batch["mask"]), "count": jnp.sum(batch["mask"])}

  def summarize(total):
    mse = float(total["sq_error"]) / float(total["count"])
    return {"mse": mse, "psnr": float(-10.0 * np.log10(mse))}

  return Task(init=init, train_step=train_step, eval_step=eval_step, summarize=summarize, metric="psnr", mode="max",
              best=lambda s: s["params"], with_best=lambda s, p: {**s, "params": p}, finish=finish, name="nerf")


def render_image(model, params, render, near, far, background, origins, dirs, chunk: int = 4096):
  """One view (H·W rays) rendered in chunks, deterministic samples; returns (H·W, 3)."""
  fn = jax.jit(lambda o, d: render_rays(model, params, {"origin": o, "direction": d}, jax.random.key(0), render, near,
                                        far, background, False))
  outs = []
  for i in range(0, origins.shape[0], chunk):
    coarse, fine = fn(origins[i:i + chunk], dirs[i:i + chunk])
    outs.append(coarse if fine is None else fine)
  return jnp.concatenate(outs)


def build_nerf(config: ml_collections.ConfigDict, with_report: bool = False):
  d, t, r = config.data, config.train, config.render
  positive_ints(config, [("data", "image_size"), ("data", "train_views"), ("data", "test_views"), ("render", "coarse_samples")])
  if not 0 < d.near < d.far:
    raise ConfigError(f"data.near, data.far: expected 0 < near < far, got {d.near}, {d.far}")
  loop.check_engine_config(t)
  views = nerf_views(d)
  scene = rendering.default_scene()
  background = jnp.asarray(scene.background, jnp.float32)
  train = rays_source(*views["train"])
  data, num_steps, model, tx = engine_parts(config, train, {"val": rays_source(*views["test"])})
  task = None

  def finish(state, results, workdir):
    extra = timed_step(task, state, train, config)
    images, origins, dirs = views["test"]
    jax.block_until_ready(render_image(model, state["params"], r, d.near, d.far, background, origins[0], dirs[0]))
    t0 = time.perf_counter()
    preds = [render_image(model, state["params"], r, d.near, d.far, background, o, dd) for o, dd in zip(origins, dirs)]
    jax.block_until_ready(preds)
    extra["render_s_per_image"] = (time.perf_counter() - t0) / len(preds)
    per_view = [float(rendering.psnr(p.reshape(images[i].shape), images[i])) for i, p in enumerate(preds)]
    extra["test_psnr_per_view"] = per_view
    renders = np.stack([np.asarray(p).reshape(images[0].shape) for p in preds])
    extra.update(rendering.error_breakdown(renders, images))
    field = rendering.exact_field(scene)
    # what a perfect network would score at s bin-centre samples, and with this run's hierarchical sampling
    ceilings = [(int(s), 0, f"exact_field_psnr_{s}_samples") for s in config.diagnostics.ceiling_samples]
    if r.fine_samples:
      ceilings.append((int(r.coarse_samples), int(r.fine_samples),
                       f"exact_field_psnr_{r.coarse_samples}_plus_{r.fine_samples}_hierarchical"))
    for s, fine, name in ceilings:
      exact = jnp.stack([rendering.quadrature_render(field, o, dd, d.near, d.far, s, background, fine_samples=fine)
                         for o, dd in zip(origins, dirs)])
      extra[name] = float(rendering.psnr(exact.reshape(images.shape), images))
    if jax.process_index() == 0:
      with (epath.Path(workdir) / "nerf_test_renders.npy").open("wb") as f:  # a workdir may be gs://
        np.save(f, renders)
      print(report.summary_table([("model", config.model.name), ("steps", num_steps), ("held-out PSNR", results["val"]["psnr"]),
                                  ("per view", ", ".join(f"{p:.2f}" for p in per_view)),
                                  *sorted((k, v) for k, v in extra.items() if k != "test_psnr_per_view"),
                                  ("workdir", str(workdir))]))
    return extra

  task = nerf_task(model, tx, r, float(d.near), float(d.far), background, finish if with_report else None)
  return task, data, model


def build(config: ml_collections.ConfigDict, with_report: bool = False):
  kind = config.get("kind")
  if kind not in KINDS:
    raise ConfigError(f"kind: expected one of {KINDS}, got {kind!r}")
  return (build_occupancy if kind == "occupancy" else build_nerf)(config, with_report)


def run(config: ml_collections.ConfigDict, workdir: str) -> dict[str, Any]:
  """Train the occupancy network or the NeRF of ``config`` in ``workdir``; returns the final results."""
  task, data, _ = build(config, with_report=True)
  return loop.fit(task, data, config, workdir)


def evaluate(config: ml_collections.ConfigDict, workdir: str, split: str = "val") -> dict[str, Any]:
  task, data, _ = build(config)
  return loop.evaluate_run(task, data, config, workdir, split)
