"""Self-supervision from pixels as tasks: the masked autoencoder, context-encoder inpainting, colourisation.

- ``mae`` (He et al. 2022; beyond the notes): :mod:`cs231n_jax.ssl.mae`. A random ``mae.mask_ratio`` of
  the patches is hidden per example (drawn from the step's key), the ViT encoder sees the rest, the
  decoder predicts every patch, the loss counts the hidden patches only. ``finish`` probes the
  encoder's mean-pooled tokens (nothing masked) with the protocol of :mod:`cs231n_jax.tasks.contrastive`
  and reports the held-out masked-patch loss.
- ``inpainting`` (Pathak et al. 2016, the notes' context encoders, L1771): a square hole of
  ``inpainting.hole`` pixels at the centre is filled with the training mean; the generator (an encoder
  to features h, a decoder back to the image) predicts the hole; the loss is
  ``rec_weight * L2(hole) + adv_weight * adversarial`` (the paper's 0.999 and 0.001), the adversarial
  part the non-saturating GAN loss of a discriminator that judges the hole's content, trained in the
  same step. ``finish`` probes h of whole images and reports the hole's held-out error against the
  fill-with-the-mean baseline.
- ``colorization`` (Zhang et al. 2016 predict quantised chroma; here the regression form): the input is
  the L channel of CIE Lab, the target the (a, b) channels, the loss the mean squared error of (a, b)
  (in units of 100). Data: random crops of scikit-image's RGB photos: other photos held out, or
  (``train_rows`` / ``test_rows``) disjoint bands of the same photos. ``finish`` reports the held-out
  (a, b) RMSE (overall and per photo) against predicting grey (a = b = 0) and the training mean (a, b).
  L2 predicts the conditional mean of the chroma (desaturated colours), which is what the RMSE rewards;
  Zhang et al.'s rebalanced classification trades RMSE for vivid colours. The photos have no class labels: colourisation gets no probe row.
"""

from __future__ import annotations

from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax

from cs231n_jax import optim
from cs231n_jax.data import load_dataset
from cs231n_jax.data.pipeline import ArraySource, BatchIterator
from cs231n_jax.errors import ConfigError
from cs231n_jax.models.registry import get_model
from cs231n_jax.ssl import mae, views
from cs231n_jax.ssl.photos import TEST_PHOTOS, TRAIN_PHOTOS, photo_crops  # noqa: F401 (re-exported)
from cs231n_jax.tasks import contrastive
from cs231n_jax.train import loop, parallel
from cs231n_jax.train.steps import psum_if
from cs231n_jax.train.task import Data, Task

METHODS = ("mae", "inpainting", "colorization")
RUNNER = "cs231n_jax.tasks.ssl_pixels:run"
# Pathak et al. 2016: lambda_rec = 0.999, lambda_adv = 0.001; Adam 2e-4 (DCGAN's) for both networks.
CONTEXT_REC_WEIGHT = 0.999
CONTEXT_ADV_WEIGHT = 0.001
# CIE Lab with the D65 white (scikit-image's rgb2lab default, 2-degree observer).
XYZ_FROM_RGB = np.array([[0.412453, 0.357580, 0.180423], [0.212671, 0.715160, 0.072169], [0.019334, 0.119193, 0.950227]])
D65_WHITE = np.array([0.95047, 1.0, 1.08883])


def base_config() -> ml_collections.ConfigDict:
  c = contrastive.base_config()
  c.runner = RUNNER
  c.method = "mae"
  c.views.view1 = ""  # the pretext transformation is the signal; no augmentation by default
  c.mae = ml_collections.ConfigDict({"mask_ratio": mae.MAE_MASK_RATIO, "norm_pix_loss": False,  # the paper: True (224px)
                                     "patch_size": 2, "hidden_dim": 64, "num_layers": 4, "num_heads": 4, "mlp_dim": 128,
                                     "decoder_dim": 32, "decoder_layers": 1, "decoder_heads": 4, "decoder_mlp_dim": 64})
  c.inpainting = ml_collections.ConfigDict({"hole": 4, "rec_weight": CONTEXT_REC_WEIGHT, "adv_weight": CONTEXT_ADV_WEIGHT,
                                            "channels": (32, 64), "features": 128, "disc_channels": (32,),
                                            "disc_learning_rate": 2e-4})
  c.colorization = ml_collections.ConfigDict({"train_photos": TRAIN_PHOTOS, "test_photos": TEST_PHOTOS,
                                              "crop": 32, "scale": 0.25, "train_crops": 2000, "test_crops": 200,
                                              "channels": (32, 64), "train_rows": (0.0, 1.0), "test_rows": (0.0, 1.0)})
  c.train.update({"batch_size": 128, "num_steps": 500})
  return c


