"""Fast style transfer as a task (lecture 13 V29-V32; Johnson et al. 2016, Dumoulin et al. 2017).

A feed-forward :class:`cs231n_jax.vis.style_networks.StyleTransformNet` is trained so that its output
for a content image has the perceptual loss the per-image optimisation of
:func:`cs231n_jax.vis.style.style_transfer` minimises: ``content_weight * content + style_weight *
sum_l w_l E_l + tv_weight * TV``, measured by a fixed feature network (``config.features``: a pretrained
ImageNet network or the random-weight substitute). With ``model.norm = "conditional_instance"``
and several styles, one network learns every style (a batch row's style is its ``style`` index).

Data: fixed random crops of scikit-image photos (``task.train_photos``; ``task.heldout_photo``'s crops
are the val / test splits), each paired with every style. ``run`` trains through the engine; its
``finish`` compares, on held-out crops and in the same process, the network's loss and time per image
with the per-image optimisation's (``config.baseline``), and for several styles the loss of blended
style weights (the conditional network's interpolation).

The image-optimisation experiments of lecture 13 (texture, DeepDream, inversion, the content / style
trade-off) are not training runs: they live in :mod:`cs231n_jax.studies.style_transfer`.
"""

from __future__ import annotations

import json
import time
from typing import Any

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax
from etils import epath

from cs231n_jax import optim
from cs231n_jax.data.pipeline import ArraySource, BatchIterator, eval_batches
from cs231n_jax.errors import ConfigError
from cs231n_jax.models.registry import get_model
from cs231n_jax.train import loop
from cs231n_jax.train.steps import mean_over_valid, psum_if
from cs231n_jax.train.task import Data, Task
from cs231n_jax.vis import style as S
from cs231n_jax.vis.style_networks import NORMS, OUTPUTS

RUNNER = "cs231n_jax.tasks.style_transfer:run"


def base_config() -> ml_collections.ConfigDict:
  """Every field a fast-style-transfer run reads."""
  c = ml_collections.ConfigDict()
  c.runner = RUNNER
  c.seed = 0
  c.task = ml_collections.ConfigDict({
      "image_size": 64, "train_photos": ("astronaut", "coffee", "rocket", "hubble_deep_field"),
      "heldout_photo": "chelsea", "photo_scale": 0.4,  # photos shrunk by this before cropping
      "crops_per_photo": 64, "heldout_crops": 16,
      "styles": ("photo:immunohistochemistry",), "style_size": 128,
      "content_weight": 1.0, "style_weight": 1.0, "tv_weight": 0.0,
  })
  c.features = ml_collections.ConfigDict({
      "name": "random_conv", "channels": (16, 32, 64), "seed": 0,
      "content_layers": {"conv2": 1.0}, "style_layers": {"conv1": 1.0, "conv2": 1.0, "conv3": 1.0}})
  # output: "sigmoid" (Johnson et al.) or "residual" (input + the last conv, clipped: starts as the identity)
  c.model = ml_collections.ConfigDict({"features": 16, "num_residual": 3, "norm": "instance", "output": "sigmoid"})
  c.optimizer = optim.default_config("adam", 1e-3)
  c.train = loop.engine_config()
  c.train.update({"batch_size": 8, "num_steps": 500, "eval_every": 100, "log_every": 50, "eval_batch_size": 16,
                  "checkpoint_every": 500, "keep_checkpoints": 1})
  # The per-image optimisation the network is compared with (finish): Adam on the pixels from the content image.
  c.baseline = ml_collections.ConfigDict({"num_images": 4, "num_steps": 200, "learning_rate": 0.02,
                                          "blend_steps": 5})
  return c


