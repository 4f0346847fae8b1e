"""Gram matrices, feature reconstruction losses, and neural style transfer (lecture 13 V24-V28).

Every function here works with any network through a *feature extractor*
``features(params, x) -> {layer name: activation}``: ``x`` is a batch of NHWC images in [0, 1]
(the extractor does its own preprocessing), each activation is NHWC. :func:`flax_features` makes
one from any Flax model (the intermediate outputs of named submodules), :func:`random_conv_features`
is a small random-weight conv net (a labelled substitute used by the tests: random filters already
give usable Gram textures, Ustyuzhaninov et al. 2016).

Conventions (the lecture's text disagrees with itself, so one is picked here):

- **Gram matrix** (V24): ``G = F^T F / M`` with ``F`` the ``M x C`` matrix of a layer's ``M = H W``
  C-dimensional vectors, i.e. the *average* over the HW positions of the outer products (the
  slide's "average over all HW pairs"), not the un-normalised ``F F^T`` of the slide's formula.
- **Layer loss** (V25): ``E_l = 1 / (4 N_l^2) * sum_ij (G_ij - G^_ij)^2`` with ``N_l = C`` the number of
  feature maps. With the averaged Gram this is exactly Gatys et al.'s ``1 / (4 N_l^2 M_l^2) sum (G -
  G^)^2`` on un-normalised Grams (``M_l = H_l W_l``); the course notes' undefined constant ``a`` is
  Gatys's 4. The texture loss is ``L = sum_l w_l E_l``.
- **Content loss** (V20, V27): ``||Phi(x) - Phi_0||^2``, summed over the layer's elements (the
  lecture's feature-inversion loss; the text gives no content-loss formula for style transfer).
- **Total variation** (V21): ``R(x) = sum_ij ((x_i,j+1 - x_ij)^2 + (x_i+1,j - x_ij)^2)^(beta/2)`` over
  the pixels that have both neighbours, summed over channels and images.

Optimisation over an image is an algorithm, not a training loop: :func:`optimize_image` is one
jitted ``lax.scan`` over optax updates of the pixels.
"""

from __future__ import annotations

import functools
from typing import Any, Callable, Mapping, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax

Features = Callable[[Any, jax.Array], dict[str, jax.Array]]


# ---------------------------------------------------------------------------------------------
# Feature extractors.


def flax_features(model: nn.Module, layers: Sequence[str], **apply_kwargs) -> Features:
  """A feature extractor from any Flax model: the outputs of the submodules named in ``layers``
  (``"/"``-joined module paths, e.g. ``"Conv_0"`` or ``"stage2/block0"``), called as
  ``features(variables, x)``. A name the model lacks raises ``ValueError`` listing what it has."""
  wanted = tuple(layers)
  if not wanted:
    raise ValueError("layers: expected at least one layer name")

  def features(variables, x):
    _, state = model.apply(variables, x, capture_intermediates=lambda mdl, _: "/".join(mdl.path) in wanted,
                           mutable=["intermediates"], **apply_kwargs)
    found = {}
    for path, value in jax.tree_util.tree_flatten_with_path(state.get("intermediates", {}),
                                                            is_leaf=lambda v: isinstance(v, tuple))[0]:
      names = [getattr(k, "key", None) for k in path]
      if names and names[-1] == "__call__":
        found["/".join(names[:-1])] = value[0]
    missing = [name for name in wanted if name not in found]
    if missing:
      raise ValueError(f"layers: the model has no layer {missing[0]!r}; its layers are {_layer_names(variables, x)}")
    return {name: found[name] for name in wanted}

  def _layer_names(variables, x):
    shapes = jax.eval_shape(lambda v, im: model.apply(v, im, capture_intermediates=True, mutable=["intermediates"],
                                                      **apply_kwargs)[1], variables, x)
    names = []
    for path, _ in jax.tree_util.tree_flatten_with_path(shapes.get("intermediates", {}))[0]:
      keys = [getattr(k, "key", None) for k in path]
      if len(keys) >= 2 and keys[1] == "__call__" and keys[0] not in names:
        names.append(keys[0])
    return ", ".join(names)

  return features


class RandomConvNet(nn.Module):
  """A small VGG-like conv stack (3x3 convs, ReLU, 2x2 average pooling between stages) whose
  stage outputs are the features ``conv1`` ... ``convN``; used with random weights."""

  channels: Sequence[int] = (16, 32, 64)

  @nn.compact
  def __call__(self, x):
    out = {}
    h = (x - 0.5) * 4.0
    for i, c in enumerate(self.channels):
      if i:
        h = nn.avg_pool(h, (2, 2), (2, 2))
      h = nn.relu(nn.Conv(c, (3, 3), kernel_init=nn.initializers.he_normal(), name=f"conv{i + 1}")(h))
      out[f"conv{i + 1}"] = h
    return out


