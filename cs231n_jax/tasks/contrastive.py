"""Contrastive and self-distillation pre-training as tasks: SimCLR, MoCo v2, BYOL (notes chapter 14).

Every method trains an encoder f (from the model registry, family ``ssl``) on unlabelled images;
the two views of each image are drawn INSIDE the jitted step from the step's key
(:mod:`cs231n_jax.ssl.views`). After training, ``finish`` freezes f and runs the probe
(:mod:`cs231n_jax.ssl.probe`) on the features h and on the projections g(h).

- ``simclr`` (Chen et al. 2020): projection head g, NT-Xent over the 2N views of the GLOBAL batch
  (under ``pmap`` the embeddings are gathered from every device).
- ``moco`` (He et al. 2020; v2: Chen et al. 2020): a query encoder trained by gradients, a key
  encoder ``theta_k <- m theta_k + (1 - m) theta_q`` after every step (no gradient), and a FIFO queue
  of the last ``queue_size`` keys (normalised) as the negatives; the state holds all three.
- ``byol`` (Grill et al. 2020, beyond the notes): an online network with a predictor regresses the
  EMA target network's projection of the other view (``2 - 2 cos``, both view orders); the target's
  rate follows BYOL's schedule ``tau_k = 1 - (1 - tau_0)(cos(pi k / K) + 1) / 2``.

The notes give no temperature, batch size, projection head, momentum or queue size; the defaults of
:func:`base_config` are the papers' values and say where they come from. Experiment configs
(``experiments/configs/ssl/``) shrink what the digits need (batch, queue, widths) and say so.

The training iterator drops the short last batch (``last_batch = "drop"``), so every step contrasts
a full global batch and MoCo's queue advances by a fixed stride.
"""

from __future__ import annotations

import math
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax

from cs231n_jax import optim
from cs231n_jax.data import load_dataset
from cs231n_jax.data.pipeline import BatchIterator
from cs231n_jax.errors import ConfigError
from cs231n_jax.models.registry import get_model
from cs231n_jax.ssl import losses, photos, probe, views
from cs231n_jax.train import loop, parallel
from cs231n_jax.train.steps import psum_if
from cs231n_jax.train.task import Data, Task

METHODS = ("simclr", "moco", "byol")
RUNNER = "cs231n_jax.tasks.contrastive:run"
# The papers' values (the notes give none).
SIMCLR_TEMPERATURE = 0.5  # SimCLR, CIFAR-10 (appendix B.9)
MOCO_TEMPERATURE = 0.2  # MoCo v2
MOCO_MOMENTUM = 0.999  # MoCo
MOCO_QUEUE = 65536  # MoCo (ImageNet)
BYOL_TAU = 0.996  # BYOL
BYOL_PREDICTOR_HIDDEN = 4096  # BYOL
SIMCLR_BATCH = 256  # SimCLR's smallest CIFAR-10 batch (their Figure B.7 sweeps 256-4096)


def base_config() -> ml_collections.ConfigDict:
  """Every field a contrastive run reads, with the papers' defaults."""
  c = ml_collections.ConfigDict()
  c.runner = RUNNER
  c.seed = 0
  c.method = "simclr"
  c.data = ml_collections.ConfigDict({"name": "digits", "view": "8x8x1", "scale": True, "subtract_mean": False,
                                      "dir": "", "classes": (), "train_per_class": 0, "subset_seed": 0,
                                      "workers": 0, "prefetch": 2, "cache_dir": ""})
  # The two views' pipelines (cs231n_jax.ssl.views syntax); view2 "" = the same as view1.
  c.views = ml_collections.ConfigDict({"view1": views.DIGITS_PIPELINE, "view2": ""})
  c.model = ml_collections.ConfigDict({
      "encoder": "ssl_convnet", "encoder_kwargs": {},
      "projection_hidden": 512, "projection_dim": 128,  # SimCLR's 2-layer MLP g, 128-d output
      "predictor_hidden": BYOL_PREDICTOR_HIDDEN,  # BYOL only
  })
  c.loss = ml_collections.ConfigDict({"temperature": SIMCLR_TEMPERATURE})  # SimCLR
  c.moco = ml_collections.ConfigDict({"momentum": MOCO_MOMENTUM, "queue_size": MOCO_QUEUE, "temperature": MOCO_TEMPERATURE})
  c.byol = ml_collections.ConfigDict({"tau": BYOL_TAU})
  c.probe = ml_collections.ConfigDict({"labels_per_class": probe.LABELS_PER_CLASS, "C": probe.PROBE_C,
                                       "knn_k": probe.KNN_K, "seed": -1})  # seed -1: the run's seed
  # SimCLR trains with LARS at 0.3 x B / 256 for hundreds of epochs; Adam is the toy default here.
  c.optimizer = optim.default_config("adam", 1e-3)
  c.train = loop.engine_config()
  c.train.update({"batch_size": SIMCLR_BATCH, "num_steps": 1000, "log_every": 50, "checkpoint_every": 0,
                  "keep_checkpoints": 1, "last_batch": "drop"})
  return c


