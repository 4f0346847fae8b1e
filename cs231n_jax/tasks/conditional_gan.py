"""A class-conditional GAN on the digits (the 2016 unsupervised lecture; Mirza and Osindero 2014) as an
engine task.

Conditioning by concatenation: the generator reads [z, onehot(y)] and the discriminator reads
[x, onehot(y)] — the project's MLP generator and discriminator (:mod:`cs231n_jax.generative.gan`)
take these wider inputs unchanged. One discriminator and one generator update per step, the
non-saturating generator loss; real pairs (x, y) come from the training split, fake pairs are
(G(z, y), y) with y drawn uniformly. A new task rather than :mod:`cs231n_jax.tasks.adversarial`:
that task's batches hold images only and its networks are called without labels.

After training (``finish``): ``samples_per_class`` samples of every class are judged by a
classifier trained on the real training digits only (logistic regression on the pixels,
:mod:`cs231n_jax.baselines`' settings); the accuracy of its verdict against the requested class,
per class and overall, and a grid of samples (row = class).
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
from cs231n_jax.data.pipeline import BatchIterator
from cs231n_jax.errors import ConfigError
from cs231n_jax.generative import gan
from cs231n_jax.train import loop
from cs231n_jax.train.task import Data, Task

RUNNER = "cs231n_jax.tasks.conditional_gan:run"


def base_config() -> ml_collections.ConfigDict:
  c = ml_collections.ConfigDict()
  c.runner = RUNNER
  c.seed = 0
  c.data = ml_collections.ConfigDict({"name": "digits", "view": "8x8x1"})
  c.model = ml_collections.ConfigDict({"latent_dim": 32, "hidden": (256, 256)})
  c.eval = ml_collections.ConfigDict({"samples_per_class": 100})
  c.optimizer = ml_collections.ConfigDict({"generator": optim.default_config("adam", 2e-4),
                                           "discriminator": optim.default_config("adam", 2e-4)})
  for block in (c.optimizer.generator, c.optimizer.discriminator):
    block.b1 = 0.5
    block.eps = 1e-8
  c.train = loop.engine_config()
  c.train.update({"batch_size": 64, "num_steps": 3000, "log_every": 100, "eval_every": 0, "checkpoint_every": 3000,
                  "keep_checkpoints": 1})
  return c


def condition(x: jax.Array, labels: jax.Array, num_classes: int) -> jax.Array:
  """[flattened x, onehot(labels)]: the conditioned input of either network."""
  return jnp.concatenate([x.reshape(x.shape[0], -1), jax.nn.one_hot(labels, num_classes, dtype=x.dtype)], -1)


def conditional_gan_task(generator, discriminator, g_tx, d_tx, latent_dim: int, num_classes: int, finish=None) -> Task:
  def init(key, example):
    kg, kd = jax.random.split(key)
    g = generator.init(kg, condition(jnp.zeros((1, latent_dim)), jnp.zeros((1,), jnp.int32), num_classes))["params"]
    d = discriminator.init(kd, condition(jnp.asarray(example["image"]), jnp.asarray(example["label"]), num_classes))["params"]
    return {"g": g, "d": d, "g_opt": g_tx.init(g), "d_opt": d_tx.init(d)}

  def fake(g_params, key, labels):
    z = jax.random.normal(key, (labels.shape[0], latent_dim))
    return generator.apply({"params": g_params}, condition(z, labels, num_classes))

  def train_step(state, batch, key, axis_name=None):
    del axis_name
    real, labels = batch["image"], batch["label"]
    kz1, kz2, ky = jax.random.split(key, 3)
    fake_labels = jax.random.randint(ky, labels.shape, 0, num_classes)
    x_fake = fake(state["g"], kz1, fake_labels)

    def d_loss_fn(d):
      lr = discriminator.apply({"params": d}, condition(real, labels, num_classes))
      lf = discriminator.apply({"params": d}, condition(x_fake, fake_labels, num_classes))
      return gan.discriminator_loss(lr, lf), (lr, lf)

    (d_loss, (lr, lf)), d_grads = jax.value_and_grad(d_loss_fn, has_aux=True)(state["d"])
    d_updates, d_opt = d_tx.update(d_grads, state["d_opt"], state["d"])
    d = optax.apply_updates(state["d"], d_updates)

    def g_loss_fn(g):
      x = fake(g, kz2, fake_labels)
      return gan.generator_loss(discriminator.apply({"params": d}, condition(x, fake_labels, num_classes)))

    g_loss, g_grads = jax.value_and_grad(g_loss_fn)(state["g"])
    g_updates, g_opt = g_tx.update(g_grads, state["g_opt"], state["g"])
    return ({"g": optax.apply_updates(state["g"], g_updates), "d": d, "g_opt": g_opt, "d_opt": d_opt},
            {"loss": d_loss, "d_loss": d_loss, "g_loss": g_loss, "d_real": jnp.mean(jax.nn.sigmoid(lr)),
             "d_fake": jnp.mean(jax.nn.sigmoid(lf))})

  return Task(init=init, train_step=train_step, eval_step=None, best=lambda s: s, with_best=lambda s, b: b, finish=finish,
              name="conditional_gan")


def judge(train_images: np.ndarray, train_labels: np.ndarray):
  """A logistic-regression classifier of the real training digits (flattened pixels)."""
  from sklearn.linear_model import LogisticRegression

  from cs231n_jax.baselines import LOGISTIC_MAX_ITER

  return LogisticRegression(max_iter=LOGISTIC_MAX_ITER).fit(train_images.reshape(len(train_images), -1), train_labels)


def run(config: ml_collections.ConfigDict, workdir: str) -> dict[str, Any]:
  """Train the conditional GAN; judge ``eval.samples_per_class`` samples per class."""
  m = config.model
  if isinstance(m.latent_dim, bool) or not isinstance(m.latent_dim, int) or m.latent_dim < 1:
    raise ConfigError(f"model.latent_dim: expected a positive integer, got {m.latent_dim!r}")
  if config.eval.samples_per_class < 1:
    raise ConfigError(f"eval.samples_per_class: expected a positive integer, got {config.eval.samples_per_class!r}")
  dataset = load_dataset({**config.data.to_dict(), "scale": True, "subtract_mean": False})
  split = dataset.train
  images = (np.asarray(split.images, np.float32) * 2.0 - 1.0)  # [0, 1] -> [-1, 1], the generator's tanh range
  labels = np.asarray(split.labels, np.int32)
  num_classes = int(labels.max()) + 1
  from cs231n_jax.data.pipeline import ArraySource

  source = ArraySource({"image": images, "label": labels})
  t = config.train
  train = BatchIterator(source, t.batch_size, seed=config.seed, last_batch="drop", name="train")
  data = Data(train=train, eval={}, example=source.get_batch(np.arange(1)), batch_size=t.batch_size)
  generator = gan.MLPGenerator(out_shape=tuple(images.shape[1:]), hidden=tuple(m.hidden))
  discriminator = gan.MLPDiscriminator(hidden=tuple(m.hidden))
  g_tx = optim.make_optimizer(config.optimizer.generator, t.num_steps)
  d_tx = optim.make_optimizer(config.optimizer.discriminator, t.num_steps)
  n = config.eval.samples_per_class
  out: dict[str, Any] = {}

  def finish(state, evals, path):
    del evals
    classifier = judge(images, labels)
    wanted = np.repeat(np.arange(num_classes), n).astype(np.int32)
    z = jax.random.normal(jax.random.key(config.seed + 7), (len(wanted), m.latent_dim))
    samples = np.asarray(generator.apply({"params": state["g"]}, condition(z, jnp.asarray(wanted), num_classes)))
    said = classifier.predict(samples.reshape(len(samples), -1))
    per_class = [float(np.mean(said[wanted == c] == c)) for c in range(num_classes)]
    test = dataset.test
    real_acc = float(classifier.score((np.asarray(test.images, np.float32) * 2 - 1).reshape(len(test), -1), test.labels))
    _grid(samples, num_classes, n, epath.Path(path) / "conditional_samples.png")
    out.update({"sample_accuracy": float(np.mean(said == wanted)), "sample_accuracy_per_class": per_class,
                "judge_test_accuracy_on_real_digits": real_acc})
    return dict(out)

  task = conditional_gan_task(generator, discriminator, g_tx, d_tx, m.latent_dim, num_classes, finish)
  return loop.fit(task, data, config, workdir)


def _grid(samples: np.ndarray, num_classes: int, per_class: int, path) -> None:
  import matplotlib.pyplot as plt

  from cs231n_jax.plotting import save_figure

  cols = min(per_class, 10)
  fig, axes = plt.subplots(num_classes, cols, figsize=(cols * 0.6, num_classes * 0.6))
  for c in range(num_classes):
    for j in range(cols):
      ax = axes[c, j]
      ax.imshow(samples[c * per_class + j, ..., 0], cmap="gray", vmin=-1, vmax=1)
      ax.axis("off")
  save_figure(fig, path, dpi=100, bbox_inches="tight")
  plt.close(fig)