# ---------------------------------------------------------------------------------------------
# Colour: CIE Lab in JAX (checked against scikit-image's rgb2lab).
# ---------------------------------------------------------------------------------------------


def rgb_to_lab(rgb: jax.Array) -> jax.Array:
  """sRGB in [0, 1] (..., 3) -> CIE Lab (L in [0, 100]), D65 white."""
  lin = jnp.where(rgb > 0.04045, ((rgb + 0.055) / 1.055) ** 2.4, rgb / 12.92)
  xyz = lin @ jnp.asarray(XYZ_FROM_RGB.T, rgb.dtype) / jnp.asarray(D65_WHITE, rgb.dtype)
  eps = (6.0 / 29.0) ** 3
  f = jnp.where(xyz > eps, jnp.cbrt(jnp.maximum(xyz, eps)), xyz / (3 * (6.0 / 29.0) ** 2) + 4.0 / 29.0)
  fx, fy, fz = f[..., 0], f[..., 1], f[..., 2]
  return jnp.stack([116.0 * fy - 16.0, 500.0 * (fx - fy), 200.0 * (fy - fz)], axis=-1)


def lab_to_rgb(lab: jax.Array) -> jax.Array:
  """The inverse of :func:`rgb_to_lab`, clipped to [0, 1]."""
  fy = (lab[..., 0] + 16.0) / 116.0
  f = jnp.stack([fy + lab[..., 1] / 500.0, fy, fy - lab[..., 2] / 200.0], axis=-1)
  d = 6.0 / 29.0
  xyz = jnp.where(f > d, f ** 3, 3 * d * d * (f - 4.0 / 29.0)) * jnp.asarray(D65_WHITE, lab.dtype)
  lin = xyz @ jnp.asarray(np.linalg.inv(XYZ_FROM_RGB).T, lab.dtype)
  lin = jnp.clip(lin, 0.0, None)
  rgb = jnp.where(lin > 0.0031308, 1.055 * lin ** (1 / 2.4) - 0.055, 12.92 * lin)
  return jnp.clip(rgb, 0.0, 1.0)


# ---------------------------------------------------------------------------------------------
# The pieces of each objective (pure functions; tests call them).
# ---------------------------------------------------------------------------------------------


def centre_hole(shape: tuple[int, int, int], hole: int) -> np.ndarray:
  """(H, W, 1) float mask: 1 inside the central ``hole`` x ``hole`` square."""
  h, w, _ = shape
  if not 1 <= hole < min(h, w):
    raise ConfigError(f"inpainting.hole: expected 1..{min(h, w) - 1} pixels for {h}x{w} images, got {hole!r}")
  m = np.zeros((h, w, 1), np.float32)
  top, left = (h - hole) // 2, (w - hole) // 2
  m[top:top + hole, left:left + hole] = 1.0
  return m


def hole_content(images: jax.Array, hole: int) -> jax.Array:
  n, h, w, c = images.shape
  top, left = (h - hole) // 2, (w - hole) // 2
  return images[:, top:top + hole, left:left + hole]


def mean_over(values: jax.Array, axis_name) -> jax.Array:
  """The global-batch mean of per-example values (this device's share under ``pmap``; psum'd by the caller)."""
  n = values.shape[0] if axis_name is None else jax.lax.psum(values.shape[0], axis_name)
  return jnp.sum(values) / n


def context_losses(gen, disc, g_params, d_params, images, mask, fill, hole: int, rec_w: float, adv_w: float, axis_name=None):
  """(generator loss, discriminator loss, reconstruction L2) shares of the global-batch means.

  The reconstruction term is the mean squared error over the hole's pixels; the adversarial term is
  the non-saturating ``-log D(G(x))``; the discriminator's is ``-log D(real) - log(1 - D(G(x)))``."""
  masked = images * (1.0 - mask) + fill * mask
  pred = gen.apply({"params": g_params}, masked)
  area = jnp.sum(mask) * images.shape[-1]
  rec = jnp.sum(((pred - images) * mask) ** 2, axis=(1, 2, 3)) / area
  fake = disc.apply({"params": d_params}, hole_content(pred, hole))
  g_adv = optax.sigmoid_binary_cross_entropy(fake, jnp.ones_like(fake))
  g_loss = mean_over(rec_w * rec + adv_w * g_adv, axis_name)
  real = disc.apply({"params": d_params}, hole_content(images, hole))
  fake_sg = disc.apply({"params": d_params}, jax.lax.stop_gradient(hole_content(pred, hole)))
  d_loss = mean_over(optax.sigmoid_binary_cross_entropy(real, jnp.ones_like(real)) +
                     optax.sigmoid_binary_cross_entropy(fake_sg, jnp.zeros_like(fake_sg)), axis_name)
  return g_loss, d_loss, mean_over(rec, axis_name)