def check_config(config: ml_collections.ConfigDict) -> None:
  """Raise ``ConfigError`` naming the first impossible value."""
  loop.check_engine_config(config.train)
  if config.method not in METHODS:
    raise ConfigError(f"method: expected one of {METHODS}, got {config.method!r}")
  field = "moco.temperature" if config.method == "moco" else "loss.temperature"
  t = config.moco.temperature if config.method == "moco" else config.loss.temperature
  if isinstance(t, bool) or not isinstance(t, (int, float)) or t <= 0:
    raise ConfigError(f"{field}: expected a positive number, got {t!r}")
  if config.method == "moco":
    q, b = config.moco.queue_size, config.train.batch_size
    if isinstance(q, bool) or not isinstance(q, int) or q <= 0 or q % b:
      raise ConfigError(f"moco.queue_size: expected a positive multiple of the global batch size {b}, got {q!r}")
    if not 0 <= config.moco.momentum < 1:
      raise ConfigError(f"moco.momentum: expected 0 <= m < 1, got {config.moco.momentum!r}")
  if config.method == "byol" and not 0 <= config.byol.tau < 1:
    raise ConfigError(f"byol.tau: expected 0 <= tau < 1, got {config.byol.tau!r}")
  for i, p in enumerate((config.views.view1, config.views.view2)):
    try:
      views.parse_pipeline(p)
    except ValueError as e:
      raise ConfigError(f"views.view{i + 1}: {e}") from None


def build_model(config: ml_collections.ConfigDict) -> nn.Module:
  m = config.model
  return get_model("ssl_net", encoder=m.encoder, encoder_kwargs=dict(m.encoder_kwargs),
                   projection_hidden=m.projection_hidden, projection_dim=m.projection_dim,
                   predictor_hidden=m.predictor_hidden if config.method == "byol" else 0)


def pipelines(config: ml_collections.ConfigDict) -> tuple[views.Pipeline, views.Pipeline]:
  one = views.parse_pipeline(config.views.view1)
  return one, views.parse_pipeline(config.views.view2) if config.views.view2 else one


# ---------------------------------------------------------------------------------------------
# The maths of the methods (pure functions of parameters and views; the steps below add the views,
# the optimizer and the state).
# ---------------------------------------------------------------------------------------------


def momentum_update(target, online, m: float):
  """MoCo's key encoder (and BYOL's target): ``m * target + (1 - m) * online``, leaf by leaf."""
  return jax.tree.map(lambda t, o: m * t + (1.0 - m) * o, target, online)


def enqueue(queue: jax.Array, ptr: jax.Array, keys: jax.Array) -> tuple[jax.Array, jax.Array]:
  """MoCo's FIFO: write ``keys`` over the oldest entries at ``ptr``; the pointer moves on by their
  number (the queue size is a multiple of it, so a block never wraps)."""
  queue = jax.lax.dynamic_update_slice(queue, keys.astype(queue.dtype), (ptr, 0))
  return queue, (ptr + keys.shape[0]) % queue.shape[0]


