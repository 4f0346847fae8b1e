"""Pretext tasks as tasks (notes chapter 14, L1764-1776): rotation prediction and jigsaw.

- ``rotation`` (Gidaris et al. 2018; the notes give no angles): each image is turned by one of 4
  multiples of 90 degrees, drawn per example from the step's key; a linear head on the encoder's
  features h predicts which.
- ``jigsaw`` (Noroozi and Favaro 2016, the notes' "rearrangement"): the image is cut into a 3x3
  grid of tiles (digits: padded from 8x8 to 9x9, 3x3-pixel tiles), the tiles are shuffled by one of
  a FIXED set of permutations (``jigsaw_permutations``: chosen greedily for a large minimum Hamming
  distance from a seeded pool, as the paper does; the paper uses 1000 of 9!, ``num_permutations``
  is a config field), reassembled, and the head predicts the permutation's index. (The paper's
  network embeds tiles separately; here one encoder sees the shuffled image, so its features are
  those the probe reads on ordinary images.)

Both are trained through the engine like every task; ``finish`` probes the frozen encoder with the
protocol of :mod:`cs231n_jax.tasks.contrastive` and reports the pretext accuracy on the test split
("pretext performance doesn't matter, downstream does", L1809: the probe table shows both).
"""

from __future__ import annotations

import itertools
from typing import Any

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax

from cs231n_jax import optim
from cs231n_jax.data import load_dataset
from cs231n_jax.errors import ConfigError
from cs231n_jax.models.registry import get_model
from cs231n_jax.ssl import views
from cs231n_jax.tasks import contrastive
from cs231n_jax.train import loop, parallel
from cs231n_jax.train.steps import mean_over_valid, psum_if
from cs231n_jax.train.task import Task

METHODS = ("rotation", "jigsaw")
NUM_ROTATIONS = 4
GRID = 3
JIGSAW_PERMUTATIONS = 1000  # Noroozi and Favaro 2016
JIGSAW_POOL = 20_000


def base_config() -> ml_collections.ConfigDict:
  c = contrastive.base_config()
  c.runner = "cs231n_jax.tasks.pretext:run"
  c.method = "rotation"
  c.views.view1 = ""  # no augmentation by default (the pretext transformation is the signal)
  c.jigsaw = ml_collections.ConfigDict({"num_permutations": JIGSAW_PERMUTATIONS, "permutation_seed": 0})
  return c


def jigsaw_permutations(count: int, seed: int = 0, pool: int = JIGSAW_POOL) -> np.ndarray:
  """``count`` permutations of 9 tiles, greedily chosen from a seeded pool of distinct ones so that
  each new one is the farthest (in Hamming distance) from those already chosen. (count, 9) int32."""
  if not 2 <= count <= 362880:
    raise ConfigError(f"jigsaw.num_permutations: expected 2..9!, got {count}")
  rng = np.random.default_rng(seed)
  if count > pool // 2:
    cands = np.array(list(itertools.permutations(range(9))), np.int8)
  else:
    cands = np.unique(np.stack([rng.permutation(9) for _ in range(pool)]).astype(np.int8), axis=0)
  chosen = [int(rng.integers(len(cands)))]
  dist = np.sum(cands != cands[chosen[0]], axis=1)
  for _ in range(count - 1):
    nxt = int(np.argmax(dist))
    chosen.append(nxt)
    dist = np.minimum(dist, np.sum(cands != cands[nxt], axis=1))
  return cands[chosen].astype(np.int32)


