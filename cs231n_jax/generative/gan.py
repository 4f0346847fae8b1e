"""Generative adversarial networks: the losses, MLP and DCGAN networks, one jitted training step that
holds two optax optimizers, the 8-Gaussians ring benchmark, and latent-space tools.

The 2017 lecture (@43500-57000): a generator ``G`` maps noise ``z`` to an image, a discriminator
``D`` gives the probability that its input is real (label 1) rather than generated (label 0), and
the two play the minimax game

    min_G max_D  E_x[log D(x)] + E_z[log(1 - D(G(z)))].

Training alternates ``k`` discriminator steps (gradient ascent on that objective) with one generator
step. The generator's minimax loss ``log(1 - D(G(z)))`` *saturates*: where ``D(G(z)) ~ 0`` (bad
samples, early in training) its gradient vanishes; the **non-saturating** loss ``-log D(G(z))`` has
a large gradient exactly there, and is the default. With ``D = sigmoid(a)``:
``d/da log(1 - sigmoid(a)) = -sigmoid(a) -> 0`` while ``d/da -log sigmoid(a) = -(1 - sigmoid(a)) -> -1``.

Losses the lecture only names, from the papers:

- LSGAN (Mao et al., "Least Squares Generative Adversarial Networks", ICCV 2017, eq. 2 with
  a = 0, b = c = 1): ``D: 1/2 E(D(x) - 1)^2 + 1/2 E D(G(z))^2``, ``G: 1/2 E(D(G(z)) - 1)^2`` on raw
  scores — the CS231n assignment's ``ls_discriminator_loss`` / ``ls_generator_loss``.
- WGAN (Arjovsky, Chintala, Bottou, ICML 2017, algorithm 1): a critic ``f`` maximises
  ``E f(x) - E f(G(z))`` with its weights clipped to ``[-c, c]`` after every update (c = 0.01), the
  generator minimises ``-E f(G(z))``; RMSProp, 5 critic steps per generator step.
- WGAN-GP (Gulrajani et al., "Improved Training of Wasserstein GANs", NeurIPS 2017, algorithm 1):
  no clipping; the critic loss adds ``lambda E(||grad_x f(x_hat)|| - 1)^2`` at random interpolates
  ``x_hat = eps x + (1 - eps) G(z)`` (lambda = 10), and the critic has no batch norm.

DCGAN (Radford, Metz, Chintala, ICLR 2016; the 2016 lecture quotes its guidelines): strided
convolutions instead of pooling in D, fractionally-strided (transposed) convolutions in G, batch norm
in both (not on G's output or D's input), no fully connected hidden layers, ReLU in G with a tanh
output, LeakyReLU (slope 0.2) in D, weights from N(0, 0.02), Adam(2e-4, beta1 = 0.5).
"""

from __future__ import annotations

import functools
import math
from typing import Any, Callable, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import struct

from cs231n_jax.models.registry import register

GAN_LOSSES = ("minimax", "non_saturating", "lsgan", "wgan", "wgan_gp")
LATENT_PRIORS = ("normal", "uniform")
LEAKY_SLOPE = 0.2  # DCGAN's LeakyReLU slope
DCGAN_INIT_STD = 0.02  # DCGAN's weight initialisation N(0, 0.02)
BN_MOMENTUM = 0.9
WGAN_CLIP = 0.01
GP_WEIGHT = 10.0
LATENT_DIM = 32  # the latent size the registry builds and counts a generator at (the GAN configs' default)


# ----------------------------------------------------------------------------------------------
# Losses. Discriminator outputs are logits a (D = sigmoid(a)) for minimax / non-saturating and raw
# scores for LSGAN / WGAN. Every loss is *minimised*.


def discriminator_loss(logits_real: jax.Array, logits_fake: jax.Array) -> jax.Array:
  """``-(E log D(x) + E log(1 - D(G(z))))``: binary cross-entropy with real = 1, fake = 0.

  Minimising it is the gradient *ascent* on the minimax value that the lecture describes for D.
  (The CS231n assignment's ``discriminator_loss(logits_real, logits_fake)``.)"""
  return jnp.mean(jax.nn.softplus(-logits_real)) + jnp.mean(jax.nn.softplus(logits_fake))