def moco_loss(model: nn.Module, params, key_params, queue, v1, v2, temperature: float, axis_name=None):
  """MoCo's InfoNCE: queries ``q = g(f(v1))`` from ``params``; keys ``k = g(f(v2))`` from the key
  encoder under ``stop_gradient`` (gradients reach only the queries); negatives: the queue.
  Returns (this device's share of the global mean loss, (normalised keys, accuracy share))."""
  q = model.apply({"params": params}, v1)["z"]
  k = jax.lax.stop_gradient(model.apply({"params": key_params}, v2)["z"])
  per = losses.info_nce(q, k, queue, temperature)
  n_global = q.shape[0] if axis_name is None else jax.lax.psum(q.shape[0], axis_name)
  qn, kn = losses.normalize(q), losses.normalize(k)
  correct = jnp.sum(qn * kn, -1) > jnp.max(qn @ queue.T, axis=-1)
  return jnp.sum(per) / n_global, (kn, jnp.sum(correct) / n_global)


def simclr_loss(model: nn.Module, params, v1, v2, temperature: float, axis_name=None):
  z1 = model.apply({"params": params}, v1)["z"]
  z2 = model.apply({"params": params}, v2)["z"]
  return losses.nt_xent(z1, z2, temperature, axis_name, return_accuracy=True)


def byol_loss(model: nn.Module, params, target_params, v1, v2, axis_name=None):
  """BYOL's symmetric loss: ``q(g(f(v1)))`` against the target's ``g'(f'(v2))`` and the swap."""
  o1, o2 = model.apply({"params": params}, v1), model.apply({"params": params}, v2)
  t1 = model.apply({"params": target_params}, v1)["z"]
  t2 = model.apply({"params": target_params}, v2)["z"]
  per = losses.byol_loss(o1["p"], t2) + losses.byol_loss(o2["p"], t1)
  n_global = per.shape[0] if axis_name is None else jax.lax.psum(per.shape[0], axis_name)
  return jnp.sum(per) / n_global


def byol_tau(tau0: float, step, num_steps: int):
  """BYOL's target rate: ``1 - (1 - tau_0)(cos(pi k / K) + 1) / 2``: tau_0 at the start, 1 at the end."""
  return 1.0 - (1.0 - tau0) * (jnp.cos(jnp.pi * step / num_steps) + 1.0) / 2.0


# ---------------------------------------------------------------------------------------------
# The task.
# ---------------------------------------------------------------------------------------------


def method_update(config: ml_collections.ConfigDict, model: nn.Module, tx: optax.GradientTransformation,
                  num_steps: int):
  """``update(state, v1, v2, axis_name) -> (state, metrics)``: one step of ``config.method`` from
  given views (the task's train step draws them from its key; tests pass their own)."""
  method = config.method
  temperature = float(config.moco.temperature if method == "moco" else config.loss.temperature)

  def update(state, v1, v2, axis_name=None):
    """One step from given views (the train step draws them; tests pass their own)."""
    params = state["params"]
    new = dict(state)
    if method == "simclr":
      (loss, acc), grads = jax.value_and_grad(lambda p: simclr_loss(model, p, v1, v2, temperature, axis_name),
                                              has_aux=True)(params)
    elif method == "moco":
      (loss, (keys, acc)), grads = jax.value_and_grad(
          lambda p: moco_loss(model, p, state["key_params"], state["queue"], v1, v2, temperature, axis_name),
          has_aux=True)(params)
    else:
      loss, grads = jax.value_and_grad(lambda p: byol_loss(model, p, state["target_params"], v1, v2, axis_name))(params)
      acc = jnp.zeros(())
    grads = psum_if(grads, axis_name)
    updates, new["opt_state"] = tx.update(grads, state["opt_state"], params)
    new["params"] = optax.apply_updates(params, updates)
    if method == "moco":
      new["key_params"] = momentum_update(state["key_params"], new["params"], config.moco.momentum)
      new["queue"], new["ptr"] = enqueue(state["queue"], state["ptr"], losses.gather(keys, axis_name))
    if method == "byol":
      tau = byol_tau(config.byol.tau, state["count"], num_steps)
      # (The target's copy of the predictor is averaged too but never used.)
      new["target_params"] = momentum_update(state["target_params"], new["params"], tau)
      new["count"] = state["count"] + 1
    return new, {"loss": psum_if(loss, axis_name), "accuracy": psum_if(acc, axis_name),
                 "grad_norm": optax.tree.norm(grads)}

  return update


