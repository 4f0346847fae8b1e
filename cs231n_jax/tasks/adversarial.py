"""Adversarial training as a task: a generator and a discriminator, two optimizers, ``k``
discriminator updates per generator update (lecture 13's GANs; the maths is
:mod:`cs231n_jax.generative.gan`).

- The state is the whole :class:`~cs231n_jax.generative.gan.GANState`: both networks' parameters,
  batch statistics and optimizer states.
- A batch is ``{"real": k x batch_size examples}``, drawn with replacement from the training data
  by :class:`ReplacementSampler`, whose draw for a step depends only on ``(seed, step)``, so a
  resumed run sees exactly the batches an uninterrupted one would. The step splits the examples
  into ``k`` discriminator minibatches.
- The step's key (the engine's) draws the noise of every update and the gradient penalty's
  interpolation points.
- A GAN has no validation loss: the task has no evaluation step and the engine keeps the last
  state. The metrics are ``d_loss``, ``g_loss``, ``d_real`` / ``d_fake`` (mean discriminator
  outputs) and ``loss``, which is the discriminator's loss (``-V(D, G)`` for the minimax game; the
  engine stops a run whose loss is not finite).

``run(config, workdir)`` trains a GAN on the digits (``data.name = "digits"``, images in [-1, 1])
or on the 8-Gaussians ring (``"ring"``) and leaves samples and the two losses' curves in the
workdir. The studies of :mod:`cs231n_jax.studies.gans` (sample scores, memorisation, latent
space, the loss / k comparisons, mode coverage, saturation) run it and analyse the result.

The two optimizers come from the project's one factory (:func:`cs231n_jax.optim.make_optimizer`),
each from its own block (``optimizer.generator``, ``optimizer.discriminator``). Their defaults are
optax's ``adam`` (eps 1e-8) and ``rmsprop`` (decay 0.9, eps 1e-8 inside the square root), which
the GAN experiments were measured with; the lecture-7 defaults (eps 1e-7 outside the root, decay
0.99) would move the measured numbers.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import jax
import ml_collections
import numpy as np
import optax
from etils import epath

from cs231n_jax import optim
from cs231n_jax.errors import ConfigError
from cs231n_jax.generative import gan as gan_lib
from cs231n_jax.generative.data import load_level_digits, to_symmetric
from cs231n_jax.models.registry import get_model
from cs231n_jax.train import loop, parallel
from cs231n_jax.train.metrics import read_jsonl
from cs231n_jax.train.steps import PMAP_AXIS
from cs231n_jax.train.task import Data, Task

RUNNER = "cs231n_jax.tasks.adversarial:run"
ARCHS = ("mlp", "dcgan")  # model.arch: the registry's "<arch>_generator" and "<arch>_discriminator"
DATASETS = ("digits", "ring")
OPTIMIZERS = ("adam", "rmsprop")
SAMPLES_NAME = "samples.png"
LOSSES_NAME = "losses.png"
NUM_SAMPLES = 100
SAMPLE_SEED_OFFSET = 7  # samples are drawn with key(seed + 7)


def optimizer_block(name: str = "adam", learning_rate: float = 2e-4, b1: float = 0.5,
                    b2: float = 0.999) -> ml_collections.ConfigDict:
  """A factory block (:mod:`cs231n_jax.optim.factory`) with optax's Adam / RMSProp constants."""
  return ml_collections.ConfigDict({"name": name, "learning_rate": learning_rate, "b1": b1, "b2": b2, "eps": 1e-8,
                                    "decay_rate": 0.9, "eps_in_sqrt": True})  # the last two: RMSProp only


def base_config(arch: str = "mlp") -> ml_collections.ConfigDict:
  """Defaults of every field a GAN run reads (DCGAN's Adam(2e-4, beta1 = 0.5) for both networks);
  experiment configs start from this."""
  c = ml_collections.ConfigDict()
  c.runner = RUNNER
  c.seed = 0
  # "digits": the training digits in [-1, 1]; "ring": num_points from the 8-Gaussians ring, drawn
  # with data.seed.
  c.data = ml_collections.ConfigDict({"name": "digits", "num_points": 100000, "seed": 0})
  c.loss = "non_saturating"  # one of cs231n_jax.generative.gan.GAN_LOSSES
  c.k = 1  # discriminator steps per generator step ("no real clear rule", the lecture says)
  c.latent_dim = 32
  c.prior = "normal"
  # pack (MLP discriminator only): PacGAN's m, the examples judged jointly as one input (1: the plain GAN).
  c.model = ml_collections.ConfigDict({"arch": arch, "g_hidden": (256, 256), "d_hidden": (256, 256),
                                       "base_features": 64, "pack": 1})
  c.optimizer = ml_collections.ConfigDict({"generator": optimizer_block(), "discriminator": optimizer_block()})
  c.train = loop.engine_config()
  # One step is one generator update (and k discriminator updates); batch_size is the examples of
  # one discriminator update, so a step reads k * batch_size real examples.
  c.train.update({"num_steps": 5000, "num_epochs": 0, "batch_size": 64, "log_every": 250,
                  "checkpoint_every": 2500})
  return c