def generator_loss_minimax(logits_fake: jax.Array) -> jax.Array:
  """The minimax (saturating) generator loss ``E log(1 - D(G(z)))`` = ``-E softplus(a)``."""
  return -jnp.mean(jax.nn.softplus(logits_fake))


def generator_loss(logits_fake: jax.Array) -> jax.Array:
  """The non-saturating generator loss ``-E log D(G(z))`` (the assignment's ``generator_loss``)."""
  return jnp.mean(jax.nn.softplus(-logits_fake))


def ls_discriminator_loss(scores_real: jax.Array, scores_fake: jax.Array) -> jax.Array:
  """LSGAN: ``1/2 E(D(x) - 1)^2 + 1/2 E D(G(z))^2``."""
  return 0.5 * jnp.mean((scores_real - 1.0) ** 2) + 0.5 * jnp.mean(scores_fake ** 2)


def ls_generator_loss(scores_fake: jax.Array) -> jax.Array:
  """LSGAN: ``1/2 E(D(G(z)) - 1)^2``."""
  return 0.5 * jnp.mean((scores_fake - 1.0) ** 2)


def wasserstein_critic_loss(scores_real: jax.Array, scores_fake: jax.Array) -> jax.Array:
  """WGAN: ``E f(G(z)) - E f(x)`` (the negated estimate of the Wasserstein-1 distance)."""
  return jnp.mean(scores_fake) - jnp.mean(scores_real)


def wasserstein_generator_loss(scores_fake: jax.Array) -> jax.Array:
  """WGAN: ``-E f(G(z))``."""
  return -jnp.mean(scores_fake)


LOSS_FUNCTIONS: dict[str, tuple[Callable, Callable]] = {
    "minimax": (discriminator_loss, generator_loss_minimax),
    "non_saturating": (discriminator_loss, generator_loss),
    "lsgan": (ls_discriminator_loss, ls_generator_loss),
    "wgan": (wasserstein_critic_loss, wasserstein_generator_loss),
    "wgan_gp": (wasserstein_critic_loss, wasserstein_generator_loss),
}


def gradient_penalty(critic: Callable[[jax.Array], jax.Array], real: jax.Array, fake: jax.Array,
                     key: jax.Array) -> jax.Array:
  """``E(||grad_x f(x_hat)||_2 - 1)^2`` at ``x_hat = eps x + (1 - eps) x_fake``, eps ~ U[0, 1] per example."""
  eps = jax.random.uniform(key, (real.shape[0],) + (1,) * (real.ndim - 1))
  x_hat = eps * real + (1.0 - eps) * fake
  grads = jax.grad(lambda x: jnp.sum(critic(x)))(x_hat)  # per-example gradients (the critic is per-example)
  norms = jnp.sqrt(jnp.sum(grads.reshape(grads.shape[0], -1) ** 2, axis=-1) + 1e-12)
  return jnp.mean((norms - 1.0) ** 2)


def check_loss(loss: str) -> None:
  if loss not in GAN_LOSSES:
    raise ValueError(f"loss: expected one of {GAN_LOSSES}, got {loss!r}")


# ----------------------------------------------------------------------------------------------
# Networks.


@register("mlp_generator", input_shape=(LATENT_DIM,), family="gan")
class MLPGenerator(nn.Module):
  """The original GAN's fully connected generator: ``z -> ReLU MLP -> out_shape`` (tanh or linear)."""

  out_shape: Sequence[int] = (8, 8, 1)
  hidden: Sequence[int] = (256, 256)
  output: str = "tanh"  # "tanh" for images in [-1, 1], "linear" for points in the plane

  @nn.compact
  def __call__(self, z: jax.Array, train: bool = False) -> jax.Array:
    h = z
    for i, width in enumerate(self.hidden):
      h = nn.relu(nn.Dense(width, name=f"dense{i}")(h))
    out = nn.Dense(int(np.prod(self.out_shape)), name="out")(h)
    if self.output == "tanh":
      out = jnp.tanh(out)
    return out.reshape(z.shape[0], *self.out_shape)