def to_grid(images: jax.Array) -> tuple[jax.Array, int]:
  """Pad (bottom / right, zeros) so H and W are multiples of 3; returns the images and the tile size."""
  n, h, w, c = images.shape
  tile = -(-max(h, w) // GRID)
  return jnp.pad(images, ((0, 0), (0, GRID * tile - h), (0, GRID * tile - w), (0, 0))), tile


def shuffle_tiles(image: jax.Array, perm: jax.Array, tile: int) -> jax.Array:
  """Tile ``perm[i]`` of ``image`` (row-major 3x3 grid) goes to position ``i``."""
  c = image.shape[-1]
  tiles = image.reshape(GRID, tile, GRID, tile, c).transpose(0, 2, 1, 3, 4).reshape(GRID * GRID, tile, tile, c)
  tiles = tiles[perm]
  return tiles.reshape(GRID, GRID, tile, tile, c).transpose(0, 2, 1, 3, 4).reshape(GRID * tile, GRID * tile, c)


def rotate_by(images: jax.Array, k: jax.Array) -> jax.Array:
  """Each image turned by ``k[i]`` x 90 degrees counter-clockwise (square images)."""
  turns = jnp.stack([jnp.rot90(images, r, axes=(1, 2)) for r in range(NUM_ROTATIONS)])  # (4, N, H, W, C)
  return jnp.take_along_axis(turns, k[None, :, None, None, None], axis=0)[0]


def pretext_batch(method: str, key: jax.Array, images: jax.Array, perms: jax.Array | None):
  """The transformed images and their pretext labels, drawn per example from ``key``."""
  n = images.shape[0]
  if method == "rotation":
    labels = jax.random.randint(key, (n,), 0, NUM_ROTATIONS)
    return rotate_by(images, labels), labels
  labels = jax.random.randint(key, (n,), 0, perms.shape[0])
  grid, tile = to_grid(images)
  return jax.vmap(lambda im, p: shuffle_tiles(im, p, tile))(grid, perms[labels]), labels


def pretext_task(config: ml_collections.ConfigDict, model, tx: optax.GradientTransformation, image_shape, finish=None):
  method = config.method
  perms = jnp.asarray(jigsaw_permutations(config.jigsaw.num_permutations, config.jigsaw.permutation_seed)) \
      if method == "jigsaw" else None
  aug = views.parse_pipeline(config.views.view1)
  input_shape = image_shape if method == "rotation" else to_grid(jnp.zeros((1, *image_shape)))[0].shape[1:]

  def init(key, example):
    params = model.init(key, jnp.zeros((1, *input_shape), jnp.float32))["params"]
    return {"params": params, "opt_state": tx.init(params)}

  def train_step(state, batch, key, axis_name=None):
    aug_key, key = jax.random.split(key)
    images = views.views(aug_key, batch["image"], [aug])[0] if aug else batch["image"]
    x, labels = pretext_batch(method, key, images, perms)
    ones = jnp.ones(labels.shape, jnp.float32)

    def loss_fn(p):
      logits = model.apply({"params": p}, x)["logits"]
      return mean_over_valid(optax.softmax_cross_entropy_with_integer_labels(logits, labels), ones, axis_name), logits

    (loss, logits), grads = jax.value_and_grad(loss_fn, has_aux=True)(state["params"])
    grads = psum_if(grads, axis_name)
    updates, opt_state = tx.update(grads, state["opt_state"], state["params"])
    acc = mean_over_valid(jnp.argmax(logits, -1) == labels, ones, axis_name)
    return ({"params": optax.apply_updates(state["params"], updates), "opt_state": opt_state},
            {"loss": psum_if(loss, axis_name), "accuracy": psum_if(acc, axis_name)})

  return Task(init=init, train_step=train_step, best=lambda s: s, with_best=lambda s, b: b, finish=finish,
              name=f"pretext/{method}"), perms


def build(config: ml_collections.ConfigDict):
  if config.method not in METHODS:
    raise ConfigError(f"method: expected one of {METHODS}, got {config.method!r}")
  loop.check_engine_config(config.train)
  parallel.initialize()
  dataset = load_dataset(config.data)
  if config.method == "rotation" and dataset.image_shape[0] != dataset.image_shape[1]:
    raise ConfigError(f"method: rotation by 90 degrees needs square images, got {dataset.image_shape}")
  data = contrastive.ssl_data(dataset, config)
  num_steps = loop.total_steps(config.train, data.train.steps_per_epoch)
  num_classes = NUM_ROTATIONS if config.method == "rotation" else config.jigsaw.num_permutations
  m = config.model
  model = get_model("ssl_net", encoder=m.encoder, encoder_kwargs=dict(m.encoder_kwargs), projection_dim=0,
                    num_classes=num_classes)
  tx = optim.make_optimizer(config.optimizer, num_steps)
  holder = {}

  def finish(state, evals, workdir):
    del evals, workdir
    params = state["params"]
    prep = (lambda x: x) if config.method == "rotation" else (lambda x: np.asarray(to_grid(jnp.asarray(x))[0]))
    out = contrastive.probe_results(config, dataset, lambda x: contrastive.features(model, params, prep(x)))
    x, labels = pretext_batch(config.method, jax.random.PRNGKey(config.seed), jnp.asarray(dataset.test.images),
                              holder["perms"])
    logits = model.apply({"params": params}, x)["logits"]
    out["pretext_accuracy"] = float(jnp.mean(jnp.argmax(logits, -1) == labels))
    out["pretext_chance"] = 1.0 / num_classes
    return out

  task, holder["perms"] = pretext_task(config, model, tx, dataset.image_shape, finish)
  return task, data, model, dataset


def run(config: ml_collections.ConfigDict, workdir: str) -> dict[str, Any]:
  """Train the pretext task, then probe the frozen encoder."""
  task, data, _, _ = build(config)
  return loop.fit(task, data, config, workdir)