def colorization_loss(model, params, rgb, axis_name=None):
  """Mean squared error of the predicted (a, b) / 100 from L / 100; returns (loss share, per-example MSE)."""
  lab = rgb_to_lab(rgb)
  pred = model.apply({"params": params}, lab[..., :1] / 100.0)
  per = jnp.mean((pred - lab[..., 1:] / 100.0) ** 2, axis=(1, 2, 3))
  return mean_over(per, axis_name), per


# ---------------------------------------------------------------------------------------------
# Tasks.
# ---------------------------------------------------------------------------------------------


def mae_model(config, image_shape) -> nn.Module:
  m = config.mae
  return get_model("mae_vit", image_shape=tuple(image_shape), patch_size=m.patch_size, hidden_dim=m.hidden_dim,
                   num_layers=m.num_layers, num_heads=m.num_heads, mlp_dim=m.mlp_dim, decoder_dim=m.decoder_dim,
                   decoder_layers=m.decoder_layers, decoder_heads=m.decoder_heads, decoder_mlp_dim=m.decoder_mlp_dim)


def mae_task(config, model, tx, image_shape, finish=None) -> Task:
  m = config.mae
  num_patches = model.num_patches
  mae.num_visible(num_patches, m.mask_ratio)  # checks the ratio
  aug = views.parse_pipeline(config.views.view1)

  def init(key, example):
    visible, _ = random_masking(key, 1, num_patches)
    params = model.init(key, jnp.zeros((1, *image_shape), jnp.float32), visible)["params"]
    return {"params": params, "opt_state": tx.init(params)}

  def random_masking(key, n, num):
    return mae.random_masking(key, n, num, m.mask_ratio)

  def train_step(state, batch, key, axis_name=None):
    aug_key, mask_key = jax.random.split(key)
    images = views.views(aug_key, batch["image"], [aug])[0] if aug else batch["image"]
    visible, mask = random_masking(mask_key, images.shape[0], num_patches)

    def loss_fn(p):
      pred = model.apply({"params": p}, images, visible)
      return mean_over(mae.masked_patch_loss(pred, images, mask, m.patch_size, m.norm_pix_loss), axis_name)

    loss, grads = jax.value_and_grad(loss_fn)(state["params"])
    grads = psum_if(grads, axis_name)
    updates, opt_state = tx.update(grads, state["opt_state"], state["params"])
    return ({"params": optax.apply_updates(state["params"], updates), "opt_state": opt_state},
            {"loss": psum_if(loss, axis_name), "grad_norm": optax.tree.norm(grads)})

  return Task(init=init, train_step=train_step, best=lambda s: s, with_best=lambda s, b: b, finish=finish, name="ssl/mae")


