"""LAPGAN (Denton et al. 2015; the 2016 unsupervised lecture) as a two-level Laplacian pyramid on the 8x8
digits, trained by the engine.

Pyramid: ``down`` = 2x2 average pooling (8x8 -> 4x4), ``up`` = nearest-neighbour upsampling; the
residual of an image x is h = x - up(down(x)), and up(down(x)) + h = x (:func:`reconstruct`; exact
up to float rounding). Level 0: a GAN on the 4x4 coarse images down(x) (MLP generator and
discriminator). Level 1: a conditional GAN of the residual: G1 reads [z, up(c)] and emits h, D1
reads [h, up(c)] (real: the real residual of the real coarse image; fake: G1's). As in the paper the
levels train independently (each on real data of its own scale): one update of each of the four
networks per step, the non-saturating loss. Sampling chains them: c = G0(z0), x = up(c) + G1(z1, up(c)).

After training (``finish``): 1,000 samples judged by a logistic-regression classifier of the real
training digits: the mean of its top probability (how digit-like) and the entropy of the classes
it assigns (how diverse; log 10 = 2.303 for uniform), beside the same two numbers for the real
test digits; a figure of coarse samples, residuals and final samples.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax
from etils import epath

from cs231n_jax import optim
from cs231n_jax.data import load_dataset
from cs231n_jax.data.pipeline import ArraySource, BatchIterator
from cs231n_jax.errors import ConfigError
from cs231n_jax.generative import gan
from cs231n_jax.train import loop
from cs231n_jax.train.task import Data, Task

RUNNER = "cs231n_jax.tasks.lapgan:run"


def base_config() -> ml_collections.ConfigDict:
  c = ml_collections.ConfigDict()
  c.runner = RUNNER
  c.seed = 0
  c.data = ml_collections.ConfigDict({"name": "digits", "view": "8x8x1"})
  c.model = ml_collections.ConfigDict({"latent_dim": 16, "hidden": (128, 128)})
  c.eval = ml_collections.ConfigDict({"num_samples": 1000})
  c.optimizer = optim.default_config("adam", 2e-4)
  c.optimizer.b1 = 0.5
  c.optimizer.eps = 1e-8
  c.train = loop.engine_config()
  c.train.update({"batch_size": 64, "num_steps": 3000, "log_every": 100, "eval_every": 0, "checkpoint_every": 3000,
                  "keep_checkpoints": 1})
  return c


def down(x: jax.Array) -> jax.Array:
  """2x2 average pooling of NHWC images."""
  n, h, w, c = x.shape
  return x.reshape(n, h // 2, 2, w // 2, 2, c).mean(axis=(2, 4))


def up(c: jax.Array) -> jax.Array:
  """Nearest-neighbour 2x upsampling of NHWC images."""
  return jnp.repeat(jnp.repeat(c, 2, axis=1), 2, axis=2)


def residual(x: jax.Array) -> jax.Array:
  return x - up(down(x))


def reconstruct(coarse: jax.Array, res: jax.Array) -> jax.Array:
  return up(coarse) + res


def _flat_cat(*arrays):
  return jnp.concatenate([a.reshape(a.shape[0], -1) for a in arrays], -1)


class Nets:
  """The four networks and how each is called."""

  def __init__(self, image_shape, latent_dim: int, hidden):
    h, w, ch = image_shape
    self.latent_dim = latent_dim
    self.g0 = gan.MLPGenerator(out_shape=(h // 2, w // 2, ch), hidden=tuple(hidden))
    self.d0 = gan.MLPDiscriminator(hidden=tuple(hidden))
    self.g1 = gan.MLPGenerator(out_shape=(h, w, ch), hidden=tuple(hidden), output="linear")
    self.d1 = gan.MLPDiscriminator(hidden=tuple(hidden))

  def coarse(self, p, z):
    return self.g0.apply({"params": p}, z)

  def res(self, p, z, upsampled):
    return self.g1.apply({"params": p}, _flat_cat(z, upsampled))

  def d_res(self, p, res, upsampled):
    return self.d1.apply({"params": p}, _flat_cat(res, upsampled))

  def sample(self, params, key, num):
    k0, k1 = jax.random.split(key)
    c = self.coarse(params["g0"], jax.random.normal(k0, (num, self.latent_dim)))
    u = up(c)
    r = self.res(params["g1"], jax.random.normal(k1, (num, self.latent_dim)), u)
    return c, r, jnp.clip(u + r, -1.0, 1.0)


def lapgan_task(nets: Nets, tx, image_shape, finish=None) -> Task:
  names = ("g0", "d0", "g1", "d1")

  def init(key, example):
    del example
    h, w, ch = image_shape
    keys = jax.random.split(key, 4)
    z = jnp.zeros((1, nets.latent_dim))
    small, big = jnp.zeros((1, h // 2, w // 2, ch)), jnp.zeros((1, h, w, ch))
    params = {"g0": nets.g0.init(keys[0], z)["params"], "d0": nets.d0.init(keys[1], small)["params"],
              "g1": nets.g1.init(keys[2], _flat_cat(z, big))["params"], "d1": nets.d1.init(keys[3], _flat_cat(big, big))["params"]}
    return {"params": params, "opt": {n: tx.init(params[n]) for n in names}}

  def update(state_p, state_o, name, grads):
    updates, opt = tx.update(grads, state_o[name], state_p[name])
    return optax.apply_updates(state_p[name], updates), opt

  def train_step(state, batch, key, axis_name=None):
    del axis_name
    p, o = dict(state["params"]), dict(state["opt"])
    x = batch["image"]
    n = x.shape[0]
    coarse = down(x)
    u = up(coarse)
    real_res = x - u
    k = jax.random.split(key, 4)
    z = [jax.random.normal(ki, (n, nets.latent_dim)) for ki in k]
    fake_c = nets.coarse(p["g0"], z[0])
    fake_r = nets.res(p["g1"], z[1], u)

    def d0_loss(d):
      return gan.discriminator_loss(nets.d0.apply({"params": d}, coarse), nets.d0.apply({"params": d}, fake_c))

    def d1_loss(d):
      return gan.discriminator_loss(nets.d_res(d, real_res, u), nets.d_res(d, fake_r, u))

    l_d0, g = jax.value_and_grad(d0_loss)(p["d0"])
    p["d0"], o["d0"] = update(p, o, "d0", g)
    l_d1, g = jax.value_and_grad(d1_loss)(p["d1"])
    p["d1"], o["d1"] = update(p, o, "d1", g)

    def g0_loss(gp):
      return gan.generator_loss(nets.d0.apply({"params": p["d0"]}, nets.coarse(gp, z[2])))

    def g1_loss(gp):
      return gan.generator_loss(nets.d_res(p["d1"], nets.res(gp, z[3], u), u))

    l_g0, g = jax.value_and_grad(g0_loss)(p["g0"])
    p["g0"], o["g0"] = update(p, o, "g0", g)
    l_g1, g = jax.value_and_grad(g1_loss)(p["g1"])
    p["g1"], o["g1"] = update(p, o, "g1", g)
    return {"params": p, "opt": o}, {"loss": l_d0 + l_d1, "d0_loss": l_d0, "d1_loss": l_d1, "g0_loss": l_g0, "g1_loss": l_g1}

  return Task(init=init, train_step=train_step, eval_step=None, best=lambda s: s, with_best=lambda s, b: b, finish=finish,
              name="lapgan")


def _judge_stats(classifier, images: np.ndarray) -> tuple[float, float]:
  probs = classifier.predict_proba(images.reshape(len(images), -1))
  counts = np.bincount(probs.argmax(1), minlength=probs.shape[1]) / len(probs)
  nz = counts[counts > 0]
  return float(probs.max(1).mean()), float(-(nz * np.log(nz)).sum())


def run(config: ml_collections.ConfigDict, workdir: str) -> dict[str, Any]:
  """Train the two-level LAPGAN on the digits; judge its samples."""
  m = config.model
  if isinstance(m.latent_dim, bool) or not isinstance(m.latent_dim, int) or m.latent_dim < 1:
    raise ConfigError(f"model.latent_dim: expected a positive integer, got {m.latent_dim!r}")
  dataset = load_dataset({**config.data.to_dict(), "scale": True, "subtract_mean": False})
  images = np.asarray(dataset.train.images, np.float32) * 2.0 - 1.0
  if images.shape[1] % 2 or images.shape[2] % 2:
    raise ConfigError(f"data.view: the pyramid halves the image; expected even sides, got {images.shape[1:3]}")
  labels = np.asarray(dataset.train.labels)
  source = ArraySource({"image": images})
  t = config.train
  train = BatchIterator(source, t.batch_size, seed=config.seed, last_batch="drop", name="train")
  data = Data(train=train, eval={}, example=source.get_batch(np.arange(1)), batch_size=t.batch_size)
  nets = Nets(images.shape[1:], m.latent_dim, m.hidden)
  tx = optim.make_optimizer(config.optimizer, t.num_steps)

  def finish(state, evals, path):
    del evals
    from cs231n_jax.tasks.conditional_gan import judge

    classifier = judge(images, labels)
    c, r, x = (np.asarray(a) for a in nets.sample(state["params"], jax.random.key(config.seed + 11), config.eval.num_samples))
    test = np.asarray(dataset.test.images, np.float32) * 2.0 - 1.0
    conf, ent = _judge_stats(classifier, x)
    real_conf, real_ent = _judge_stats(classifier, test)
    _figure(c, r, x, epath.Path(path) / "lapgan_samples.png")
    return {"sample_judge_confidence": conf, "sample_class_entropy": ent, "real_test_judge_confidence": real_conf,
            "real_test_class_entropy": real_ent, "uniform_class_entropy": float(np.log(classifier.classes_.size))}

  return loop.fit(lapgan_task(nets, tx, images.shape[1:], finish), data, config, workdir)


def _figure(coarse, res, final, path) -> None:
  import matplotlib.pyplot as plt

  from cs231n_jax.plotting import save_figure

  cols = 10
  fig, axes = plt.subplots(3, cols, figsize=(cols * 0.7, 3 * 0.75))
  for j in range(cols):
    for row, (imgs, lo, hi) in enumerate(((coarse, -1, 1), (res, -1, 1), (final, -1, 1))):
      axes[row, j].imshow(imgs[j, ..., 0], cmap="gray", vmin=lo, vmax=hi)
      axes[row, j].axis("off")
  for row, name in enumerate(("G0: 4x4", "G1: residual", "up + residual")):
    axes[row, 0].set_title(name, fontsize=6, loc="left")
  save_figure(fig, path, dpi=100, bbox_inches="tight")
  plt.close(fig)
