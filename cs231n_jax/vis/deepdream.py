"""DeepDream (lecture 13 V18-V19), as the lecture's Caffe ``make_step`` does it, plus octaves.

The lecture's code (Mordvintsev et al., Apache 2.0)::

    def objective_L2(dst):
        dst.diff[:] = dst.data                       # the layer's gradient := its activation
    def make_step(net, step_size=1.5, end='inception_4c/output', jitter=32, clip=True):
        ox, oy = np.random.randint(-jitter, jitter+1, 2)
        src.data[0] = np.roll(np.roll(src.data[0], ox, -1), oy, -2)   # jitter the image
        net.forward(end=end); objective(dst); net.backward(start=end)
        g = src.diff[0]
        src.data[:] += step_size/np.abs(g).mean() * g                  # L1-normalised ascent
        src.data[0] = np.roll(np.roll(src.data[0], -ox, -1), -oy, -2) # unshift the image
        if clip: src.data[:] = np.clip(src.data, -bias, 255-bias)

Setting the layer's gradient to its activation is the gradient of ``1/2 sum_i f_i^2``; the slide's
"equivalent to argmax sum_i f_i^2" is off by that factor 2 (which the L1 normalisation removes
anyway). Images here are NHWC in [0, 1], so the clip is to [0, 1] (the Caffe code's [-mean,
255 - mean] on mean-subtracted 0-255 pixels) and ``step_size`` is in 0-255 pixel units as in the
lecture (the update divides it by 255). The "multiscale processing (not shown)" is the octave
loop of the original notebook: a pyramid of ``octave_scale``-times smaller images, dreamed from the
smallest, the detail added so far carried up to the next size.
"""

from __future__ import annotations

import functools
from typing import Any

import jax
import jax.numpy as jnp

from cs231n_jax.vis.style import Features, check_image, check_layers

PIXEL_RANGE = 255.0


def roll(x: jax.Array, ox, oy) -> jax.Array:
  """``np.roll(np.roll(x, ox, -1), oy, -2)`` of the Caffe CHW code, on NHWC: width by ``ox``, height by ``oy``."""
  return jnp.roll(jnp.roll(x, ox, axis=-2), oy, axis=-3)


def unroll(x: jax.Array, ox, oy) -> jax.Array:
  """The inverse of :func:`roll`."""
  return jnp.roll(jnp.roll(x, -ox, axis=-2), -oy, axis=-3)


def objective_l2(features: Features, params, x: jax.Array, layer: str) -> jax.Array:
  """``1/2 sum_i f_i(x)^2`` at ``layer``: its gradient at the layer is the activation itself."""
  return 0.5 * jnp.sum(features(params, x)[layer] ** 2)


def make_step(features: Features, params, x: jax.Array, key: jax.Array, layer: str, step_size: float = 1.5,
              jitter: int = 32, clip: bool = True) -> jax.Array:
  """One DeepDream step on the NHWC batch ``x`` (jittable)."""
  ox, oy = jax.random.randint(key, (2,), -jitter, jitter + 1)
  shifted = roll(x, ox, oy)
  g = jax.grad(lambda im: objective_l2(features, params, im, layer))(shifted)
  shifted = shifted + (step_size / PIXEL_RANGE) / jnp.mean(jnp.abs(g)) * g
  x = unroll(shifted, ox, oy)
  return jnp.clip(x, 0.0, 1.0) if clip else x


def dream_steps(features: Features, params, x: jax.Array, key: jax.Array, num_steps: int, layer: str,
                step_size: float = 1.5, jitter: int = 32, clip: bool = True) -> jax.Array:
  """``num_steps`` :func:`make_step` calls as one ``lax.scan`` (a fresh jitter per step)."""

  def body(x, k):
    return make_step(features, params, x, k, layer, step_size, jitter, clip), None

  x, _ = jax.lax.scan(body, x, jax.random.split(key, num_steps))
  return x


@functools.partial(jax.jit, static_argnames=("features", "layer", "num_steps", "jitter", "clip"))
def _dream_program(params, x, key, step_size, reference, *, features, layer, num_steps, jitter, clip):
  """One octave: the dreamed image and ``sum f^2`` at ``layer`` of it and of ``reference``."""
  x = dream_steps(features, params, x, key, num_steps, layer, step_size, jitter, clip)
  energy = lambda im: jnp.sum(features(params, im)[layer] ** 2)  # noqa: E731
  return x, energy(reference), energy(x)


def deepdream(features: Features, params, image, layer: str, num_steps: int = 20, step_size: float = 1.5,
              jitter: int = 32, clip: bool = True, octaves: int = 1, octave_scale: float = 1.4,
              key: jax.Array | None = None) -> dict[str, Any]:
  """DeepDream on ``image`` (HWC in [0, 1]) at ``layer``: ``num_steps`` steps per octave over
  ``octaves`` scales (1: the single-scale lecture code). Returns the dreamed image and
  ``sum f^2`` at the layer before and after (one compiled program per octave size)."""
  image = check_image(image, "image")
  if octaves < 1 or num_steps < 1 or jitter < 0 or octave_scale <= 1:
    raise ValueError("octaves / num_steps / jitter / octave_scale: expected >= 1 / >= 1 / >= 0 / > 1, "
                     f"got {octaves} / {num_steps} / {jitter} / {octave_scale}")
  check_layers(features, params, image, [layer])
  key = jax.random.PRNGKey(0) if key is None else key
  h, w, c = image.shape
  sizes = [(max(1, round(h / octave_scale ** i)), max(1, round(w / octave_scale ** i))) for i in range(octaves)][::-1]
  base = image[None]
  detail = jnp.zeros((1, *sizes[0], c))
  for i, size in enumerate(sizes):
    octave_base = jax.image.resize(base, (1, *size, c), "linear") if size != (h, w) else base
    if detail.shape[1:3] != size:
      detail = jax.image.resize(detail, (1, *size, c), "linear")
    x, before, after = _dream_program(params, octave_base + detail, jax.random.fold_in(key, i), jnp.float32(step_size),
                                      octave_base, features=features, layer=layer, num_steps=int(num_steps),
                                      jitter=int(jitter), clip=bool(clip))
    detail = x - octave_base
  return {"image": x[0], "energy_before": float(before), "energy_after": float(after)}