def inpainting_task(config, gen, disc, tx_g, tx_d, image_shape, fill, finish=None) -> Task:
  c = config.inpainting
  hole = c.hole
  mask = jnp.asarray(centre_hole(tuple(image_shape), hole))
  fill = jnp.asarray(fill, jnp.float32)

  def init(key, example):
    gkey, dkey = jax.random.split(key)
    g = gen.init(gkey, jnp.zeros((1, *image_shape), jnp.float32))["params"]
    d = disc.init(dkey, jnp.zeros((1, hole, hole, image_shape[-1]), jnp.float32))["params"]
    return {"params": g, "opt_state": tx_g.init(g), "disc_params": d, "disc_opt_state": tx_d.init(d)}

  def train_step(state, batch, key, axis_name=None):
    del key
    images = batch["image"]

    def g_fn(gp):
      g_loss, _, rec = context_losses(gen, disc, gp, state["disc_params"], images, mask, fill, hole, c.rec_weight,
                                      c.adv_weight, axis_name)
      return g_loss, rec

    def d_fn(dp):
      return context_losses(gen, disc, state["params"], dp, images, mask, fill, hole, c.rec_weight, c.adv_weight,
                            axis_name)[1]

    (g_loss, rec), g_grads = jax.value_and_grad(g_fn, has_aux=True)(state["params"])
    d_loss, d_grads = jax.value_and_grad(d_fn)(state["disc_params"])
    g_grads, d_grads = psum_if(g_grads, axis_name), psum_if(d_grads, axis_name)
    g_up, g_opt = tx_g.update(g_grads, state["opt_state"], state["params"])
    d_up, d_opt = tx_d.update(d_grads, state["disc_opt_state"], state["disc_params"])
    new = {"params": optax.apply_updates(state["params"], g_up), "opt_state": g_opt,
           "disc_params": optax.apply_updates(state["disc_params"], d_up), "disc_opt_state": d_opt}
    return new, {"loss": psum_if(g_loss, axis_name), "disc_loss": psum_if(d_loss, axis_name),
                 "hole_mse": psum_if(rec, axis_name)}

  return Task(init=init, train_step=train_step, best=lambda s: s, with_best=lambda s, b: b, finish=finish,
              name="ssl/inpainting")


def colorization_task(config, model, tx, crop: int, finish=None) -> Task:
  def init(key, example):
    params = model.init(key, jnp.zeros((1, crop, crop, 1), jnp.float32))["params"]
    return {"params": params, "opt_state": tx.init(params)}

  def train_step(state, batch, key, axis_name=None):
    del key
    (loss, _), grads = jax.value_and_grad(lambda p: colorization_loss(model, p, batch["image"], axis_name),
                                          has_aux=True)(state["params"])
    grads = psum_if(grads, axis_name)
    updates, opt_state = tx.update(grads, state["opt_state"], state["params"])
    return ({"params": optax.apply_updates(state["params"], updates), "opt_state": opt_state},
            {"loss": psum_if(loss, axis_name)})

  return Task(init=init, train_step=train_step, best=lambda s: s, with_best=lambda s, b: b, finish=finish,
              name="ssl/colorization")


def _check_weights(c) -> None:
  for name in ("rec_weight", "adv_weight"):
    v = c.inpainting[name]
    if isinstance(v, bool) or not isinstance(v, (int, float)) or v < 0:
      raise ConfigError(f"inpainting.{name}: expected a non-negative number, got {v!r}")


def batched(fn, images: np.ndarray, batch: int = 500) -> np.ndarray:
  return np.concatenate([np.asarray(fn(jnp.asarray(images[i:i + batch]))) for i in range(0, len(images), batch)])