def contrastive_task(config: ml_collections.ConfigDict, model: nn.Module, tx: optax.GradientTransformation,
                     num_steps: int, image_shape: tuple[int, ...], finish=None) -> Task:
  """The engine's task for ``config.method``; the state is a dict: ``params``, ``opt_state`` and,
  for MoCo, ``key_params``, ``queue``, ``ptr``; for BYOL ``target_params`` and ``count``."""
  method = config.method
  update = method_update(config, model, tx, num_steps)
  pipe1, pipe2 = pipelines(config)
  views.check_shapes([pipe1, pipe2], image_shape)

  def init(key, example):
    pkey, qkey = jax.random.split(key)
    params = model.init(pkey, jnp.zeros((1, *image_shape), jnp.float32))["params"]
    state = {"params": params, "opt_state": tx.init(params)}
    if method == "moco":
      queue = losses.normalize(jax.random.normal(qkey, (config.moco.queue_size, config.model.projection_dim)))
      state.update(key_params=params, queue=queue, ptr=jnp.zeros((), jnp.int32))
    if method == "byol":
      state.update(target_params=params, count=jnp.zeros((), jnp.int32))
    return state

  def train_step(state, batch, key, axis_name=None):
    v1, v2 = views.views(key, batch["image"], (pipe1, pipe2))
    return update(state, v1, v2, axis_name)

  return Task(init=init, train_step=train_step, metric="loss", mode="min", best=lambda s: s,
              with_best=lambda s, b: b, finish=finish, name=f"contrastive/{method}")


# ---------------------------------------------------------------------------------------------
# Features and the probe.
# ---------------------------------------------------------------------------------------------


def features(model: nn.Module, params, images: np.ndarray, batch_size: int = 512, output: str = "h") -> np.ndarray:
  """Frozen features of ``images`` (``output`` "h": the encoder's; "z": the projection g(h))."""
  fn = jax.jit(lambda p, x: model.apply({"params": p}, x)[output])
  return np.concatenate([np.asarray(fn(params, images[i:i + batch_size])) for i in range(0, len(images), batch_size)])


def probe_results(config: ml_collections.ConfigDict, dataset, feature_fn, prefix: str = "") -> dict[str, float]:
  """The probe table's row for features ``feature_fn(images) -> (N, D)`` on ``dataset``."""
  p = config.probe
  seed = config.seed if p.seed < 0 else p.seed
  out = probe.probe(feature_fn(dataset.train.images), dataset.train.labels, feature_fn(dataset.test.images),
                    dataset.test.labels, tuple(p.labels_per_class), seed, p.C, p.knn_k)
  return {f"{prefix}{k}": v for k, v in out.items()}


def ssl_dataset(config: ml_collections.ConfigDict):
  """The data set of ``config.data``: every classification source (digits, cifar10 from ``data.dir``,
  tfds) through ``load_dataset``, plus ``"skimage_photos"``: crops of scikit-image's photos labelled by
  their photo (:func:`cs231n_jax.ssl.photos.photo_dataset`)."""
  if config.data.get("name") == photos.DATA_NAME:
    return photos.photo_dataset(config.data, config.seed)
  return load_dataset(config.data)


def ssl_data(dataset, config: ml_collections.ConfigDict) -> Data:
  t = config.train
  if t.step != "jit":
    parallel.check_batch_size(t.batch_size)
  train = BatchIterator(dataset.train, t.batch_size, dataset.num_classes, seed=config.seed,
                        last_batch=t.get("last_batch", "drop"), process_index=jax.process_index(),
                        process_count=jax.process_count(), image_shape=dataset.image_shape, name="train",
                        workers=config.data.get("workers", 0), prefetch=config.data.get("prefetch", 0))
  example = {"image": np.zeros((1, *dataset.image_shape), np.float32), "label": np.zeros((1,), np.int32),
             "mask": np.ones((1,), np.float32)}
  return Data(train=train, eval={}, example=example, batch_size=t.batch_size)