_RANDOM_CONV: dict[tuple, tuple[Features, Any]] = {}

# An initialisation runs once: compiled without LLVM's optimisation passes it compiles ~5x faster
# on CPU (truncated-normal sampling is slow to optimise) and gives the same weights to float32
# rounding (max difference ~1e-7 on He-normal kernels).
QUICK_COMPILE = {"xla_backend_optimization_level": 0}


def init_quickly(init: Callable, *args):
  """``jax.jit(init)(*args)`` compiled with :data:`QUICK_COMPILE` (for a model's one-off ``init``)."""
  return jax.jit(init).lower(*args).compile(compiler_options=QUICK_COMPILE)(*args)


def random_conv_features(key: jax.Array, channels: Sequence[int] = (16, 32, 64), image_size: int = 32
                         ) -> tuple[Features, Any]:
  """``(features, params)`` of a :class:`RandomConvNet` initialised from ``key``. The weights do not
  depend on ``image_size`` (kept for the call's signature); the pair is cached per ``(key,
  channels)``, so every caller gets the same ``features`` function and the image optimisations
  below, jitted with ``features`` static, compile once per shape rather than once per call."""
  del image_size
  channels = tuple(int(c) for c in channels)
  cache_key = (np.asarray(jax.random.key_data(key) if jnp.issubdtype(key.dtype, jax.dtypes.prng_key) else key).tobytes(),
               channels)
  if cache_key not in _RANDOM_CONV:
    net = RandomConvNet(channels)
    params = init_quickly(net.init, key, jnp.zeros((1, 8, 8, 3)))
    _RANDOM_CONV[cache_key] = (lambda p, x: net.apply(p, x)), params
  return _RANDOM_CONV[cache_key]


PRETRAINED = ("mobilenet_v2", "efficientnet_lite0")


@functools.lru_cache(maxsize=16)
def _pretrained_extractor(name: str, layers: tuple[str, ...]) -> tuple[Features, Any]:
  from cs231n_jax.pretrained import networks

  net = networks.load(name)
  inner = flax_features(net.model, layers, train=False)
  return (lambda v, x: inner(v, networks.preprocess(name, x))), net.variables


def pretrained_features(name: str, layers: Sequence[str]) -> tuple[Features, Any]:
  """``(features, variables)`` of a pretrained ImageNet network (:mod:`cs231n_jax.pretrained`) at
  ``layers`` (its submodule names, e.g. MobileNetV2's ``"block_3"``); images in [0, 1], the
  network's own normalisation applied inside. A layer the network lacks raises ``ValueError``
  naming it and the layers it has (cached per ``(name, layers)``)."""
  if name not in PRETRAINED:
    raise ValueError(f"model: expected one of {PRETRAINED}, got {name!r}")
  layers = tuple(layers)
  features, variables = _pretrained_extractor(name, layers)
  jax.eval_shape(features, variables, jax.ShapeDtypeStruct((1, 32, 32, 3), jnp.float32))  # names a missing layer, no compile
  return features, variables


def make_features(spec, layers: Sequence[str]) -> tuple[Features, Any]:
  """A feature extractor reading ``layers`` from a config block: ``name`` ``"random_conv"`` (with
  ``channels``, ``seed``; its layers are ``conv1`` ...) or a pretrained network's name."""
  if spec.name == "random_conv":
    return random_conv_features(jax.random.PRNGKey(spec.seed), tuple(spec.channels))
  return pretrained_features(spec.name, tuple(layers))


# ---------------------------------------------------------------------------------------------
# Losses.


def gram_matrix(f: jax.Array) -> jax.Array:
  """``(N, H, W, C) -> (N, C, C)``: the average over the HW positions of the outer products of the
  C-dimensional feature vectors (``F^T F / (H W)``)."""
  if f.ndim != 4:
    raise ValueError(f"features: expected an NHWC activation, got shape {f.shape}")
  n, h, w, c = f.shape
  flat = f.reshape(n, h * w, c)
  return jnp.einsum("nmi,nmj->nij", flat, flat) / (h * w)


def gram_layer_loss(g: jax.Array, target: jax.Array) -> jax.Array:
  """``E_l = 1/(4 N_l^2) sum (G - G^)^2`` per image (``N_l`` = channels)."""
  c = g.shape[-1]
  return jnp.sum((g - target) ** 2, axis=(-2, -1)) / (4.0 * c * c)


def gram_loss(feats: Mapping[str, jax.Array], target_grams: Mapping[str, jax.Array],
              weights: Mapping[str, float]) -> jax.Array:
  """``sum_l w_l E_l`` per image over the layers of ``weights``."""
  return sum(w * gram_layer_loss(gram_matrix(feats[name]), target_grams[name]) for name, w in weights.items())