def make_optimizer(block: ml_collections.ConfigDict, num_updates: int, where: str) -> optax.GradientTransformation:
  """One network's optimizer from its block, through the factory (``num_updates``: that network's
  updates in the run, for schedules)."""
  if block.get("name") not in OPTIMIZERS:
    raise ConfigError(f"{where}.name: expected one of {OPTIMIZERS}, got {block.get('name')!r}")
  return optim.make_optimizer(block, num_updates, where)


def check_config(config: ml_collections.ConfigDict) -> None:
  """Raise ``ConfigError`` naming the first impossible value."""
  loop.check_engine_config(config.train)
  if config.loss not in gan_lib.GAN_LOSSES:
    raise ConfigError(f"loss: expected one of {gan_lib.GAN_LOSSES}, got {config.loss!r}")
  if isinstance(config.k, bool) or not isinstance(config.k, int) or config.k < 1:
    raise ConfigError(f"k: expected at least 1 discriminator step per generator step, got {config.k!r}")
  if config.prior not in gan_lib.LATENT_PRIORS:
    raise ConfigError(f"prior: expected one of {gan_lib.LATENT_PRIORS}, got {config.prior!r}")
  if config.model.arch not in ARCHS:
    raise ConfigError(f"model.arch: expected one of {ARCHS}, got {config.model.arch!r}")
  if config.data.name not in DATASETS:
    raise ConfigError(f"data.name: expected one of {DATASETS}, got {config.data.name!r}")
  pack = config.model.get("pack", 1)
  if isinstance(pack, bool) or not isinstance(pack, int) or pack < 1:
    raise ConfigError(f"model.pack: expected a whole number of examples per discriminator input (>= 1), got {pack!r}")
  if pack > 1:
    if config.model.arch != "mlp":
      raise ConfigError(f"model.pack: packing is an option of the MLP discriminator, not of model.arch={config.model.arch!r}")
    if config.loss == "wgan_gp":
      raise ConfigError("model.pack: the gradient penalty is per example; use pack = 1 with loss = 'wgan_gp'")
    if config.train.batch_size % pack:
      raise ConfigError(f"model.pack: train.batch_size = {config.train.batch_size} is not a multiple of {pack}")
  for net in ("generator", "discriminator"):
    if net not in config.optimizer:
      raise ConfigError(f"optimizer.{net}: a GAN config names both networks' optimizers")


def build_networks(config: ml_collections.ConfigDict, data_shape, bn_axis_name: str | None = None) -> tuple[Any, Any]:
  """The generator and discriminator ``config.model`` names for examples of ``data_shape``: the
  registered models ``<model.arch>_generator`` and ``<model.arch>_discriminator``."""
  m = config.model
  if m.arch == "mlp":
    out = "tanh" if len(data_shape) == 3 else "linear"
    g_kwargs = {"out_shape": tuple(data_shape), "hidden": tuple(m.g_hidden), "output": out}
    d_kwargs = {"hidden": tuple(m.d_hidden), "pack": m.get("pack", 1)}
  elif m.arch == "dcgan":
    norm = "none" if config.loss == "wgan_gp" else "batch"  # WGAN-GP: no batch norm in the critic
    g_kwargs = {"image_shape": tuple(data_shape), "base_features": m.base_features, "bn_axis_name": bn_axis_name}
    d_kwargs = {"base_features": m.base_features, "norm": norm, "bn_axis_name": bn_axis_name}
  else:
    raise ConfigError(f"model.arch: expected one of {ARCHS}, got {m.arch!r}")
  return get_model(f"{m.arch}_generator", **g_kwargs), get_model(f"{m.arch}_discriminator", **d_kwargs)