@register("mlp_discriminator", input_shape=(8, 8, 1), family="gan")
class MLPDiscriminator(nn.Module):
  """Fully connected discriminator / critic with LeakyReLU: one logit (or score) per example.

  ``pack = m > 1`` is PacGAN's packing (Lin et al., NeurIPS 2018): each group of ``m`` consecutive
  examples of the batch (all real or all generated) is concatenated into one input, and the
  discriminator gives one logit per group (``batch / m`` of them). Judging ``m`` samples jointly lets
  it see a generator's lack of diversity, which penalises mode collapse. ``pack = 1`` is the plain
  discriminator."""

  hidden: Sequence[int] = (256, 256)
  pack: int = 1

  @nn.compact
  def __call__(self, x: jax.Array, train: bool = False) -> jax.Array:
    if self.pack < 1 or x.shape[0] % self.pack:
      raise ValueError(f"pack: a batch of {x.shape[0]} examples does not split into groups of {self.pack}")
    h = x.reshape(x.shape[0] // self.pack, -1)
    for i, width in enumerate(self.hidden):
      h = nn.leaky_relu(nn.Dense(width, name=f"dense{i}")(h), LEAKY_SLOPE)
    return nn.Dense(1, name="out")(h)[:, 0]


@register("dcgan_generator", "DCGAN generator: z projected to 2x2, stride-2 transposed convolutions with batch norm, tanh.",
          input_shape=(LATENT_DIM,), family="gan")
class DCGANGenerator(nn.Module):
  """DCGAN generator: project ``z`` to a small map, then stride-2 transposed convolutions with batch
  norm and ReLU, ending in a tanh image. ``image_shape`` sides must be 2 ** num_upsamplings times
  the initial 2x2 map (8x8 digits: 2x2 -> 4x4 -> 8x8)."""

  image_shape: Sequence[int] = (8, 8, 1)
  base_features: int = 64
  bn_axis_name: str | None = None

  @nn.compact
  def __call__(self, z: jax.Array, train: bool = False) -> jax.Array:
    h_out, w_out, c_out = self.image_shape
    num_up = int(round(math.log2(h_out / 2)))
    if h_out != w_out or 2 * 2 ** num_up != h_out:
      raise ValueError(f"image_shape: the DCGAN generator needs a square side of 2 * 2**k, got {tuple(self.image_shape)}")
    init = nn.initializers.normal(DCGAN_INIT_STD)
    bn = functools.partial(nn.BatchNorm, use_running_average=not train, momentum=BN_MOMENTUM,
                           axis_name=self.bn_axis_name)
    features = self.base_features * 2 ** (num_up - 1)
    # "Project and reshape": the one dense layer is the input projection, not a hidden layer.
    h = nn.Dense(2 * 2 * features, kernel_init=init, name="project")(z).reshape(z.shape[0], 2, 2, features)
    h = nn.relu(bn(name="bn_project")(h))
    for i in range(num_up - 1):
      features //= 2
      h = nn.ConvTranspose(features, (4, 4), strides=(2, 2), kernel_init=init, name=f"upconv{i}")(h)
      h = nn.relu(bn(name=f"bn{i}")(h))
    h = nn.ConvTranspose(c_out, (4, 4), strides=(2, 2), kernel_init=init, name="upconv_out")(h)
    return jnp.tanh(h)


@register("dcgan_discriminator", "DCGAN discriminator: stride-2 convolutions, LeakyReLU, batch norm after the first, one logit.",
          input_shape=(8, 8, 1), family="gan")
class DCGANDiscriminator(nn.Module):
  """DCGAN discriminator: stride-2 convolutions with LeakyReLU (batch norm after all but the first),
  then a linear layer to one logit. ``norm="none"`` (or ``"layer"``) for the WGAN-GP critic."""

  base_features: int = 64
  num_downsamplings: int = 2
  norm: str = "batch"
  bn_axis_name: str | None = None

  @nn.compact
  def __call__(self, x: jax.Array, train: bool = False) -> jax.Array:
    init = nn.initializers.normal(DCGAN_INIT_STD)
    h = x
    for i in range(self.num_downsamplings):
      h = nn.Conv(self.base_features * 2 ** i, (4, 4), strides=(2, 2), kernel_init=init, name=f"conv{i}")(h)
      if i > 0 and self.norm == "batch":
        h = nn.BatchNorm(use_running_average=not train, momentum=BN_MOMENTUM, axis_name=self.bn_axis_name,
                         name=f"bn{i}")(h)
      elif i > 0 and self.norm == "layer":
        h = nn.LayerNorm(name=f"ln{i}")(h)
      h = nn.leaky_relu(h, LEAKY_SLOPE)
    return nn.Dense(1, kernel_init=init, name="out")(h.reshape(h.shape[0], -1))[:, 0]


# ----------------------------------------------------------------------------------------------
# Training state and the jitted step.


class GANState(struct.PyTreeNode):
  """Both networks' parameters, batch statistics and optimizer states, the step and the PRNG key."""

  step: jax.Array
  g_params: Any
  d_params: Any
  g_stats: Any  # batch-norm statistics ({} without batch norm)
  d_stats: Any
  g_opt_state: Any
  d_opt_state: Any
  key: jax.Array  # raw uint32 key data (checkpointable)


def sample_latent(key: jax.Array, num: int, dim: int, prior: str = "normal") -> jax.Array:
  """Noise ``z``: standard normal, or uniform on [-1, 1] (the CS231n assignment's ``sample_noise``)."""
  if prior == "normal":
    return jax.random.normal(key, (num, dim))
  if prior == "uniform":
    return jax.random.uniform(key, (num, dim), minval=-1.0, maxval=1.0)
  raise ValueError(f"prior: expected one of {LATENT_PRIORS}, got {prior!r}")


def _split_vars(variables):
  variables = dict(variables)
  params = variables.pop("params")
  return params, variables.get("batch_stats", {})


def init_gan_state(generator: nn.Module, discriminator: nn.Module, g_tx: optax.GradientTransformation,
                   d_tx: optax.GradientTransformation, data_shape: Sequence[int], latent_dim: int,
                   seed: int | jax.Array) -> GANState:
  """Both networks and optimizer states, from an integer ``seed`` or a PRNG key (typed or raw)."""
  if isinstance(seed, int):
    key = jax.random.key(seed)
  else:
    key = seed if jax.dtypes.issubdtype(jnp.asarray(seed).dtype, jax.dtypes.prng_key) else jax.random.wrap_key_data(seed)
  kg, kd, kstate = jax.random.split(key, 3)
  g_params, g_stats = _split_vars(generator.init(kg, jnp.zeros((2, latent_dim)), train=False))
  d_batch = 2 * getattr(discriminator, "pack", 1)  # a packed discriminator reads groups of `pack` examples
  d_params, d_stats = _split_vars(discriminator.init(kd, jnp.zeros((d_batch, *data_shape)), train=False))
  return GANState(jnp.zeros((), jnp.int32), g_params, d_params, g_stats, d_stats, g_tx.init(g_params),
                  d_tx.init(d_params), jax.random.key_data(kstate))


def _apply(module, params, stats, x, train):
  """Apply ``module`` in train mode updating batch statistics (if any): ``(out, new_stats)``."""
  variables = {"params": params, **({"batch_stats": stats} if stats else {})}
  if stats and train:
    out, updated = module.apply(variables, x, train=True, mutable=["batch_stats"])
    return out, updated["batch_stats"]
  return module.apply(variables, x, train=train), stats


def make_update(generator: nn.Module, discriminator: nn.Module, g_tx: optax.GradientTransformation,
                d_tx: optax.GradientTransformation, *, loss: str = "non_saturating", latent_dim: int,
                prior: str = "normal", clip: float = WGAN_CLIP, gp_weight: float = GP_WEIGHT,
                axis_name: str | None = None):
  """``update(state, real_batches, key) -> (state, metrics)``, pure (not compiled): ``k =
  len(real_batches)`` discriminator updates, each on its own real minibatch and fresh noise, then
  one generator update. ``key`` is this step's PRNG key; ``state.step`` and ``state.key`` are left
  as they are (the caller counts steps).

  Both optax optimizers and both optimizer states live in the one :class:`GANState`; the ``k``
  discriminator steps are unrolled (``k`` is static: it is the leading dimension of
  ``real_batches``). With ``axis_name`` (a ``pmap`` axis; equal shards on every device) the
  gradients and metrics are averaged over the devices, so each update is that of the global batch
  (batch norm reduces over the axis when the networks are built with ``bn_axis_name``)."""
  check_loss(loss)
  d_loss_fn, g_loss_fn = LOSS_FUNCTIONS[loss]

  def pmean(tree):
    return tree if axis_name is None else jax.lax.pmean(tree, axis_name)

  def d_update(state: GANState, real: jax.Array, key: jax.Array):
    kz, kgp = jax.random.split(key)
    z = sample_latent(kz, real.shape[0], latent_dim, prior)
    fake, _ = _apply(generator, state.g_params, state.g_stats, z, train=True)
    fake = jax.lax.stop_gradient(fake)

    def loss_fn(d_params):
      out_real, stats = _apply(discriminator, d_params, state.d_stats, real, train=True)
      out_fake, stats = _apply(discriminator, d_params, stats, fake, train=True)
      value = d_loss_fn(out_real, out_fake)
      if loss == "wgan_gp":
        critic = lambda x: _apply(discriminator, d_params, state.d_stats, x, train=False)[0]
        value = value + gp_weight * gradient_penalty(critic, real, fake, kgp)
      return value, (stats, out_real, out_fake)

    (value, (stats, out_real, out_fake)), grads = jax.value_and_grad(loss_fn, has_aux=True)(state.d_params)
    grads = pmean(grads)
    updates, d_opt_state = d_tx.update(grads, state.d_opt_state, state.d_params)
    d_params = optax.apply_updates(state.d_params, updates)
    if loss == "wgan":
      d_params = jax.tree.map(lambda w: jnp.clip(w, -clip, clip), d_params)
    state = state.replace(d_params=d_params, d_stats=stats, d_opt_state=d_opt_state)
    return state, {"d_loss": value, "d_real": jnp.mean(out_real), "d_fake": jnp.mean(out_fake)}

  def g_update(state: GANState, batch_size: int, key: jax.Array):
    z = sample_latent(key, batch_size, latent_dim, prior)

    def loss_fn(g_params):
      fake, g_stats = _apply(generator, g_params, state.g_stats, z, train=True)
      # D in training mode (as in its own step); its batch statistics from this pass are discarded.
      out_fake, _ = _apply(discriminator, state.d_params, state.d_stats, fake, train=True)
      return g_loss_fn(out_fake), g_stats

    (value, g_stats), grads = jax.value_and_grad(loss_fn, has_aux=True)(state.g_params)
    grads = pmean(grads)
    updates, g_opt_state = g_tx.update(grads, state.g_opt_state, state.g_params)
    g_params = optax.apply_updates(state.g_params, updates)
    return state.replace(g_params=g_params, g_stats=g_stats, g_opt_state=g_opt_state), {"g_loss": value}

  def update(state: GANState, real_batches: jax.Array, key: jax.Array):
    k = real_batches.shape[0]
    d_metrics = []
    for i in range(k):
      state, m = d_update(state, real_batches[i], jax.random.fold_in(key, i))
      d_metrics.append(m)
    state, g_metrics = g_update(state, real_batches.shape[1], jax.random.fold_in(key, k))
    metrics = {name: jnp.mean(jnp.stack([m[name] for m in d_metrics])) for name in d_metrics[0]}
    return state, pmean({**metrics, **g_metrics})

  return update


def make_train_step(generator: nn.Module, discriminator: nn.Module, g_tx: optax.GradientTransformation,
                    d_tx: optax.GradientTransformation, *, loss: str = "non_saturating", latent_dim: int,
                    prior: str = "normal", clip: float = WGAN_CLIP, gp_weight: float = GP_WEIGHT):
  """``step(state, real_batches) -> (state, metrics)``, jitted, for use outside the training engine
  (notebooks, tests): :func:`make_update` with the key ``state.key`` folded with ``state.step``,
  and the step counted. (Training runs go through :mod:`cs231n_jax.tasks.adversarial`.)"""
  update = make_update(generator, discriminator, g_tx, d_tx, loss=loss, latent_dim=latent_dim, prior=prior,
                       clip=clip, gp_weight=gp_weight)

  @functools.partial(jax.jit, donate_argnums=0)
  def step(state: GANState, real_batches: jax.Array):
    key = jax.random.fold_in(jax.random.wrap_key_data(state.key), state.step)
    state, metrics = update(state, real_batches, key)
    return state.replace(step=state.step + 1), metrics

  return step


def generate(generator: nn.Module, state: GANState, key: jax.Array, num: int, latent_dim: int,
             prior: str = "normal", z: jax.Array | None = None) -> jax.Array:
  """Generation uses G only: ``G(z)`` in inference mode (batch norm with its running statistics)."""
  if z is None:
    z = sample_latent(key, num, latent_dim, prior)
  return _apply(generator, state.g_params, state.g_stats, jnp.asarray(z), train=False)[0]


def generator_gradient_norm(generator: nn.Module, discriminator: nn.Module, state: GANState, key: jax.Array,
                            batch_size: int, latent_dim: int, loss: str, prior: str = "normal") -> float:
  """``||grad_theta_G loss_G||`` at ``state`` for the generator loss of ``loss`` (same noise for any
  loss given the same key) — the lecture's saturation argument, measured on a network."""
  check_loss(loss)
  g_loss_fn = LOSS_FUNCTIONS[loss][1]
  z = sample_latent(key, batch_size, latent_dim, prior)

  def loss_fn(g_params):
    fake, _ = _apply(generator, g_params, state.g_stats, z, train=False)
    return g_loss_fn(_apply(discriminator, state.d_params, state.d_stats, fake, train=False)[0])

  grads = jax.grad(loss_fn)(state.g_params)
  return float(optax.tree.norm(grads))


# ----------------------------------------------------------------------------------------------
# The 8-Gaussians ring (Metz et al., "Unrolled GANs", ICLR 2017): 2-D, cheap, with known modes.

RING_MODES = 8
RING_RADIUS = 2.0
RING_STD = 0.02
MODE_MIN_FRACTION = 0.01  # a mode is covered if >= 1% of all samples are high-quality samples of it
HIGH_QUALITY_SIGMAS = 3.0


def ring_centres(num_modes: int = RING_MODES, radius: float = RING_RADIUS) -> np.ndarray:
  angles = 2.0 * np.pi * np.arange(num_modes) / num_modes
  return radius * np.stack([np.cos(angles), np.sin(angles)], -1).astype(np.float32)


def ring_data(rng: np.random.Generator, num: int, num_modes: int = RING_MODES, radius: float = RING_RADIUS,
              std: float = RING_STD) -> np.ndarray:
  """``num`` points from the equal mixture of ``num_modes`` isotropic Gaussians on a circle."""
  centres = ring_centres(num_modes, radius)
  which = rng.integers(num_modes, size=num)
  return (centres[which] + std * rng.standard_normal((num, 2))).astype(np.float32)


def mode_coverage(samples: np.ndarray, num_modes: int = RING_MODES, radius: float = RING_RADIUS,
                  std: float = RING_STD, sigmas: float = HIGH_QUALITY_SIGMAS,
                  min_fraction: float = MODE_MIN_FRACTION) -> dict[str, Any]:
  """Each sample goes to its nearest mode; it is *high quality* within ``sigmas * std`` of it. A mode
  is *covered* when at least ``min_fraction`` of all samples are high-quality samples of it."""
  samples = np.asarray(samples, np.float64).reshape(-1, 2)
  dist = np.linalg.norm(samples[:, None] - ring_centres(num_modes, radius)[None], axis=-1)
  nearest, d = dist.argmin(1), dist.min(1)
  good = d <= sigmas * std
  per_mode = np.bincount(nearest[good], minlength=num_modes) / len(samples)
  return {
      "modes_covered": int((per_mode >= min_fraction).sum()),
      "high_quality_fraction": float(good.mean()),
      "per_mode_fraction": per_mode.tolist(),
  }


# ----------------------------------------------------------------------------------------------
# Latent space.


def interpolate(z0: jax.Array, z1: jax.Array, num_steps: int, spherical: bool = False) -> jax.Array:
  """``num_steps`` points from ``z0`` to ``z1`` (endpoints included), ``(num_steps, ..., dim)``;
  linear, or along the great circle (slerp) which keeps the norm typical of a Gaussian prior."""
  t = jnp.linspace(0.0, 1.0, num_steps).reshape(-1, *([1] * z0.ndim))
  if not spherical:
    return (1.0 - t) * z0 + t * z1
  cos = jnp.sum(z0 * z1, -1, keepdims=True) / (jnp.linalg.norm(z0, axis=-1, keepdims=True)
                                                * jnp.linalg.norm(z1, axis=-1, keepdims=True))
  omega = jnp.arccos(jnp.clip(cos, -1.0, 1.0))
  so = jnp.sin(omega)
  return (jnp.sin((1.0 - t) * omega) / so) * z0 + (jnp.sin(t * omega) / so) * z1