def build(config: ml_collections.ConfigDict, with_probe: bool = True):
  """``(task, data, model, dataset)`` for a contrastive config; ``with_probe`` makes ``finish`` run
  the probe on h and on g(h)."""
  check_config(config)
  parallel.initialize()
  dataset = ssl_dataset(config)
  data = ssl_data(dataset, config)
  num_steps = loop.total_steps(config.train, data.train.steps_per_epoch)
  model = build_model(config)
  tx = optim.make_optimizer(config.optimizer, num_steps)

  def finish(state, evals, workdir):
    del evals, workdir
    params = state["params"]
    out = probe_results(config, dataset, lambda x: features(model, params, x, output="h"))
    out.update(probe_results(config, dataset, lambda x: features(model, params, x, output="z"), prefix="z_"))
    return out

  task = contrastive_task(config, model, tx, num_steps, dataset.image_shape, finish if with_probe else None)
  return task, data, model, dataset


def run(config: ml_collections.ConfigDict, workdir: str) -> dict[str, Any]:
  """Pre-train ``config.method`` on ``config.data``, then probe the frozen features."""
  task, data, _, _ = build(config)
  results = loop.fit(task, data, config, workdir)
  if jax.process_index() == 0 and "linear@5" in results:
    print(" ".join(f"{k}={v:.4f}" for k, v in results.items() if "@" in k and not math.isnan(v)))
  return results


# ---------------------------------------------------------------------------------------------
# CLIP on (digit image, digit name) pairs.
# ---------------------------------------------------------------------------------------------

DIGIT_NAMES = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
# Captions drawn per example; zero-shot classification averages the class's caption embeddings
# (CLIP's prompt ensembling).
CLIP_TEMPLATES = ("{}", "a {}", "the digit {}", "a handwritten {}", "a picture of a {}", "the number {}")
CLIP_TEMPERATURE = 0.07  # CLIP's initial temperature (the paper then learns it)
CLIP_RUNNER = "cs231n_jax.tasks.contrastive:run_clip"


def clip_base_config() -> ml_collections.ConfigDict:
  c = base_config()
  c.runner = CLIP_RUNNER
  c.method = "clip"
  c.loss.temperature = CLIP_TEMPERATURE
  c.clip = ml_collections.ConfigDict({"templates": CLIP_TEMPLATES, "text_embed": 64})
  c.model.update({"projection_hidden": 256, "projection_dim": 64})
  return c


def caption_tokens(templates, names=DIGIT_NAMES) -> tuple[np.ndarray, dict[str, int]]:
  """Token ids of every (template, class) caption: (T, C, L) int32 (0 = padding), and the vocabulary."""
  words = sorted({w for t in templates for n in names for w in t.format(n).split()})
  vocab = {w: i + 1 for i, w in enumerate(words)}
  captions = [[[vocab[w] for w in t.format(n).split()] for n in names] for t in templates]
  length = max(len(c) for row in captions for c in row)
  out = np.zeros((len(templates), len(names), length), np.int32)
  for i, row in enumerate(captions):
    for j, c in enumerate(row):
      out[i, j, :len(c)] = c
  return out, vocab


def clip_task(config: ml_collections.ConfigDict, model: nn.Module, tx: optax.GradientTransformation,
              image_shape: tuple[int, ...], tokens: np.ndarray, finish=None) -> Task:
  """CLIP's symmetric loss between the images (one augmented view) and a caption of their class
  drawn per example from the templates."""
  temperature = float(config.loss.temperature)
  pipe = views.parse_pipeline(config.views.view1)
  table = jnp.asarray(tokens)

  def init(key, example):
    params = model.init(key, jnp.zeros((1, *image_shape), jnp.float32), table[0, :1])["params"]
    return {"params": params, "opt_state": tx.init(params)}

  def train_step(state, batch, key, axis_name=None):
    vkey, tkey = jax.random.split(key)
    images = views.views(vkey, batch["image"], [pipe])[0] if pipe else batch["image"]
    if "tokens" in batch:  # captioned scenes: the batch brings its captions
      text = batch["tokens"]
    else:  # digits: a caption of the label, its template drawn per example
      which = jax.random.randint(tkey, batch["label"].shape, 0, table.shape[0])
      text = table[which, batch["label"]]

    def loss_fn(p):
      out = model.apply({"params": p}, images, text)
      return losses.clip_loss(out["image"], out["text"], temperature, axis_name)

    (loss, acc), grads = jax.value_and_grad(loss_fn, has_aux=True)(state["params"])
    grads = psum_if(grads, axis_name)
    updates, opt_state = tx.update(grads, state["opt_state"], state["params"])
    return ({"params": optax.apply_updates(state["params"], updates), "opt_state": opt_state},
            {"loss": psum_if(loss, axis_name), "accuracy": psum_if(acc, axis_name)})

  return Task(init=init, train_step=train_step, best=lambda s: s, with_best=lambda s, b: b, finish=finish,
              name="contrastive/clip")


