"""Speed of the detectors and segmenters, as ratios from ONE run (every row in the same process, one
after another, on the same machine at the same moment):

- **R-CNN against Fast R-CNN**, per image, with the same backbone and box head and the same
  ``num_proposals`` proposals: R-CNN warps every proposal to ``crop`` x ``crop`` and runs the
  backbone on each; Fast R-CNN runs the backbone once and RoI-pools the proposals from the shared map
  (the functions of :func:`cs231n_jax.detection.two_stage.rcnn_functions`). Beside it, ``ops.roi_pool``
  alone on Fast R-CNN's shared map (its share of Fast R-CNN's time), and how RoIPool's cost scales
  (:func:`roi_pool_scaling`): ``ops.roi_pool`` (a range-maximum table per map, four reads per bin)
  against :func:`masked_roi_pool` (the previous implementation: every bin a masked maximum over the
  whole map), at several map sizes and two box counts, split into a per-map and a per-box cost.
- **single shot against Faster R-CNN**: the whole detection (network, decoding, NMS, padded
  outputs) of a batch of scenes, per image, with the measured configs' networks
  (``experiments/configs/detection/single_shot.py`` / ``faster_rcnn.py``; random weights — with
  static shapes the work does not depend on them). Beside it, the RoIAlign of Faster R-CNN's
  proposals alone (its share of Faster R-CNN's time), and Mask R-CNN's detection (``mask_rcnn.py``'s
  network, masks included) with the RoIAlign of its box and mask heads alone.
- **sliding-window segmentation against the FCNs**: the sliding-window CNN (one ``patch`` x ``patch``
  crop per pixel) against the flat FCN of the same layers and the measured encoder–decoder, per image.

Each function is compiled first (``jit(...).lower(...).compile()``, compile time reported apart), run
once untimed, then ``repeats`` times; the row is the median wall time per image. XLA's FLOPs of each
compiled function are reported beside it. These are measurements of this machine at this moment (on
the shared CPU: under load), not properties of the code; no test asserts a time.
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

from cs231n_jax.data import scenes as S
from cs231n_jax.detection import ops, segmenters, two_stage
from cs231n_jax.tasks import detection as T


def base_config() -> ml_collections.ConfigDict:
  c = ml_collections.ConfigDict()
  c.runner = "cs231n_jax.detection.speed:run"
  c.seed = 0
  c.image_size = 56
  c.repeats = 5
  c.rcnn = ml_collections.ConfigDict({"num_proposals": 200, "crop": 56, "widths": (16, 32, 64), "head_width": 128})
  c.roi_pool_scaling = ml_collections.ConfigDict({"sizes": (14, 28, 56), "channels": 64, "boxes": (50, 400),
                                                  "output_size": 7})
  c.detect_batch = 16
  c.single_shot = ml_collections.ConfigDict({"widths": (16, 32, 64, 128), "group_norm": 8})
  c.faster_rcnn = ml_collections.ConfigDict({"widths": (16, 32, 64), "group_norm": 8, "rpn_width": 64, "head_width": 128})
  c.mask_rcnn = ml_collections.ConfigDict({"widths": (16, 32, 64), "group_norm": 8, "rpn_width": 64, "head_width": 128,
                                           "mask_head": True, "mask_width": 16})
  c.segment = ml_collections.ConfigDict({"num_classes": 4, "patch": 13, "width": 32, "depth": 6,
                                         "encoder_decoder_widths": (16, 32, 64)})
  return c


def _cost(compiled, key: str = "flops") -> float:
  cost = compiled.cost_analysis()
  cost = cost[0] if isinstance(cost, (list, tuple)) else cost
  return float(cost.get(key, 0.0))


def time_per_image(fn, args, images_per_call: int, repeats: int) -> dict[str, float]:
  """Compile ``fn`` on ``args``, one untimed call, then the median (and the minimum) of ``repeats`` timed calls
  / images; XLA's FLOPs and bytes accessed per image."""
  start = time.perf_counter()
  compiled = jax.jit(fn).lower(*args).compile()
  compile_s = time.perf_counter() - start
  jax.block_until_ready(compiled(*args))
  times = []
  for _ in range(repeats):
    start = time.perf_counter()
    jax.block_until_ready(compiled(*args))
    times.append(time.perf_counter() - start)
  return {"s_per_image": float(np.median(times)) / images_per_call, "min_s_per_image": float(np.min(times)) / images_per_call,
          "compile_s": compile_s, "gflops_per_image": _cost(compiled) / 1e9 / images_per_call,
          "gbytes_per_image": _cost(compiled, "bytes accessed") / 1e9 / images_per_call}