def content_loss(feats: Mapping[str, jax.Array], targets: Mapping[str, jax.Array],
                 weights: Mapping[str, float]) -> jax.Array:
  """``sum_l w_l ||Phi_l(x) - Phi_l0||^2`` per image."""
  return sum(w * jnp.sum((feats[name] - targets[name]) ** 2, axis=(1, 2, 3)) for name, w in weights.items())


def total_variation(x: jax.Array, beta: float = 2.0) -> jax.Array:
  """The TV regulariser ``R_{V^beta}`` (V21) per image of an NHWC batch."""
  dx = x[:, :-1, 1:, :] - x[:, :-1, :-1, :]
  dy = x[:, 1:, :-1, :] - x[:, :-1, :-1, :]
  sq = dx ** 2 + dy ** 2
  if beta != 2.0:
    sq = (sq + 1e-8) ** (beta / 2.0)  # the small constant keeps the gradient finite where sq = 0
  return jnp.sum(sq, axis=(1, 2, 3))


def target_grams(features: Features, params, images: Sequence[jax.Array], layers: Sequence[str],
                 blend: Sequence[float] | None = None) -> dict[str, jax.Array]:
  """The style targets: each layer's Gram of every style image (HWC, any size), blended as the
  weighted average ``sum_i b_i G_i`` (V28; ``blend`` defaults to equal weights and must sum to 1)."""
  images = [check_image(im, f"style[{i}]") for i, im in enumerate(images)]
  if not images:
    raise ValueError("styles: expected at least one style image")
  blend = np.full(len(images), 1.0 / len(images)) if blend is None else np.asarray(blend, np.float64)
  if blend.shape != (len(images),) or np.any(blend < 0) or not np.isclose(blend.sum(), 1.0):
    raise ValueError(f"blend: expected {len(images)} non-negative weights summing to 1, got {blend.tolist()}")
  out = {}
  for b, image in zip(blend, images):
    grams = _layer_grams(features, tuple(layers), params, image)
    for name in layers:
      g = grams[name] * b
      out[name] = g if name not in out else out[name] + g
  return out


@functools.partial(jax.jit, static_argnums=(0, 1))
def _layer_grams(features: Features, layers: tuple[str, ...], params, image: jax.Array) -> dict[str, jax.Array]:
  feats = features(params, image[None])
  return {name: gram_matrix(feats[name])[0] for name in layers}


def check_image(image, name: str = "image", min_size: int = 8) -> jax.Array:
  """An HWC RGB float image in [0, 1]; one-line ``ValueError`` naming ``name`` otherwise."""
  image = jnp.asarray(image)
  if image.ndim != 3 or image.shape[-1] != 3:
    raise ValueError(f"{name}: expected an RGB image of shape (H, W, 3), got shape {tuple(image.shape)}")
  if min(image.shape[:2]) < min_size:
    raise ValueError(f"{name}: expected at least {min_size}x{min_size} pixels, got {image.shape[0]}x{image.shape[1]}")
  if not jnp.issubdtype(image.dtype, jnp.floating):
    raise ValueError(f"{name}: expected a float image in [0, 1], got dtype {image.dtype}")
  return image.astype(jnp.float32)


# ---------------------------------------------------------------------------------------------
# Optimisation over an image.


def optimize_image(loss_fn: Callable[[jax.Array], jax.Array], x0: jax.Array, tx: optax.GradientTransformation,
                   num_steps: int, clip: tuple[float, float] | None = (0.0, 1.0)) -> tuple[jax.Array, jax.Array]:
  """Minimise ``loss_fn(x)`` (a scalar) over the pixels from ``x0`` with ``tx`` for ``num_steps``
  steps, clipping to ``clip`` after each; one ``lax.scan``. Returns ``(x, losses)`` where
  ``losses[t]`` is the loss before step ``t`` (``losses[0]``: at ``x0``)."""

  def step(carry, _):
    x, opt_state = carry
    loss, g = jax.value_and_grad(loss_fn)(x)
    updates, opt_state = tx.update(g, opt_state, x)
    x = optax.apply_updates(x, updates)
    if clip is not None:
      x = jnp.clip(x, *clip)
    return (x, opt_state), loss

  (x, _), losses = jax.lax.scan(step, (x0, tx.init(x0)), None, length=num_steps)
  return x, losses


def adam(learning_rate, num_steps: int, schedule: str = "constant") -> optax.GradientTransformation:
  """Adam on the pixels at ``learning_rate`` (a float or a traced scalar): ``schedule`` ``"constant"``
  (the lecture's plain gradient steps) or ``"cosine"`` (decayed to 0 over ``num_steps``: the last
  steps are small, so the loss settles instead of jittering at the step size's noise floor)."""
  if schedule == "constant":
    return optax.adam(learning_rate)
  if schedule == "cosine":
    return optax.adam(optax.cosine_decay_schedule(learning_rate, max(int(num_steps), 1)))
  raise ValueError(f"schedule: expected 'constant' or 'cosine', got {schedule!r}")


