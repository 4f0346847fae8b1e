"""Feature inversion (lecture 13 V20-V22; Mahendran & Vedaldi 2015): given a feature ``Phi_0`` of an
image at some layer, find ``x* = argmin_x ||Phi(x) - Phi_0||^2 + lambda R_{V^beta}(x)`` — an image that
matches it and "looks natural" under the total-variation prior (:func:`cs231n_jax.vis.style.total_variation`).

The feature loss is reported relative to ``||Phi_0||^2`` (so depths compare); the optimisation is one
jitted ``lax.scan`` of Adam updates of the pixels from uniform noise.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

import jax
import jax.numpy as jnp
import numpy as np
import optax

from cs231n_jax.vis.style import Features, check_image, optimize_image, total_variation


def invert(features: Features, params, image, layer: str, tv_weight: float = 1e-3, beta: float = 2.0,
           num_steps: int = 300, learning_rate: float = 0.05, key: jax.Array | None = None) -> dict[str, Any]:
  """Reconstruct ``image`` (HWC in [0, 1]) from its features at ``layer``. The objective per step is
  ``||Phi(x) - Phi_0||^2 / ||Phi_0||^2 + tv_weight * R(x) / (H W)``. Returns the reconstruction, the
  initial and final relative feature loss, their ratio, the final TV and the pixel MSE."""
  image = check_image(image, "image")
  feats = features(params, image[None])
  if layer not in feats:
    raise ValueError(f"layer: the feature extractor has no layer {layer!r}; it has {sorted(feats)}")
  target = feats[layer]
  scale = jnp.sum(target ** 2)
  h, w, _ = image.shape
  key = jax.random.PRNGKey(0) if key is None else key
  x0 = jax.random.uniform(key, (1, h, w, 3))

  def feature_loss(x):
    return jnp.sum((features(params, x)[layer] - target) ** 2) / scale

  def loss_fn(x):
    return feature_loss(x) + tv_weight * total_variation(x, beta)[0] / (h * w)

  x, losses = jax.jit(lambda x: optimize_image(loss_fn, x, optax.adam(learning_rate), num_steps))(x0)
  initial, final = float(feature_loss(x0)), float(feature_loss(x))
  return {"image": x[0], "initial_feature_loss": initial, "feature_loss": final,
          "reduction": initial / max(final, 1e-30), "tv": float(total_variation(x, beta)[0]),
          "pixel_mse": float(jnp.mean((x[0] - image) ** 2)), "losses": np.asarray(losses)}


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
