"""Paired views for self-supervised learning: per-example, jittable augmentations drawn from a key.

Notes chapter 14 (SimCLR, L1851-1863): the positive pair is a "pair of augmented data" — two
random views of one image. The notes list no augmentations; the defaults here are SimCLR's (Chen
et al. 2020, appendix A): a random resized crop (area 0.08-1, aspect 3/4-4/3), a horizontal flip,
colour jitter (strength 0.5 on CIFAR: brightness, contrast, saturation 0.4, hue 0.1, applied with
probability 0.8), greyscale with probability 0.2 and a Gaussian blur (ImageNet only, p = 0.5). For
digits the course notes' list (chapter 7, L576-583) applies: small shifts and crops, rotations of
up to 15 degrees, noise — and no horizontal flips (a mirrored 2 is not a 2).

Every operation is a function ``op(key, image, **kwargs) -> image`` on ONE HWC image; a pipeline is
a tuple of ``(name, kwargs)`` pairs applied in order (each op with its own key folded from the
example's key), and :func:`views` maps it over a batch with ``vmap``, so every example draws its own
randomness from the step's key and the output shape is static (one compile). Where dm-pix has the
operation (rotation, affine shift, brightness / contrast / saturation / hue, greyscale, blur) it is
used; the random resized crop is ``jax.image.scale_and_translate`` into a fixed output window.

Pipelines in configs are strings in the same syntax as ``data.augment`` (``"resized_crop(scale=(0.5,
1.0)) | rotate(degrees=15) | noise(std=0.05)"``); :func:`parse_pipeline` reads them.
"""

from __future__ import annotations

import ast
from typing import Any, Callable, Sequence

import dm_pix as pix
import jax
import jax.numpy as jnp

Pipeline = tuple[tuple[str, dict[str, Any]], ...]

# SimCLR (Chen et al. 2020) values, used as defaults where the notes give none.
SIMCLR_CROP_SCALE = (0.08, 1.0)
SIMCLR_CROP_RATIO = (3 / 4, 4 / 3)
SIMCLR_JITTER = {"brightness": 0.4, "contrast": 0.4, "saturation": 0.4, "hue": 0.1}  # strength 0.5 (CIFAR-10)
SIMCLR_JITTER_PROB = 0.8
SIMCLR_GREY_PROB = 0.2
SIMCLR_BLUR_PROB = 0.5
SIMCLR_BLUR_SIGMA = (0.1, 2.0)

# The digits pipeline (notes chapter 7's list: shifts and crops, rotations of +-15 degrees, noise; no flips).
DIGITS_PIPELINE = "resized_crop(scale=(0.6, 1.0)) | rotate(degrees=15) | shift(pixels=1) | noise(std=0.05)"
# SimCLR's CIFAR-10 pipeline (no blur on CIFAR in the paper).
COLOR_PIPELINE = ("resized_crop(scale=(0.08, 1.0)) | flip | jitter(brightness=0.4, contrast=0.4, saturation=0.4, hue=0.1, prob=0.8)"
                  " | grey(prob=0.2)")


def _check_image(image: jax.Array, where: str) -> None:
  if image.ndim != 3:
    raise ValueError(f"{where}: expected one HWC image (3 dimensions), got shape {image.shape}")


def _apply_with_prob(key: jax.Array, prob: float, image: jax.Array, fn: Callable[[jax.Array], jax.Array]) -> jax.Array:
  if prob >= 1.0:
    return fn(image)
  return jnp.where(jax.random.bernoulli(key, prob), fn(image), image)


def resized_crop(key: jax.Array, image: jax.Array, scale: Sequence[float] = SIMCLR_CROP_SCALE,
                 ratio: Sequence[float] = SIMCLR_CROP_RATIO) -> jax.Array:
  """Inception-style random resized crop: a box of area ``scale`` x the image's and aspect ratio
  (log-uniform) in ``ratio``, clipped to the image, at a uniform position, resized (bilinear) back
  to H x W."""
  _check_image(image, "resized_crop")
  lo, hi = scale
  if not 0 < lo <= hi <= 1:
    raise ValueError(f"resized_crop.scale: expected 0 < low <= high <= 1, got {tuple(scale)}")
  if not 0 < ratio[0] <= ratio[1]:
    raise ValueError(f"resized_crop.ratio: expected 0 < low <= high, got {tuple(ratio)}")
  h, w, c = image.shape
  ka, kr, ky, kx = jax.random.split(key, 4)
  area = jax.random.uniform(ka, (), minval=lo, maxval=hi) * h * w
  aspect = jnp.exp(jax.random.uniform(kr, (), minval=jnp.log(ratio[0]), maxval=jnp.log(ratio[1])))
  ch = jnp.clip(jnp.sqrt(area / aspect), 1.0, h)
  cw = jnp.clip(jnp.sqrt(area * aspect), 1.0, w)
  y0 = jax.random.uniform(ky, ()) * (h - ch)
  x0 = jax.random.uniform(kx, ()) * (w - cw)
  s = jnp.stack([h / ch, w / cw])
  return jax.image.scale_and_translate(image, (h, w, c), (0, 1), s, -jnp.stack([y0, x0]) * s, method="linear",
                                       antialias=False)


