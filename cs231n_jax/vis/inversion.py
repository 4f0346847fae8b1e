"""Feature inversion (lecture 13 V20-V22; Mahendran & Vedaldi 2015): given a feature ``Phi_0`` of an
image at some layer, find ``x* = argmin_x ||Phi(x) - Phi_0||^2 + lambda R_{V^beta}(x)`` — an image that
matches it and "looks natural" under the total-variation prior (:func:`cs231n_jax.vis.style.total_variation`).

The feature loss is reported relative to ``||Phi_0||^2`` (so depths compare); the optimisation is one
jitted ``lax.scan`` of Adam updates of the pixels from uniform noise.
"""

from __future__ import annotations

import functools
from typing import Any, Callable, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from cs231n_jax.vis.style import Features, adam, check_image, check_layers, optimize_image, total_variation


@functools.partial(jax.jit, static_argnames=("features", "layer", "beta", "num_steps", "schedule"))
def _invert_program(params, image, x0, tv_weight, learning_rate, *, features, layer, beta, num_steps, schedule):
  target = features(params, image[None])[layer]
  scale = jnp.sum(target ** 2)
  h, w, _ = image.shape

  def feature_loss(x):
    return jnp.sum((features(params, x)[layer] - target) ** 2) / scale

  def loss_fn(x):
    return feature_loss(x) + tv_weight * total_variation(x, beta)[0] / (h * w)

  x, losses = optimize_image(loss_fn, x0, adam(learning_rate, num_steps, schedule), num_steps)
  return x, losses, feature_loss(x0), feature_loss(x), total_variation(x, beta)[0], jnp.mean((x[0] - image) ** 2)


def invert(features: Features, params, image, layer: str, tv_weight: float = 1e-3, beta: float = 2.0,
           num_steps: int = 300, learning_rate: float = 0.05, key: jax.Array | None = None,
           schedule: str = "constant") -> dict[str, Any]:
  """Reconstruct ``image`` (HWC in [0, 1]) from its features at ``layer``. The objective per step is
  ``||Phi(x) - Phi_0||^2 / ||Phi_0||^2 + tv_weight * R(x) / (H W)``, minimised by Adam from uniform
  noise (``schedule``: see :func:`cs231n_jax.vis.style.adam`). Returns the reconstruction, the
  initial and final relative feature loss, their ratio, the final TV and the pixel MSE. One
  compiled program per (features, layer, shapes, num_steps): calls differing in the image, the TV
  weight or the learning rate share it."""
  image = check_image(image, "image")
  check_layers(features, params, image, [layer])
  if num_steps < 1:
    raise ValueError(f"num_steps: expected a positive count, got {num_steps}")
  h, w, _ = image.shape
  key = jax.random.PRNGKey(0) if key is None else key
  x0 = jax.random.uniform(key, (1, h, w, 3))
  x, losses, initial, final, tv, mse = _invert_program(params, image, x0, jnp.float32(tv_weight), jnp.float32(learning_rate),
                                                       features=features, layer=layer, beta=float(beta),
                                                       num_steps=int(num_steps), schedule=schedule)
  initial, final = float(initial), float(final)
  return {"image": x[0], "initial_feature_loss": initial, "feature_loss": final,
          "reduction": initial / max(final, 1e-30), "tv": float(tv), "pixel_mse": float(mse), "losses": np.asarray(losses)}


def invert_depths(features: Features, params, image, layers: Sequence[str],
                  classify: Callable[[jax.Array], jax.Array] | None = None, **kwargs) -> dict[str, dict[str, Any]]:
  """:func:`invert` from each of ``layers`` (V22: reconstructions from several depths). With
  ``classify(images) -> logits``, each result also says whether the reconstruction's top-1 class
  is the source image's (``same_class``) and gives both classes."""
  out = {}
  source_class = None if classify is None else int(jnp.argmax(classify(check_image(image)[None])[0]))
  for layer in layers:
    r = invert(features, params, image, layer, **kwargs)
    if classify is not None:
      r["source_class"] = source_class
      r["class"] = int(jnp.argmax(classify(r["image"][None])[0]))
      r["same_class"] = r["class"] == source_class
    out[layer] = r
  return out