def masked_roi_pool(features: jax.Array, boxes: jax.Array, output_size=(7, 7), spatial_scale: float = 1.0) -> jax.Array:
  """The previous ``ops.roi_pool``, kept only as the baseline of :func:`roi_pool_scaling`: the same
  quantised bins (integer edges), each bin's maximum taken as a masked maximum over the WHOLE map
  (separable: columns, then rows), so its work is ``H * W * C`` per box."""
  h, w, _ = features.shape
  ph, pw = output_size

  def one(box):
    x0, y0, x1, y1 = jnp.round(box * spatial_scale).astype(jnp.int32)
    rw, rh = jnp.maximum(x1 - x0 + 1, 1), jnp.maximum(y1 - y0 + 1, 1)

    def cells(start, length, bins, size):
      i = jnp.arange(bins)
      lo = jnp.clip(i * length // bins + start, 0, size)
      hi = jnp.clip(-(-(i + 1) * length // bins) + start, 0, size)
      pos = jnp.arange(size)
      return (pos[None, :] >= lo[:, None]) & (pos[None, :] < hi[:, None])  # (bins, size)

    rows, cols = cells(y0, rh, ph, h), cells(x0, rw, pw, w)
    by_col = jnp.max(jnp.where(cols[None, :, :, None], features[:, None], -jnp.inf), axis=2)  # (h, pw, c)
    out = jnp.max(jnp.where(rows[:, :, None, None], by_col[None], -jnp.inf), axis=1)  # (ph, pw, c)
    empty = ~(jnp.any(rows, 1)[:, None] & jnp.any(cols, 1)[None, :])
    return jnp.where(empty[..., None], 0.0, out)

  return jax.vmap(one)(boxes)


def roi_pool_scaling(sizes, channels: int, boxes, output_size: int, repeats: int, seed: int = 0) -> list[dict[str, float]]:
  """RoIPool's cost against the map size: for each ``S`` in ``sizes`` an ``S`` x ``S`` x ``channels`` map
  and proposals drawn as in ``two_stage.rcnn_functions`` (corner in [0, 0.6 S), sides in [0.15 S, 0.4 S):
  the boxes grow with the map), both implementations timed at the two box counts ``boxes = (r1, r2)``;
  ``per_box = (t(r2) - t(r1)) / (r2 - r1)`` and ``per_map = t(r1) - r1 * per_box`` (ms, from the medians),
  and the same split of XLA's FLOPs and bytes accessed (exact, not timed). With the range-maximum table the
  per-box work stays flat as ``S`` grows (four reads of ``C`` per bin) and the per-map work grows like
  ``S**2 log**2 S``; the masked maximum's per-box work grows like ``S**2``."""
  r1, r2 = boxes
  rows = []
  for size in sizes:
    key = jax.random.PRNGKey(seed + size)
    f = jax.random.normal(key, (size, size, channels))
    xy = jax.random.uniform(jax.random.fold_in(key, 1), (r2, 2), maxval=size * 0.6)
    wh = jax.random.uniform(jax.random.fold_in(key, 2), (r2, 2), minval=size * 0.15, maxval=size * 0.4)
    b = jnp.concatenate([xy, xy + wh], -1)
    row = {"size": size}
    for name, fn in (("range_max", ops.roi_pool), ("masked", masked_roi_pool)):
      pool = lambda f, b, fn=fn: fn(f, b, (output_size, output_size))
      t1 = time_per_image(pool, (f, b[:r1]), 1, repeats)
      t2 = time_per_image(pool, (f, b), 1, repeats)
      row.update({f"{name}_ms_{r1}": t1["s_per_image"] * 1e3, f"{name}_ms_{r2}": t2["s_per_image"] * 1e3})
      for key, unit, scale in (("s_per_image", "us", 1e6), ("gflops_per_image", "kflop", 1e6), ("gbytes_per_image", "kb", 1e6)):
        per_box = (t2[key] - t1[key]) / (r2 - r1)
        row[f"{name}_per_box_{unit}"] = per_box * scale
        row[f"{name}_per_map_{unit}"] = (t1[key] - r1 * per_box) * scale
    for name in ("range_max", "masked"):
      print(f"roi_pool {name:9s} {size:3d}x{size:<3d}x{channels}: {row[f'{name}_ms_{r2}']:8.2f} ms at {r2} boxes; per box "
            f"{row[f'{name}_per_box_us']:7.1f} us, {row[f'{name}_per_box_kflop']:8.1f} kFLOP, {row[f'{name}_per_box_kb']:8.1f} kB; "
            f"per map {row[f'{name}_per_map_us'] / 1e3:6.2f} ms, {row[f'{name}_per_map_kflop']:8.1f} kFLOP, "
            f"{row[f'{name}_per_map_kb']:8.1f} kB", flush=True)
    rows.append(row)
  return rows


def _detector(name: str, kwargs, image_size: int):
  c = T.base_config(name)
  c.model.kwargs = dict(kwargs)
  model = T.build_model(c, 13)
  params = model.init(jax.random.PRNGKey(0), jnp.zeros((1, image_size, image_size, 3)))["params"]
  return c, model, params


def run(config: ml_collections.ConfigDict, workdir: str) -> dict[str, Any]:
  workdir = epath.Path(workdir)
  workdir.mkdir(parents=True, exist_ok=True)
  size, reps = config.image_size, config.repeats
  out: dict[str, Any] = {"device": str(jax.devices()[0]), "repeats": reps}

  def row(name, fn, args, n):
    r = time_per_image(fn, args, n, reps)
    out.update({f"{name}_{k}": v for k, v in r.items()})
    print(f"{name:26s} {r['s_per_image'] * 1e3:10.2f} ms/image (min {r['min_s_per_image'] * 1e3:9.2f})  "
          f"{r['gflops_per_image']:9.3f} GFLOPs/image  (compile {r['compile_s']:.1f} s)", flush=True)

  # R-CNN against Fast R-CNN: one image, the same proposals
  rc = config.rcnn
  fns, params, image, boxes = two_stage.rcnn_functions(size, rc.crop, rc.num_proposals, tuple(rc.widths), rc.head_width)
  row("rcnn", fns["rcnn"], (params, image, boxes), 1)
  row("fast_rcnn", fns["fast_rcnn"], (params, image, boxes), 1)
  out["rcnn_over_fast_rcnn_time"] = out["rcnn_s_per_image"] / out["fast_rcnn_s_per_image"]
  out["rcnn_over_fast_rcnn_time_min"] = out["rcnn_min_s_per_image"] / out["fast_rcnn_min_s_per_image"]
  out["rcnn_over_fast_rcnn_flops"] = out["rcnn_gflops_per_image"] / out["fast_rcnn_gflops_per_image"]
  out["num_proposals"] = rc.num_proposals
  # RoIPool alone on Fast R-CNN's shared map, and how its cost scales with the map
  model = two_stage.FasterRCNN(num_classes=13, widths=tuple(rc.widths), head_width=rc.head_width)
  shared = model.apply({"params": params}, image[None])[0][0]
  stride = size // shared.shape[0]
  row("fast_rcnn_roi_pool", lambda f, b: ops.roi_pool(f, b, (model.roi_size, model.roi_size), 1.0 / stride), (shared, boxes), 1)
  out["fast_rcnn_roi_pool_share"] = out["fast_rcnn_roi_pool_s_per_image"] / out["fast_rcnn_s_per_image"]
  rs = config.roi_pool_scaling
  out["roi_pool_scaling"] = roi_pool_scaling(tuple(rs.sizes), rs.channels, tuple(rs.boxes), rs.output_size, reps, config.seed)

  # single shot against Faster R-CNN: the whole detection of a batch of scenes
  images = jnp.asarray(S.detection_scenes(config.detect_batch, seed=config.seed, size=size, classes="all", split="test").images)
  for name in ("single_shot", "faster_rcnn"):
    c, model, p = _detector(name, config[name], size)
    row(name, lambda p, x, c=c, model=model: T.detect(model, p, x, c, size), (p, images), config.detect_batch)
  out["faster_rcnn_over_single_shot_time"] = out["faster_rcnn_s_per_image"] / out["single_shot_s_per_image"]
  # RoIAlign's share: Faster R-CNN's box-head RoIAlign of its proposals, and Mask R-CNN's detection with masks and
  # the RoIAlign of its box and mask heads (each alone, on the same features and boxes as inside the detection)
  for name in ("faster_rcnn", "mask_rcnn"):
    c, model, p = _detector("faster_rcnn", config[name], size)
    t = c.task
    anchors = two_stage.image_anchors(size, t.stride, t.rpn_sizes, t.rpn_ratios)
    masks = name == "mask_rcnn"
    if masks:
      row(name, lambda p, x, c=c, model=model, anchors=anchors: two_stage.faster_rcnn_detect(
          model, p, x, anchors, c.task, size, with_masks=True), (p, images), config.detect_batch)
    feats = model.apply({"params": p}, images)[0]
    det = two_stage.faster_rcnn_detect(model, p, images, anchors, t, size)
    stride = size // feats.shape[1]
    row(f"{name}_roi_align_box", lambda f, r, model=model, stride=stride: two_stage._pool(f, r, model.roi_size, stride),
        (feats, det["proposals"]), config.detect_batch)
    out[f"{name}_roi_align_box_share"] = out[f"{name}_roi_align_box_s_per_image"] / out[f"{name}_s_per_image"]
    if masks:
      row(f"{name}_roi_align_mask", lambda f, r, model=model, stride=stride: two_stage._pool(f, r, 2 * model.roi_size, stride),
          (feats, det["boxes"]), config.detect_batch)
      out[f"{name}_roi_align_mask_share"] = out[f"{name}_roi_align_mask_s_per_image"] / out[f"{name}_s_per_image"]

  # sliding-window segmentation against the FCNs, one image
  sc = config.segment
  x = images[:1]
  models = {
      "sliding_window": segmenters.SlidingWindow(sc.num_classes, sc.patch, sc.width, sc.depth),
      "fcn_flat": segmenters.FlatFCN(sc.num_classes, sc.width, sc.depth),
      "encoder_decoder": segmenters.EncoderDecoder(sc.num_classes, tuple(sc.encoder_decoder_widths), "transpose"),
  }
  for name, m in models.items():
    p = m.init(jax.random.PRNGKey(0), x)["params"]
    row(name, lambda p, x, m=m: m.apply({"params": p}, x), (p, x), 1)
  out["sliding_window_over_fcn_flat_time"] = out["sliding_window_s_per_image"] / out["fcn_flat_s_per_image"]
  out["sliding_window_over_encoder_decoder_time"] = out["sliding_window_s_per_image"] / out["encoder_decoder_s_per_image"]
  for k in ("rcnn_over_fast_rcnn_time", "rcnn_over_fast_rcnn_time_min", "rcnn_over_fast_rcnn_flops", "faster_rcnn_over_single_shot_time",
            "sliding_window_over_fcn_flat_time", "sliding_window_over_encoder_decoder_time"):
    print(f"{k}: {out[k]:.1f}x", flush=True)
  for k in ("fast_rcnn_roi_pool_share", "faster_rcnn_roi_align_box_share", "mask_rcnn_roi_align_box_share",
            "mask_rcnn_roi_align_mask_share"):
    print(f"{k}: {out[k]:.1%}", flush=True)
  (workdir / "results.json").write_text(json.dumps(out, indent=2))
  return out