def rotate(key: jax.Array, image: jax.Array, degrees: float = 15.0, fill: float = 0.0) -> jax.Array:
  """Rotate about the centre by an angle uniform in [-degrees, degrees] (dm-pix, bilinear, ``fill`` outside)."""
  _check_image(image, "rotate")
  if degrees < 0:
    raise ValueError(f"rotate.degrees: expected a non-negative angle, got {degrees}")
  angle = jnp.deg2rad(jax.random.uniform(key, (), minval=-degrees, maxval=degrees))
  return pix.rotate(image, angle, order=1, mode="constant", cval=fill)


def shift(key: jax.Array, image: jax.Array, pixels: float = 1.0, fill: float = 0.0) -> jax.Array:
  """Translate by (dy, dx) uniform in [-pixels, pixels] (sub-pixel, bilinear; dm-pix affine transform)."""
  _check_image(image, "shift")
  if pixels < 0:
    raise ValueError(f"shift.pixels: expected a non-negative number of pixels, got {pixels}")
  d = jax.random.uniform(key, (2,), minval=-pixels, maxval=pixels)
  offset = jnp.concatenate([d, jnp.zeros((1,))])
  return pix.affine_transform(image, jnp.eye(3), offset=offset, order=1, mode="constant", cval=fill)


def flip(key: jax.Array, image: jax.Array, prob: float = 0.5) -> jax.Array:
  """Mirror left-right with probability ``prob`` (not for digits)."""
  _check_image(image, "flip")
  return _apply_with_prob(key, prob, image, lambda x: x[:, ::-1, :])


def jitter(key: jax.Array, image: jax.Array, brightness: float = 0.4, contrast: float = 0.4, saturation: float = 0.4,
           hue: float = 0.1, prob: float = SIMCLR_JITTER_PROB) -> jax.Array:
  """SimCLR's colour jitter with probability ``prob``: random brightness (additive, +-brightness),
  contrast and saturation (factors in [1 - s, 1 + s]) and hue (+-hue of a turn), via dm-pix. Images
  with one channel get brightness and contrast only."""
  _check_image(image, "jitter")
  for name, v in (("brightness", brightness), ("contrast", contrast), ("saturation", saturation), ("hue", hue)):
    if v < 0:
      raise ValueError(f"jitter.{name}: expected a non-negative strength, got {v}")
  kp, kb, kc, ks, kh = jax.random.split(key, 5)

  def apply(x):
    x = pix.random_brightness(kb, x, brightness)
    x = pix.random_contrast(kc, x, max(0.0, 1 - contrast), 1 + contrast)
    if x.shape[-1] == 3:
      x = pix.random_saturation(ks, jnp.clip(x, 0, 1), max(0.0, 1 - saturation), 1 + saturation)
      x = pix.random_hue(kh, x, hue)
    return x

  return _apply_with_prob(kp, prob, image, apply)


def grey(key: jax.Array, image: jax.Array, prob: float = SIMCLR_GREY_PROB) -> jax.Array:
  """Convert to greyscale (kept as 3 channels) with probability ``prob``; needs an RGB image."""
  _check_image(image, "grey")
  if image.shape[-1] != 3:
    raise ValueError(f"grey: expected an RGB image (3 channels), got {image.shape[-1]}")
  return _apply_with_prob(key, prob, image, lambda x: jnp.broadcast_to(pix.rgb_to_grayscale(x, keep_dims=True), x.shape))


