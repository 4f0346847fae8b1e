"""The image-optimisation experiments of lecture 13 (V18-V28): DeepDream, feature inversion, texture
synthesis and the content / style trade-off of neural style transfer, each on a configured feature
network (a pretrained ImageNet network, or the random-weight substitute). None trains a network:
each optimises images (the jitted ``lax.scan`` programs of :mod:`cs231n_jax.vis`), so this is a
study, not a task; fast style transfer, which trains a network through the engine, is
:mod:`cs231n_jax.tasks.style_transfer`.

``config.algorithm`` picks one of ``texture``, ``deepdream``, ``inversion``, ``style``; the run writes
``results.json`` and a figure ``<algorithm>.png`` in the workdir.
"""

from __future__ import annotations

import json
import time
from typing import Any

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
from etils import epath

from cs231n_jax.errors import ConfigError
from cs231n_jax.tasks.style_transfer import config_weights, load_style
from cs231n_jax.vis import style as S

RUNNER = "cs231n_jax.studies.style_transfer:run_algorithm"


def _photo(name: str, size: int) -> np.ndarray:
  from skimage import data
  from skimage.transform import resize

  image = np.asarray(getattr(data, name)()).astype(np.float32) / 255.0
  return np.clip(resize(image, (size, size), anti_aliasing=True), 0, 1).astype(np.float32)


def _figure(images: dict[str, np.ndarray], path) -> None:
  import matplotlib

  matplotlib.use("Agg")
  import matplotlib.pyplot as plt

  from cs231n_jax.plotting import save_figure

  fig, axes = plt.subplots(1, len(images), figsize=(2.2 * len(images), 2.4), squeeze=False)
  for ax, (title, im) in zip(axes[0], images.items()):
    ax.imshow(np.clip(np.asarray(im), 0, 1))
    ax.set_title(title, fontsize=7)
    ax.axis("off")
  save_figure(fig, path)
  plt.close(fig)


def run_algorithm(config: ml_collections.ConfigDict, workdir: str) -> dict[str, Any]:
  """One image-optimisation experiment of lecture 13 on the configured feature network."""
  from cs231n_jax.vis import deepdream, inversion, texture

  workdir = epath.Path(workdir)
  workdir.mkdir(parents=True, exist_ok=True)
  f = config.features
  algorithm = config.algorithm
  schedule = config.get("schedule", "constant")  # Adam's learning rate on the pixels: constant or cosine-decayed
  start = time.time()
  if algorithm == "texture":
    layers = config_weights(f.style_layers, "features.style_layers")
    features, params = S.make_features(f, sorted(layers))
    size = config.size
    results, images = {}, {}
    for name in config.textures:
      src = texture.bundled_texture(name, size, tuple(config.offset))
      r = texture.gram_texture(features, params, src, layers, (size, size), config.num_steps, config.learning_rate,
                               schedule=schedule)
      other = texture.bundled_texture(config.unrelated[name], size, tuple(config.offset))
      results[name] = {"initial_loss": r["initial_loss"], "loss": r["loss"], "reduction": r["initial_loss"] / r["loss"],
                       "unrelated_crop": config.unrelated[name],
                       "unrelated_crop_loss": texture.texture_loss(features, params, other, r["grams"], layers)}
      images[f"{name}"], images[f"{name}: Gram synthesis"] = src, r["image"]
    nn_src = texture.bundled_texture(config.textures[0], config.nn_size, tuple(config.offset))
    nn_img, _ = texture.nearest_neighbour_texture(jnp.asarray(nn_src), (2 * config.nn_size, 2 * config.nn_size), config.nn_radius)
    pixels = {tuple(p) for p in nn_src.reshape(-1, 3)}
    results["nearest_neighbour_all_pixels_copied"] = all(tuple(p) in pixels for p in np.asarray(nn_img).reshape(-1, 3))
    images["nearest-neighbour input"], images["nearest-neighbour output"] = nn_src, nn_img
  elif algorithm == "deepdream":
    image = _photo(config.image, config.size)
    results, images = {}, {config.image: image}
    for layer in config.layers:  # the single-scale lecture code at each layer; octaves at the last
      features, params = S.make_features(f, [layer])
      r = deepdream.deepdream(features, params, image, layer, config.num_steps, config.step_size, config.jitter)
      results[layer] = {"energy_before": r["energy_before"], "energy_after": r["energy_after"],
                        "ratio": r["energy_after"] / r["energy_before"]}
      images[f"{config.num_steps} steps at {layer}"] = r["image"]
    o = deepdream.deepdream(features, params, image, layer, config.num_steps, config.step_size, config.jitter,
                            octaves=config.octaves, octave_scale=config.octave_scale)
    results[f"{layer}_octaves_ratio"] = o["energy_after"] / o["energy_before"]
    images[f"{config.octaves} octaves at {layer}"] = o["image"]
  elif algorithm == "inversion":
    from cs231n_jax.pretrained import networks

    features, params = S.make_features(f, list(config.layers))
    image = _photo(config.image, config.size)
    net = networks.load(f.name)
    classify = jax.jit(net.logits)
    out = inversion.invert_depths(features, params, image, list(config.layers), classify=classify,
                                  tv_weight=config.tv_weight, num_steps=config.num_steps, learning_rate=config.learning_rate,
                                  schedule=schedule)
    results = {k: {n: v for n, v in r.items() if n not in ("image", "losses")} for k, r in out.items()}
    images = {config.image: image, **{f"from {k}": r["image"] for k, r in out.items()}}
  elif algorithm == "style":
    cl, sl = config_weights(f.content_layers, "features.content_layers"), config_weights(f.style_layers, "features.style_layers")
    features, params = S.make_features(f, sorted(set(cl) | set(sl)))
    content = _photo(config.content, config.size)
    styles = [load_style(s, config.style_size) for s in config.styles]
    results, images = {"content_weights": list(config.content_weights), "content_loss": [], "style_loss": []}, {}
    images["content"] = content
    for i, s in enumerate(styles):
      images[f"style {i}"] = s
    for w in config.content_weights:
      r = S.style_transfer(features, params, content, styles[:1], content_layers=cl, style_layers=sl, content_weight=w,
                           style_weight=config.style_weight, tv_weight=config.tv_weight, num_steps=config.num_steps,
                           learning_rate=config.learning_rate, schedule=schedule)
      results["content_loss"].append(r["content_loss"])
      results["style_loss"].append(r["style_loss"])
      images[f"content weight {w:g}"] = r["image"]
    c, s = results["content_loss"], results["style_loss"]
    results["monotone"] = bool(all(a > b for a, b in zip(c, c[1:])) and all(a < b for a, b in zip(s, s[1:])))
    if len(styles) > 1:
      r = S.style_transfer(features, params, content, styles, content_layers=cl, style_layers=sl,
                           content_weight=config.content_weights[len(config.content_weights) // 2],
                           style_weight=config.style_weight, tv_weight=config.tv_weight, num_steps=config.num_steps,
                           learning_rate=config.learning_rate, schedule=schedule)
      images["both styles, averaged Grams"] = r["image"]
  else:
    raise ConfigError(f"algorithm: expected texture, deepdream, inversion or style, got {algorithm!r}")
  results["wall_time_s"] = time.time() - start
  _figure(images, workdir / f"{algorithm}.png")
  (workdir / "results.json").write_text(json.dumps(results, indent=1, default=float))
  return results