def zero_shot_predict(model: nn.Module, params, images: np.ndarray, tokens: np.ndarray) -> np.ndarray:
  """Class of each image by the highest cosine to its class's mean caption embedding (no labels used)."""
  t, c, length = tokens.shape
  text = model.apply({"params": params}, jnp.asarray(tokens.reshape(t * c, length)), method=type(model).encode_text)
  text = losses.normalize(jnp.mean(losses.normalize(text).reshape(t, c, -1), axis=0))
  image = losses.normalize(model.apply({"params": params}, jnp.asarray(images), method=type(model).encode_image))
  return np.asarray(jnp.argmax(image @ text.T, axis=-1))


def clip_build(config: ml_collections.ConfigDict):
  """``(task, data, model, dataset)`` for CLIP on (digit image, digit name) pairs; ``finish``
  reports the zero-shot accuracy on the test split and the probe on the image encoder's h."""
  loop.check_engine_config(config.train)
  t = config.loss.temperature
  if isinstance(t, bool) or not isinstance(t, (int, float)) or t <= 0:
    raise ConfigError(f"loss.temperature: expected a positive number, got {t!r}")
  if not config.clip.templates or any("{}" not in s for s in config.clip.templates):
    raise ConfigError(f"clip.templates: expected captions with one '{{}}' for the digit's name, got {config.clip.templates!r}")
  parallel.initialize()
  dataset = load_dataset(config.data)
  data = ssl_data(dataset, config)
  num_steps = loop.total_steps(config.train, data.train.steps_per_epoch)
  tokens, vocab = caption_tokens(tuple(config.clip.templates), dataset.class_names if dataset.num_classes != 10
                                 else DIGIT_NAMES)
  m = config.model
  model = get_model("clip_net", encoder=m.encoder, encoder_kwargs=dict(m.encoder_kwargs), projection_hidden=m.projection_hidden,
                    projection_dim=m.projection_dim, vocab_size=len(vocab) + 1, text_embed=config.clip.text_embed)
  tx = optim.make_optimizer(config.optimizer, num_steps)

  def finish(state, evals, workdir):
    del evals, workdir
    params = state["params"]
    pred = zero_shot_predict(model, params, dataset.test.images, tokens)
    fn = jax.jit(lambda x: model.apply({"params": params}, x, method=type(model).features))
    out = probe_results(config, dataset, lambda x: np.asarray(fn(jnp.asarray(x))))
    out["zero_shot_accuracy"] = float(np.mean(pred == dataset.test.labels))
    return out

  return clip_task(config, model, tx, dataset.image_shape, tokens, finish), data, model, dataset


def run_clip(config: ml_collections.ConfigDict, workdir: str) -> dict[str, Any]:
  """Train CLIP on (digit image, caption of its name); report zero-shot accuracy on the test digits."""
  task, data, _, _ = clip_build(config)
  results = loop.fit(task, data, config, workdir)
  if jax.process_index() == 0 and "zero_shot_accuracy" in results:
    print(f"zero-shot accuracy on the test digits: {results['zero_shot_accuracy']:.4f}")
  return results


# ---------------------------------------------------------------------------------------------
# CPC on sequences of image rows.
# ---------------------------------------------------------------------------------------------

CPC_RUNNER = "cs231n_jax.tasks.contrastive:run_cpc"


def cpc_base_config() -> ml_collections.ConfigDict:
  """CPC (van den Oord et al. 2018) on digits read as sequences of rows, top to bottom: each row is
  one step; a GRU context predicts the codes of the next ``future_steps`` rows; the negatives are
  the other sequences' codes at the same step (the batch: chance is 1 / batch size)."""
  c = base_config()
  c.runner = CPC_RUNNER
  c.method = "cpc"
  c.views.view1 = "shift(pixels=1) | noise(std=0.05)"
  c.cpc = ml_collections.ConfigDict({"code": 64, "context": 64, "hidden": 128, "future_steps": 2})
  return c