def training_examples(config: ml_collections.ConfigDict) -> np.ndarray:
  """The examples the GAN learns: digits in [-1, 1] (the generator's tanh range), ``(N, 8, 8, 1)``,
  or ring points ``(N, 2)``."""
  if config.data.name == "ring":
    return gan_lib.ring_data(np.random.default_rng(config.data.seed), config.data.num_points)
  data = load_level_digits(False)
  return to_symmetric(data.train.astype(np.float32), data.num_levels)


# ---------------------------------------------------------------------------------------------
# Batches.


@dataclasses.dataclass
class ReplacementSampler:
  """Training batches drawn with replacement: step ``i`` reads the examples
  ``default_rng([seed, i]).integers(len(data), size=(k, batch_size))``, flattened, as ``{"real":
  (k * batch_size, ...)}`` (this process's contiguous share of them under several processes).

  The draw depends only on the seed and the position, so ``state()`` is the position alone and a
  restored sampler continues exactly. An "epoch" is ``len(data) // (k * batch_size)`` steps.
  """

  data: np.ndarray
  batch_size: int
  k: int = 1
  seed: int = 0
  process_index: int = 0
  process_count: int = 1
  position: int = 0

  def __post_init__(self):
    if (self.k * self.batch_size) % self.process_count:
      raise ConfigError(f"train.batch_size: k x batch_size = {self.k * self.batch_size} does not split over "
                        f"{self.process_count} processes")

  @property
  def steps_per_epoch(self) -> int:
    return max(1, len(self.data) // (self.k * self.batch_size))

  def indices(self, position: int) -> np.ndarray:
    """The global batch's example indices at ``position``, ``(k, batch_size)``."""
    return np.random.default_rng([self.seed, position]).integers(len(self.data), size=(self.k, self.batch_size))

  def __iter__(self):
    return self

  def __next__(self) -> dict[str, np.ndarray]:
    flat = self.indices(self.position).reshape(-1)
    share = len(flat) // self.process_count
    self.position += 1
    return {"real": self.data[flat[self.process_index * share:(self.process_index + 1) * share]]}

  def state(self) -> dict[str, int]:
    return {"position": self.position}

  def restore(self, state: dict[str, Any]) -> None:
    self.position = int(state["position"])


# ---------------------------------------------------------------------------------------------
# The task.


def networks_of(state: gan_lib.GANState) -> dict[str, Any]:
  return {"g_params": state.g_params, "g_stats": state.g_stats, "d_params": state.d_params, "d_stats": state.d_stats}


def with_networks(state: gan_lib.GANState, best: dict[str, Any]) -> gan_lib.GANState:
  return state.replace(**best)


def adversarial_task(generator, discriminator, g_tx: optax.GradientTransformation, d_tx: optax.GradientTransformation,
                     *, loss: str = "non_saturating", k: int = 1, latent_dim: int, prior: str = "normal",
                     finish=None) -> Task:
  """The task training ``generator`` against ``discriminator`` with ``k`` discriminator updates
  (``d_tx``) per generator update (``g_tx``) on the ``loss`` of :data:`gan_lib.GAN_LOSSES`."""
  gan_lib.check_loss(loss)
  updates = {}

  def update_for(axis_name):
    if axis_name not in updates:
      updates[axis_name] = gan_lib.make_update(generator, discriminator, g_tx, d_tx, loss=loss, latent_dim=latent_dim,
                                               prior=prior, axis_name=axis_name)
    return updates[axis_name]

  def init(key, example):
    return gan_lib.init_gan_state(generator, discriminator, g_tx, d_tx, example["real"].shape[1:], latent_dim, key)

  def train_step(state, batch, key, axis_name=None):
    real = batch["real"]
    if real.shape[0] % k:
      raise ConfigError(f"train.batch_size: this device's {real.shape[0]} examples do not split into k = {k} batches")
    real = real.reshape(k, real.shape[0] // k, *real.shape[1:])
    state, metrics = update_for(axis_name)(state, real, key)
    return state.replace(step=state.step + 1), {"loss": metrics["d_loss"], **metrics}

  return Task(init=init, train_step=train_step, best=networks_of, with_best=with_networks, finish=finish,
              name="adversarial")


# ---------------------------------------------------------------------------------------------
# From a config to the engine.


@dataclasses.dataclass(frozen=True)
class Built:
  """What :func:`build` makes: the task, its data, both networks, and the training examples."""

  task: Task
  data: Data
  generator: Any
  discriminator: Any
  examples: np.ndarray


def build(config: ml_collections.ConfigDict, examples: np.ndarray | None = None, finish=None) -> Built:
  """The task and data of a GAN config (``examples``: the training examples, default
  :func:`training_examples`)."""
  check_config(config)
  parallel.initialize()
  t = config.train
  if t.step != "jit":
    parallel.check_batch_size(t.batch_size)
  examples = training_examples(config) if examples is None else np.asarray(examples, np.float32)
  generator, discriminator = build_networks(config, examples.shape[1:], PMAP_AXIS if t.step == "pmap" else None)
  sampler = ReplacementSampler(examples, t.batch_size, config.k, config.seed, jax.process_index(), jax.process_count())
  num_steps = loop.total_steps(t, sampler.steps_per_epoch)  # generator updates; D makes k per step
  g_tx = make_optimizer(config.optimizer.generator, num_steps, "optimizer.generator")
  d_tx = make_optimizer(config.optimizer.discriminator, config.k * num_steps, "optimizer.discriminator")
  task = adversarial_task(generator, discriminator, g_tx, d_tx, loss=config.loss, k=config.k,
                          latent_dim=config.latent_dim, prior=config.prior, finish=finish)
  data = Data(train=sampler, eval={}, example={"real": examples[:1]}, batch_size=config.k * t.batch_size)
  return Built(task, data, generator, discriminator, examples)


def generate(built: Built, config: ml_collections.ConfigDict, state: gan_lib.GANState, num: int,
             key: jax.Array | None = None) -> np.ndarray:
  """``num`` samples ``G(z)`` of the trained generator (images in [-1, 1] or ring points)."""
  key = jax.random.key(config.seed + SAMPLE_SEED_OFFSET) if key is None else key
  return np.asarray(gan_lib.generate(built.generator, state, key, num, config.latent_dim, config.prior))


def plot_losses(workdir: str | epath.PathLike, title: str) -> None:
  """The discriminator's and the generator's training losses against the generator step."""
  from cs231n_jax.generative import plots

  records = [r for r in read_jsonl(epath.Path(workdir) / "metrics.jsonl") if r.get("split") == "train"]
  if records:
    steps = [r["step"] for r in records]
    plots.save_curves([("D loss", steps, [r["d_loss"] for r in records]),
                       ("G loss", steps, [r["g_loss"] for r in records])],
                      epath.Path(workdir) / LOSSES_NAME, "generator step", "loss", title)


def title_of(config: ml_collections.ConfigDict) -> str:
  where = "8x8 digits" if config.data.name == "digits" else "the 8-Gaussians ring"
  return f"{config.model.arch.upper()} GAN ({config.loss}, k={config.k}) on {where}"


def run(config: ml_collections.ConfigDict, workdir: str) -> dict[str, Any]:
  """Train the GAN of ``config`` in ``workdir``; leave a sample sheet (digits) or scatter (ring)
  and the two losses' curves there. Returns the engine's results plus the ring's mode coverage."""
  from cs231n_jax.generative import plots

  holder = {}

  def finish(state, evals, workdir):
    del evals
    if jax.process_index() != 0:
      return {}
    samples = generate(holder["built"], config, state, NUM_SAMPLES if config.data.name == "digits" else 2000)
    plot_losses(workdir, title_of(config))
    if config.data.name == "digits":
      plots.save_image_grid((samples + 1.0) / 2.0, epath.Path(workdir) / SAMPLES_NAME, title=title_of(config))
      return {}
    cov = gan_lib.mode_coverage(samples)
    plots.save_ring_scatter([("samples", samples)], gan_lib.ring_centres(), epath.Path(workdir) / SAMPLES_NAME)
    return {"modes_covered": cov["modes_covered"], "high_quality_fraction": cov["high_quality_fraction"]}

  holder["built"] = built = build(config, finish=finish)
  return loop.fit(built.task, built.data, config, workdir)


def restore(config: ml_collections.ConfigDict, workdir: str, examples: np.ndarray | None = None):
  """``(built, state)``: the GAN of ``config`` with the newest checkpoint of ``workdir``."""
  built = build(config, examples)
  state, _, _ = loop.restore_best(built.task, built.data, config, workdir)
  return built, state["task"]