def build(config: ml_collections.ConfigDict):
  """``(task, data, model, info)`` for ``config.method``; ``finish`` reports the method's held-out
  numbers (and the probe for MAE and inpainting)."""
  if config.method not in METHODS:
    raise ConfigError(f"method: expected one of {METHODS}, got {config.method!r}")
  loop.check_engine_config(config.train)
  parallel.initialize()
  t = config.train
  if config.method == "colorization":
    cc = config.colorization
    train_rows, test_rows = tuple(cc.get("train_rows", (0.0, 1.0))), tuple(cc.get("test_rows", (0.0, 1.0)))
    train_x = photo_crops(tuple(cc.train_photos), cc.train_crops, cc.crop, cc.scale, config.seed, train_rows)
    test_names = tuple(cc.test_photos)
    test_x = photo_crops(test_names, cc.test_crops, cc.crop, cc.scale, config.seed + 1, test_rows)
    # Which held-out photo each crop came from (photo_crops spreads the count evenly, in order).
    test_photo = np.repeat(np.arange(len(test_names)),
                           [cc.test_crops // len(test_names) + (i < cc.test_crops % len(test_names))
                            for i in range(len(test_names))])
    train = BatchIterator(ArraySource({"image": train_x}), t.batch_size, seed=config.seed, last_batch="drop",
                          process_index=jax.process_index(), process_count=jax.process_count(), name="train")
    data = Data(train=train, eval={}, example={"image": train_x[:1], "mask": np.ones((1,), np.float32)},
                batch_size=t.batch_size)
    model = get_model("colorization_net", channels=tuple(cc.channels))
    tx = optim.make_optimizer(config.optimizer, loop.total_steps(t, train.steps_per_epoch))

    def finish(state, evals, workdir):
      del evals, workdir
      fn = jax.jit(lambda x: colorization_loss(model, state["params"], x)[1])
      mse = batched(fn, test_x)
      ab_test = np.asarray(rgb_to_lab(jnp.asarray(test_x)))[..., 1:] / 100.0
      ab_mean = np.asarray(rgb_to_lab(jnp.asarray(train_x)))[..., 1:].reshape(-1, 2).mean(0) / 100.0
      grey = np.mean(ab_test ** 2, axis=(1, 2, 3))
      out = {"ab_rmse": float(100 * np.sqrt(mse.mean())), "ab_rmse_grey": float(100 * np.sqrt(grey.mean())),
             "ab_rmse_train_mean": float(100 * np.sqrt(np.mean((ab_test - ab_mean) ** 2)))}
      for i, name in enumerate(test_names):  # per held-out photo: the aggregate can hide a colourless photo
        out[f"ab_rmse/{name}"] = float(100 * np.sqrt(mse[test_photo == i].mean()))
        out[f"ab_rmse_grey/{name}"] = float(100 * np.sqrt(grey[test_photo == i].mean()))
      return out

    return colorization_task(config, model, tx, cc.crop, finish), data, model, (train_x, test_x)

  dataset = load_dataset(config.data)
  data = contrastive.ssl_data(dataset, config)
  num_steps = loop.total_steps(t, data.train.steps_per_epoch)
  tx = optim.make_optimizer(config.optimizer, num_steps)
  if config.method == "mae":
    model = mae_model(config, dataset.image_shape)

    def finish(state, evals, workdir):
      del evals, workdir
      params = state["params"]
      feat = jax.jit(lambda x: model.apply({"params": params}, x, method=type(model).features))
      out = contrastive.probe_results(config, dataset, lambda x: batched(feat, x))
      test = jnp.asarray(dataset.test.images)
      visible, mask = mae.random_masking(jax.random.PRNGKey(config.seed), len(test), model.num_patches, config.mae.mask_ratio)
      mean_pixel = float(dataset.train.images.mean())

      @jax.jit
      def held_out(params):
        pred = model.apply({"params": params}, test, visible)
        # The baseline: every hidden pixel predicted as the training mean pixel.
        return (jnp.mean(mae.masked_patch_loss(pred, test, mask, config.mae.patch_size, config.mae.norm_pix_loss)),
                jnp.mean(mae.masked_patch_loss(jnp.full_like(pred, mean_pixel), test, mask, config.mae.patch_size)))

      mse, mse_mean = held_out(params)
      out.update(masked_patch_mse=float(mse), masked_patch_mse_mean_pixel=float(mse_mean))
      return out

    return mae_task(config, model, tx, dataset.image_shape, finish), data, model, dataset

  _check_weights(config)
  c = config.inpainting
  shape = dataset.image_shape
  mask = centre_hole(shape, c.hole)
  fill = dataset.train.images.reshape(-1, shape[-1]).mean(0)
  gen = get_model("context_encoder", channels=tuple(c.channels), feature_dim=c.features, image_shape=tuple(shape))
  disc = get_model("context_discriminator", channels=tuple(c.disc_channels))
  tx_d = optax.adam(c.disc_learning_rate, b1=0.5)

  def finish(state, evals, workdir):
    del evals, workdir
    params = state["params"]
    feat = jax.jit(lambda x: gen.apply({"params": params}, x, method=type(gen).features))
    out = contrastive.probe_results(config, dataset, lambda x: batched(feat, x))
    test = dataset.test.images
    pred = batched(jax.jit(lambda x: gen.apply({"params": params}, x * (1 - mask) + fill * mask)), test)
    area = mask.sum() * shape[-1]
    out["hole_mse"] = float(np.mean(np.sum(((pred - test) * mask) ** 2, axis=(1, 2, 3)) / area))
    out["hole_mse_mean_fill"] = float(np.mean(np.sum(((fill - test) * mask) ** 2, axis=(1, 2, 3)) / area))
    return out

  task = inpainting_task(config, gen, disc, tx, tx_d, shape, fill, finish)
  return task, data, gen, dataset


def run(config: ml_collections.ConfigDict, workdir: str) -> dict[str, Any]:
  """Train ``config.method`` through the engine; print its held-out numbers."""
  task, data, _, _ = build(config)
  results = loop.fit(task, data, config, workdir)
  if jax.process_index() == 0:
    print({k: round(v, 4) for k, v in results.items() if isinstance(v, float)})
  return results