def layer_weights(weights: Mapping[str, float], field: str) -> tuple[tuple[str, float], ...]:
  if not weights:
    raise ValueError(f"{field}: expected at least one layer name with its weight")
  return tuple((str(k), float(v)) for k, v in weights.items())


def check_layers(features: Features, params, image: jax.Array, layers: Sequence[str]) -> None:
  """Raise ``ValueError`` naming the first of ``layers`` the extractor does not return (shapes only, no compile)."""
  have = jax.eval_shape(features, params, jax.ShapeDtypeStruct((1, *image.shape), jnp.float32))
  for name in layers:
    if name not in have:
      raise ValueError(f"layer: the feature extractor has no layer {name!r}; it has {sorted(have)}")


def style_losses(features: Features, params, x: jax.Array, content_targets, grams, content_weights, style_weights):
  """``(content, style)`` losses per image of the NHWC batch ``x``."""
  feats = features(params, x)
  return content_loss(feats, content_targets, content_weights), gram_loss(feats, grams, style_weights)


@functools.partial(jax.jit, static_argnames=("features", "content_layers", "style_layers", "num_steps", "schedule"))
def _style_program(params, content, styles, blend, x0, weights, learning_rate, *, features, content_layers, style_layers,
                   num_steps, schedule):
  """The whole of :func:`style_transfer` as one program (targets, the scan, the final losses), so
  calls that differ only in weights, learning rate or images of the same shapes share one compile."""
  cl, sl = dict(content_layers), dict(style_layers)
  grams = {}
  for i, image in enumerate(styles):
    feats = features(params, image[None])
    for name in sl:
      g = blend[i] * gram_matrix(feats[name])[0]
      grams[name] = g if name not in grams else grams[name] + g
  content_targets = features(params, content[None])
  content_weight, style_weight, tv_weight = weights

  def parts(x):
    c, s = style_losses(features, params, x, content_targets, grams, cl, sl)
    return c[0], s[0]

  def loss_fn(x):
    c, s = parts(x)
    return content_weight * c + style_weight * s + tv_weight * total_variation(x)[0]

  x, losses = optimize_image(loss_fn, x0, adam(learning_rate, num_steps, schedule), num_steps)
  return x, losses, parts(x), parts(x0)


def style_transfer(features: Features, params, content: jax.Array, styles: Sequence[jax.Array], *,
                   content_layers: Mapping[str, float], style_layers: Mapping[str, float], content_weight: float = 1.0,
                   style_weight: float = 1.0, tv_weight: float = 0.0, blend: Sequence[float] | None = None,
                   num_steps: int = 200, learning_rate: float = 0.02, init: str = "content",
                   key: jax.Array | None = None, schedule: str = "constant") -> dict[str, Any]:
  """Neural style transfer (Gatys et al. 2016; V27-V28): from the content image (or noise),
  minimise ``content_weight * content + style_weight * style + tv_weight * TV`` over the pixels with
  Adam. ``styles`` are blended by averaged Grams (``blend``). Returns the image (HWC) and the final
  and initial content / style losses and the loss curve."""
  content = check_image(content, "content")
  styles = tuple(check_image(im, f"style[{i}]") for i, im in enumerate(styles))
  if not styles:
    raise ValueError("styles: expected at least one style image")
  blend = np.full(len(styles), 1.0 / len(styles)) if blend is None else np.asarray(blend, np.float64)
  if blend.shape != (len(styles),) or np.any(blend < 0) or not np.isclose(blend.sum(), 1.0):
    raise ValueError(f"blend: expected {len(styles)} non-negative weights summing to 1, got {blend.tolist()}")
  cl, sl = layer_weights(content_layers, "content_layers"), layer_weights(style_layers, "style_layers")
  check_layers(features, params, content, [n for n, _ in cl + sl])
  if num_steps < 1:
    raise ValueError(f"num_steps: expected a positive count, got {num_steps}")
  if init == "content":
    x0 = content[None]
  elif init == "noise":
    x0 = jax.random.uniform(jax.random.PRNGKey(0) if key is None else key, content[None].shape)
  else:
    raise ValueError(f"init: expected 'content' or 'noise', got {init!r}")
  x, losses, (c, s), (c0, s0) = _style_program(
      params, content, styles, jnp.asarray(blend, jnp.float32), x0,
      jnp.asarray([content_weight, style_weight, tv_weight], jnp.float32), jnp.float32(learning_rate), features=features,
      content_layers=cl, style_layers=sl, num_steps=int(num_steps), schedule=schedule)
  return {"image": x[0], "content_loss": float(c), "style_loss": float(s), "initial_content_loss": float(c0),
          "initial_style_loss": float(s0), "losses": np.asarray(losses)}