def image_rows(images: jax.Array) -> jax.Array:
  """(N, H, W, C) -> a sequence of H steps of W x C values."""
  return images.reshape(images.shape[0], images.shape[1], -1)


def cpc_build(config: ml_collections.ConfigDict):
  loop.check_engine_config(config.train)
  k = config.cpc.future_steps
  parallel.initialize()
  dataset = load_dataset(config.data)
  if not 1 <= k < dataset.image_shape[0] - 1:
    raise ConfigError(f"cpc.future_steps: expected 1..{dataset.image_shape[0] - 2} for {dataset.image_shape[0]} rows, got {k}")
  data = ssl_data(dataset, config)
  num_steps = loop.total_steps(config.train, data.train.steps_per_epoch)
  model = get_model("cpc_net", code=config.cpc.code, context=config.cpc.context, hidden=config.cpc.hidden, future_steps=k)
  tx = optim.make_optimizer(config.optimizer, num_steps)
  pipe = views.parse_pipeline(config.views.view1)

  def loss_fn(params, images, axis_name=None):
    out = model.apply({"params": params}, image_rows(images))
    return losses.cpc_loss(out["pred"], out["z"], axis_name=axis_name)

  def init(key, example):
    params = model.init(key, image_rows(jnp.zeros((1, *dataset.image_shape))))["params"]
    return {"params": params, "opt_state": tx.init(params)}

  def train_step(state, batch, key, axis_name=None):
    # Under pmap the negatives are every device's sequences (the codes all_gathered); each device's loss
    # is its share of the global mean, so the psum of the shares and of their gradients is the global one.
    images = views.views(key, batch["image"], [pipe])[0] if pipe else batch["image"]
    (loss, acc), grads = jax.value_and_grad(loss_fn, has_aux=True)(state["params"], images, axis_name)
    grads, loss, acc = psum_if((grads, loss, acc), axis_name)
    updates, opt_state = tx.update(grads, state["opt_state"], state["params"])
    return {"params": optax.apply_updates(state["params"], updates), "opt_state": opt_state}, {"loss": loss, "accuracy": acc}

  def finish(state, evals, workdir):
    del evals, workdir
    params = state["params"]
    _, acc = jax.jit(loss_fn)(params, jnp.asarray(dataset.test.images))
    fn = jax.jit(lambda x: model.apply({"params": params}, image_rows(x), method=type(model).features))
    out = probe_results(config, dataset, lambda x: np.asarray(fn(jnp.asarray(x))))
    out.update(future_accuracy=float(acc), future_chance=1.0 / len(dataset.test.images))
    return out

  task = Task(init=init, train_step=train_step, best=lambda s: s, with_best=lambda s, b: b, finish=finish,
              name="contrastive/cpc")
  return task, data, model, dataset


def run_cpc(config: ml_collections.ConfigDict, workdir: str) -> dict[str, Any]:
  """Train CPC on digit rows; report the future-step accuracy on the test split against chance."""
  task, data, _, _ = cpc_build(config)
  results = loop.fit(task, data, config, workdir)
  if jax.process_index() == 0 and "future_accuracy" in results:
    print(f"future-step accuracy {results['future_accuracy']:.4f} (chance {results['future_chance']:.4f})")
  return results


# ---------------------------------------------------------------------------------------------
# CLIP on the captioned scenes (cs231n_jax.data.scenes): image-text retrieval.
# ---------------------------------------------------------------------------------------------

CLIP_SCENES_RUNNER = "cs231n_jax.tasks.contrastive:run_clip_scenes"


def clip_scenes_config() -> ml_collections.ConfigDict:
  c = clip_base_config()
  c.runner = CLIP_SCENES_RUNNER
  c.views.view1 = "shift(pixels=1) | noise(std=0.02)"  # no crops or flips: they would change "left of" / "above"
  c.scenes = ml_collections.ConfigDict({"num_train": 2000, "num_test": 300, "single_fraction": 0.3, "size": 32})
  c.model.update({"encoder_kwargs": {"channels": (32, 64), "strides": (2, 2), "features": 128}})
  c.clip.text_positions = 12
  return c