def check_config(config: ml_collections.ConfigDict) -> None:
  """Raise ``ConfigError`` naming the first impossible value."""
  t = config.task
  for block, name in (("task", "image_size"), ("task", "crops_per_photo"), ("task", "heldout_crops"),
                      ("task", "style_size"), ("model", "features"), ("baseline", "num_images"),
                      ("baseline", "num_steps")):
    v = config[block][name]
    if isinstance(v, bool) or not isinstance(v, int) or v < 1:
      raise ConfigError(f"{block}.{name}: expected a positive integer, got {v!r}")
  if t.image_size % 4:
    raise ConfigError(f"task.image_size: expected a multiple of 4 (the network downsamples twice), got {t.image_size}")
  if not t.styles:
    raise ConfigError("task.styles: expected at least one style image ('photo:NAME' or 'texture:NAME')")
  if config.model.get("output", "sigmoid") not in OUTPUTS:
    raise ConfigError(f"model.output: expected one of {OUTPUTS}, got {config.model.output!r}")
  if config.model.norm not in NORMS:
    raise ConfigError(f"model.norm: expected one of {NORMS}, got {config.model.norm!r}")
  if len(t.styles) > 1 and config.model.norm != "conditional_instance":
    raise ConfigError(f"model.norm: {len(t.styles)} styles need 'conditional_instance', got {config.model.norm!r}")
  if config.baseline.num_images > t.heldout_crops:
    raise ConfigError(f"baseline.num_images: at most task.heldout_crops ({t.heldout_crops}), got {config.baseline.num_images}")
  loop.check_engine_config(config.train)


# ---------------------------------------------------------------------------------------------
# Images.


def load_style(spec: str, size: int) -> np.ndarray:
  """``photo:NAME`` (a scikit-image RGB photo) or ``texture:NAME`` (brick / grass / gravel), resized
  to ``size`` x ``size``, float32 RGB in [0, 1]."""
  from skimage import data
  from skimage.transform import resize

  kind, _, name = spec.partition(":")
  if kind == "texture":
    from cs231n_jax.vis.texture import bundled_texture

    image = bundled_texture(name)
  elif kind == "photo" and callable(getattr(data, name, None)):
    image = np.asarray(getattr(data, name)())
    if image.ndim != 3 or image.shape[-1] != 3:
      raise ConfigError(f"task.styles: skimage photo {name!r} is not RGB (shape {image.shape})")
    image = image.astype(np.float32) / 255.0
  else:
    raise ConfigError(f"task.styles: expected 'photo:NAME' (an RGB skimage photo) or 'texture:NAME', got {spec!r}")
  return np.clip(resize(image, (size, size), anti_aliasing=True), 0, 1).astype(np.float32)


def photo_crops(name: str, count: int, size: int, scale: float, seed: int) -> np.ndarray:
  """``count`` random ``size`` x ``size`` crops of skimage photo ``name`` shrunk by ``scale``."""
  from skimage import data
  from skimage.transform import rescale

  loader = getattr(data, name, None)
  if not callable(loader):
    raise ConfigError(f"task.train_photos: skimage has no photo {name!r}")
  image = np.asarray(loader())
  if image.ndim != 3 or image.shape[-1] != 3:
    raise ConfigError(f"task.train_photos: skimage photo {name!r} is not RGB (shape {image.shape})")
  image = rescale(image.astype(np.float32) / 255.0, scale, channel_axis=-1, anti_aliasing=True)
  h, w, _ = image.shape
  if h < size or w < size:
    raise ConfigError(f"task.photo_scale: {name} shrunk to {h}x{w} is smaller than a {size}x{size} crop")
  rng = np.random.default_rng(seed)
  ys, xs = rng.integers(0, h - size + 1, count), rng.integers(0, w - size + 1, count)
  return np.clip(np.stack([image[y:y + size, x:x + size] for y, x in zip(ys, xs)]), 0, 1).astype(np.float32)


# ---------------------------------------------------------------------------------------------
# The loss, the task.


def config_weights(block, field: str) -> dict[str, float]:
  d = block.to_dict() if isinstance(block, ml_collections.ConfigDict) else dict(block)
  if not d:
    raise ConfigError(f"{field}: expected at least one layer name with its weight")
  return {str(k): float(v) for k, v in d.items()}