def blur(key: jax.Array, image: jax.Array, sigma: Sequence[float] = SIMCLR_BLUR_SIGMA, prob: float = SIMCLR_BLUR_PROB,
         kernel_size: int = 0) -> jax.Array:
  """Gaussian blur with sigma uniform in ``sigma``, with probability ``prob`` (dm-pix). The kernel
  is ``kernel_size`` wide (0: SimCLR's 10% of the image side, at least 3, odd)."""
  _check_image(image, "blur")
  if not 0 < sigma[0] <= sigma[1]:
    raise ValueError(f"blur.sigma: expected 0 < low <= high, got {tuple(sigma)}")
  size = kernel_size or max(3, int(0.1 * image.shape[0]) // 2 * 2 + 1)
  kp, ks = jax.random.split(key)
  s = jax.random.uniform(ks, (), minval=sigma[0], maxval=sigma[1])
  return _apply_with_prob(kp, prob, image, lambda x: pix.gaussian_blur(x, s, size))


def noise(key: jax.Array, image: jax.Array, std: float = 0.05) -> jax.Array:
  """Add Gaussian pixel noise of standard deviation ``std``."""
  _check_image(image, "noise")
  if std < 0:
    raise ValueError(f"noise.std: expected a non-negative standard deviation, got {std}")
  return image + std * jax.random.normal(key, image.shape, image.dtype)


OPS: dict[str, Callable[..., jax.Array]] = {
    "resized_crop": resized_crop, "rotate": rotate, "shift": shift, "flip": flip, "jitter": jitter, "grey": grey,
    "blur": blur, "noise": noise,
}


def parse_pipeline(spec: str | Pipeline) -> Pipeline:
  """``"resized_crop(scale=(0.5, 1.0)) | noise"`` -> ``(("resized_crop", {"scale": (0.5, 1.0)}), ("noise", {}))``."""
  if not isinstance(spec, str):
    return tuple((name, dict(kwargs)) for name, kwargs in spec)
  ops = []
  for part in (p.strip() for p in spec.split("|")):
    if not part:
      continue
    try:
      node = ast.parse(part, mode="eval").body
      if isinstance(node, ast.Name):
        name, kwargs = node.id, {}
      elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and not node.args:
        name, kwargs = node.func.id, {kw.arg: ast.literal_eval(kw.value) for kw in node.keywords}
      else:
        raise ValueError
    except (SyntaxError, ValueError):
      raise ValueError(f"views: cannot read {part!r}; expected name or name(key=value, ...)") from None
    if name not in OPS:
      raise ValueError(f"views: unknown augmentation {name!r}; expected one of {tuple(OPS)}")
    ops.append((name, kwargs))
  return tuple(ops)


def view_fn(pipeline: str | Pipeline | Callable) -> Callable[[jax.Array, jax.Array], jax.Array]:
  """One example's view: ``fn(key, image) -> image`` applying ``pipeline`` in order (a callable
  ``fn(key, image)`` is a user's own view and is returned as it is)."""
  if callable(pipeline):
    return pipeline
  ops = parse_pipeline(pipeline)

  def fn(key, image):
    for i, (name, kwargs) in enumerate(ops):
      image = OPS[name](jax.random.fold_in(key, i), image, **kwargs)
    return image

  return fn


def check_shapes(pipelines: Sequence[str | Pipeline], image_shape: tuple[int, ...]) -> None:
  """Raise ValueError unless every pipeline maps an image of ``image_shape`` to that same shape
  (the views of a pair are compared row by row and fed to one encoder)."""
  key = jax.ShapeDtypeStruct((2,), jnp.uint32)
  image = jax.ShapeDtypeStruct(tuple(image_shape), jnp.float32)
  for i, p in enumerate(pipelines):
    out = jax.eval_shape(view_fn(p), key, image)
    if tuple(out.shape) != tuple(image_shape):
      raise ValueError(f"views: pipeline {i} ({p!r}) returns images of shape {tuple(out.shape)}, expected "
                       f"{tuple(image_shape)} like its input and the other views")


def views(key: jax.Array, images: jax.Array, pipelines: Sequence[str | Pipeline]) -> tuple[jax.Array, ...]:
  """One augmented batch per pipeline (pass the same pipeline twice for SimCLR's symmetric pair, two
  different ones for BYOL's asymmetric pair). Example ``i`` of view ``v`` uses
  ``fold_in(fold_in(key, v), i)``, so every example and view draws its own randomness."""
  if images.ndim != 4:
    raise ValueError(f"views: expected an NHWC batch (4 dimensions), got shape {images.shape}")
  check_shapes(pipelines, images.shape[1:])
  out = []
  for v, p in enumerate(pipelines):
    keys = jax.vmap(lambda i, kv=jax.random.fold_in(key, v): jax.random.fold_in(kv, i))(jnp.arange(images.shape[0]))
    out.append(jax.vmap(view_fn(p))(keys, images))
  return tuple(out)