def scene_captions(scenes, vocab: dict[str, int] | None = None, length: int = 0):
  """Token ids of every scene's first caption (0 = padding) and the vocabulary (built if None)."""
  texts = [sc.captions()[0] for sc in scenes]
  if vocab is None:
    vocab = {w: i + 1 for i, w in enumerate(sorted({w for t in texts for w in t.split()}))}
  length = length or max(len(t.split()) for t in texts)
  out = np.zeros((len(texts), length), np.int32)
  for i, t in enumerate(texts):
    ids = [vocab[w] for w in t.split()][:length]
    out[i, :len(ids)] = ids
  return out, vocab, texts


def retrieval_recall_at_1(image_emb: np.ndarray, text_emb: np.ndarray, texts: list[str]) -> dict[str, float]:
  """Image->text and text->image recall@1: a hit when the retrieved item's caption is the query's own
  caption text (several scenes share a caption, e.g. "a red circle")."""
  scores = np.asarray(losses.normalize(jnp.asarray(image_emb)) @ losses.normalize(jnp.asarray(text_emb)).T)
  texts = np.asarray(texts)
  i2t = np.mean(texts[np.argmax(scores, axis=1)] == texts)
  t2i = np.mean(texts[np.argmax(scores, axis=0)] == texts)
  return {"recall@1_image_to_text": float(i2t), "recall@1_text_to_image": float(t2i),
          "recall@1_chance": float(np.mean([np.mean(texts == t) for t in texts]))}


def clip_scenes_build(config: ml_collections.ConfigDict):
  from cs231n_jax.data import scenes as S
  from cs231n_jax.data.pipeline import ArraySource

  loop.check_engine_config(config.train)
  if not config.loss.temperature > 0:
    raise ConfigError(f"loss.temperature: expected a positive number, got {config.loss.temperature!r}")
  parallel.initialize()
  sc = config.scenes
  pairs = S.object_pairs()
  train_images, train_scenes = S.generate(sc.num_train, pairs, sc.single_fraction, config.seed, sc.size)
  test_images, test_scenes = S.generate(sc.num_test, pairs, sc.single_fraction, config.seed + 1_000_003, sc.size)
  train_tokens, vocab, _ = scene_captions(train_scenes)
  test_tokens, _, test_texts = scene_captions(test_scenes, vocab, train_tokens.shape[1])
  source = ArraySource({"image": train_images.astype(np.float32), "tokens": train_tokens})
  t = config.train
  train = BatchIterator(source, t.batch_size, seed=config.seed, last_batch="drop", process_index=jax.process_index(),
                        process_count=jax.process_count(), name="train")
  example = {"image": train_images[:1].astype(np.float32), "tokens": train_tokens[:1], "mask": np.ones((1,), np.float32)}
  data = Data(train=train, eval={}, example=example, batch_size=t.batch_size)
  num_steps = loop.total_steps(t, train.steps_per_epoch)
  m = config.model
  model = get_model("clip_net", encoder=m.encoder, encoder_kwargs=dict(m.encoder_kwargs), projection_hidden=m.projection_hidden,
                    projection_dim=m.projection_dim, vocab_size=len(vocab) + 1, text_embed=config.clip.text_embed,
                    text_positions=config.clip.text_positions)
  tx = optim.make_optimizer(config.optimizer, num_steps)

  def finish(state, evals, workdir):
    del evals, workdir
    params = state["params"]
    img = model.apply({"params": params}, jnp.asarray(test_images, jnp.float32), method=type(model).encode_image)
    txt = model.apply({"params": params}, jnp.asarray(test_tokens), method=type(model).encode_text)
    return retrieval_recall_at_1(np.asarray(img), np.asarray(txt), test_texts)

  task = clip_task(config, model, tx, train_images.shape[1:], test_tokens[None, :1], finish)
  return task, data, model, (test_images, test_scenes)


def run_clip_scenes(config: ml_collections.ConfigDict, workdir: str) -> dict[str, Any]:
  """Train CLIP on the captioned scenes; report image-text retrieval recall@1 on held-out scenes."""
  task, data, _, _ = clip_scenes_build(config)
  results = loop.fit(task, data, config, workdir)
  if jax.process_index() == 0:
    print({k: round(v, 4) for k, v in results.items() if k.startswith("recall")})
  return results