class Perceptual:
  """The fixed perceptual loss: the feature network, the content / style layers and weights, and
  the styles' Grams stacked ``{layer: (num_styles, C, C)}``."""

  def __init__(self, config: ml_collections.ConfigDict):
    t, f = config.task, config.features
    self.content_layers = config_weights(f.content_layers, "features.content_layers")
    self.style_layers = config_weights(f.style_layers, "features.style_layers")
    self.features, self.params = S.make_features(f, sorted(set(self.content_layers) | set(self.style_layers)))
    self.weights = (t.content_weight, t.style_weight, t.tv_weight)
    self.styles = [load_style(s, t.style_size) for s in t.styles]
    per_style = [S.target_grams(self.features, self.params, [s], tuple(self.style_layers)) for s in self.styles]
    self.grams = {k: jnp.stack([g[k] for g in per_style]) for k in self.style_layers}

  def losses(self, out, content, style_weights):
    """``(total, content, style)`` per image; ``style_weights`` ``(N, num_styles)`` blends the targets."""
    feats = self.features(self.params, out)
    targets = self.features(self.params, content)
    grams = {k: jnp.einsum("ns,sij->nij", style_weights, g) for k, g in self.grams.items()}
    c = S.content_loss(feats, {k: targets[k] for k in self.content_layers}, self.content_layers)
    s = S.gram_loss(feats, grams, self.style_layers)
    cw, sw, tw = self.weights
    return cw * c + sw * s + tw * S.total_variation(out), c, s


def build_model(config: ml_collections.ConfigDict):
  m = config.model
  return get_model("style_transform_net", features=m.features, num_residual=m.num_residual, norm=m.norm,
                   num_styles=len(config.task.styles), output=m.get("output", "sigmoid"))


def style_task(model, perceptual: Perceptual, tx: optax.GradientTransformation, num_styles: int, finish=None) -> Task:
  """The task: parameters (and batch-norm statistics) trained on the perceptual loss."""
  uses_bn = model.norm == "batch"

  def apply(variables, images, style_weights, train):
    if uses_bn and train:
      return model.apply(variables, images, style_weights, train=True, mutable=["batch_stats"])
    return model.apply(variables, images, style_weights, train=False), {}

  def init(key, example):
    images = jnp.asarray(example["image"])
    # one compiled init rather than an eager op (and a compile) per layer
    variables = S.init_quickly(model.init, key, images, jax.nn.one_hot(jnp.asarray(example["style"]), num_styles))
    return {"variables": dict(variables), "opt_state": tx.init(variables["params"])}

  def train_step(state, batch, key, axis_name=None):
    del key
    style_weights = jax.nn.one_hot(batch["style"], num_styles)

    def loss_fn(params):
      variables = {**state["variables"], "params": params}
      out, updates = apply(variables, batch["image"], style_weights, True)
      total, c, s = perceptual.losses(out, batch["image"], style_weights)
      mask = batch["mask"]
      return mean_over_valid(total, mask, axis_name), (updates, mean_over_valid(c, mask, axis_name),
                                                       mean_over_valid(s, mask, axis_name))

    (loss, (updates, c, s)), grads = jax.value_and_grad(loss_fn, has_aux=True)(state["variables"]["params"])
    grads = psum_if(grads, axis_name)
    step, opt_state = tx.update(grads, state["opt_state"], state["variables"]["params"])
    variables = {**state["variables"], **updates, "params": optax.apply_updates(state["variables"]["params"], step)}
    metrics = {"loss": psum_if(loss, axis_name), "content_loss": psum_if(c, axis_name), "style_loss": psum_if(s, axis_name)}
    return {"variables": variables, "opt_state": opt_state}, metrics

  def eval_step(state, batch):
    style_weights = jax.nn.one_hot(batch["style"], num_styles)
    out, _ = apply(state["variables"], batch["image"], style_weights, False)
    total, c, s = perceptual.losses(out, batch["image"], style_weights)
    mask = batch["mask"]
    return {"loss_sum": jnp.sum(total * mask), "content_loss_sum": jnp.sum(c * mask), "style_loss_sum": jnp.sum(s * mask),
            "count": jnp.sum(mask)}

  return Task(init=init, train_step=train_step, eval_step=eval_step, metric="loss", mode="min",
              best=lambda s: s["variables"], with_best=lambda s, v: {**s, "variables": v}, finish=finish,
              name="style_transfer")


def paired(images: np.ndarray, num_styles: int) -> ArraySource:
  """Every image with every style."""
  return ArraySource({"image": np.concatenate([images] * num_styles),
                      "style": np.repeat(np.arange(num_styles, dtype=np.int32), len(images))})


def style_data(config: ml_collections.ConfigDict) -> tuple[Data, np.ndarray]:
  t, tr = config.task, config.train
  crops = np.concatenate([photo_crops(name, t.crops_per_photo, t.image_size, t.photo_scale, config.seed + i)
                          for i, name in enumerate(t.train_photos)])
  heldout = photo_crops(t.heldout_photo, 2 * t.heldout_crops, t.image_size, t.photo_scale, config.seed + 1000)
  n_styles = len(t.styles)
  sources = {"val": paired(heldout[:t.heldout_crops], n_styles), "test": paired(heldout[t.heldout_crops:], n_styles)}
  train = BatchIterator(paired(crops, n_styles), tr.batch_size, seed=config.seed)
  evals = {name: (lambda n=name: eval_batches(sources[n], tr.eval_batch_size, name=n)) for name in sources}
  example = {"image": crops[:1], "style": np.zeros((1,), np.int32), "mask": np.ones((1,), np.float32)}
  return Data(train=train, eval=evals, example=example, batch_size=tr.batch_size), heldout[t.heldout_crops:]


# ---------------------------------------------------------------------------------------------
# After training: the network against per-image optimisation, same process, same loss.


def _timed(fn, *args, repeats: int = 1):
  """Seconds per call of the jitted ``fn`` (compiled and run once first)."""
  jax.block_until_ready(fn(*args))
  start = time.perf_counter()
  for _ in range(repeats):
    out = jax.block_until_ready(fn(*args))
  return (time.perf_counter() - start) / repeats, out


def compare(model, variables, perceptual: Perceptual, images: np.ndarray, config: ml_collections.ConfigDict) -> dict[str, Any]:
  """Mean perceptual loss and seconds per image of the network (one forward pass per image) and of
  per-image optimisation (``baseline.num_steps`` Adam steps from the content image), style 0."""
  b = config.baseline
  n_styles = len(config.task.styles)
  one_hot = jax.nn.one_hot(jnp.zeros((1,), jnp.int32), n_styles)
  images = jnp.asarray(images[:b.num_images])

  forward = jax.jit(lambda x: model.apply(variables, x, one_hot, train=False))
  loss = jax.jit(lambda out, x: perceptual.losses(out, x, one_hot))

  def optimise(x):
    return S.optimize_image(lambda y: perceptual.losses(y, x, one_hot)[0][0], x, optax.adam(b.learning_rate), b.num_steps)[0]

  optimise = jax.jit(optimise)
  fast, slow = [], []
  fast_t = slow_t = 0.0
  for i in range(len(images)):
    x = images[i:i + 1]
    dt, out = _timed(forward, x, repeats=5)
    fast_t += dt
    fast.append([float(v[0]) for v in loss(out, x)])
    dt, opt = _timed(optimise, x)
    slow_t += dt
    slow.append([float(v[0]) for v in loss(opt, x)])
  fast, slow = np.mean(fast, axis=0), np.mean(slow, axis=0)
  n = len(images)
  out = {"fast_loss": float(fast[0]), "fast_content_loss": float(fast[1]), "fast_style_loss": float(fast[2]),
         "optimisation_loss": float(slow[0]), "optimisation_content_loss": float(slow[1]),
         "optimisation_style_loss": float(slow[2]), "loss_ratio": float(fast[0] / slow[0]),
         "fast_s_per_image": fast_t / n, "optimisation_s_per_image": slow_t / n,
         "speedup": (slow_t / n) / (fast_t / n), "compared_images": n}
  return out


def blend(model, variables, perceptual: Perceptual, images: np.ndarray, steps: int) -> dict[str, Any]:
  """For two styles: the network's outputs at style weights ``(1 - a, a)``, ``a`` from 0 to 1, and
  their style losses against style 0 and style 1 (pure Grams)."""
  x = jnp.asarray(images)
  n = len(images)
  alphas = np.linspace(0.0, 1.0, steps)
  out = {"alphas": alphas.tolist(), "style0_loss": [], "style1_loss": []}

  @jax.jit
  def losses(w):
    feats = perceptual.features(perceptual.params, model.apply(variables, x, w, train=False))
    return [jnp.mean(S.gram_loss(feats, {name: jnp.broadcast_to(g[k], (n, *g.shape[1:])) for name, g in perceptual.grams.items()},
                                 perceptual.style_layers)) for k in (0, 1)]

  for a in alphas:
    l0, l1 = losses(jnp.tile(jnp.array([[1 - a, a]], jnp.float32), (n, 1)))
    out["style0_loss"].append(float(l0))
    out["style1_loss"].append(float(l1))
  return out


def build(config: ml_collections.ConfigDict, with_finish: bool = True):
  """``(task, data, model, perceptual)``."""
  check_config(config)
  data, heldout = style_data(config)
  perceptual = Perceptual(config)
  model = build_model(config)
  num_steps = loop.total_steps(config.train, data.train.steps_per_epoch)
  tx = optim.make_optimizer(config.optimizer, num_steps)

  def finish(state, evals, workdir):
    del evals
    variables = state["variables"]
    extra = {"comparison": compare(model, variables, perceptual, heldout, config)}
    if len(config.task.styles) == 2:
      extra["blend"] = blend(model, variables, perceptual, heldout[:config.baseline.num_images],
                             config.baseline.blend_steps)
    save_examples(model, variables, perceptual, heldout[:4], config, epath.Path(workdir) / "style_examples.png")
    (epath.Path(workdir) / "comparison.json").write_text(json.dumps(extra, indent=1))
    return extra

  return style_task(model, perceptual, tx, len(config.task.styles), finish if with_finish else None), data, model, perceptual


def save_examples(model, variables, perceptual: Perceptual, images: np.ndarray, config, path) -> None:
  """A figure: the styles, then held-out content crops over the network's outputs for each style."""
  import matplotlib

  matplotlib.use("Agg")
  import matplotlib.pyplot as plt

  from cs231n_jax.plotting import save_figure

  n_styles = len(config.task.styles)
  rows = 1 + n_styles
  fig, axes = plt.subplots(rows, len(images) + 1, figsize=(1.6 * (len(images) + 1), 1.6 * rows), squeeze=False)
  for ax in axes.ravel():
    ax.axis("off")
  for j, im in enumerate(images):
    axes[0, j + 1].imshow(im)
  axes[0, 0].set_title("content", fontsize=8)
  forward = jax.jit(lambda x, w: model.apply(variables, x, w, train=False))
  for k in range(n_styles):
    axes[k + 1, 0].imshow(perceptual.styles[k])
    out = np.asarray(forward(jnp.asarray(images), jax.nn.one_hot(jnp.full((len(images),), k), n_styles)))
    for j in range(len(images)):
      axes[k + 1, j + 1].imshow(np.clip(out[j], 0, 1))
  save_figure(fig, path)
  plt.close(fig)


def run(config: ml_collections.ConfigDict, workdir: str) -> dict[str, Any]:
  """Train the transform network through the engine, then compare it with per-image optimisation."""
  task, data, _, _ = build(config)
  return loop.fit(task, data, config, workdir)
