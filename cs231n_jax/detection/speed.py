"""Speed of the detectors and segmenters, as ratios from ONE run (every row in the same process, one
after another, on the same machine at the same moment):

- **R-CNN against Fast R-CNN**, per image, with the same backbone and box head and the same
  ``num_proposals`` proposals: R-CNN warps every proposal to ``crop`` x ``crop`` and runs the
  backbone on each; Fast R-CNN runs the backbone once and RoI-pools the proposals from the shared map
  (the functions of :func:`cs231n_jax.detection.two_stage.rcnn_functions`).
- **single shot against Faster R-CNN**: the whole detection (network, decoding, NMS, padded
  outputs) of a batch of scenes, per image, with the measured configs' networks
  (``experiments/configs/detection/single_shot.py`` / ``faster_rcnn.py``; random weights — with
  static shapes the work does not depend on them).
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
from cs231n_jax.detection import segmenters, two_stage
from cs231n_jax.tasks import detection as T


def base_config() -> ml_collections.ConfigDict:
  c = ml_collections.ConfigDict()
  c.runner = "cs231n_jax.detection.speed:run"
  c.seed = 0
  c.image_size = 56
  c.repeats = 5
  c.rcnn = ml_collections.ConfigDict({"num_proposals": 200, "crop": 56, "widths": (16, 32, 64), "head_width": 128})
  c.detect_batch = 16
  c.single_shot = ml_collections.ConfigDict({"widths": (16, 32, 64, 128), "group_norm": 8})
  c.faster_rcnn = ml_collections.ConfigDict({"widths": (16, 32, 64), "group_norm": 8, "rpn_width": 64, "head_width": 128})
  c.segment = ml_collections.ConfigDict({"num_classes": 4, "patch": 13, "width": 32, "depth": 6,
                                         "encoder_decoder_widths": (16, 32, 64)})
  return c


def _flops(compiled) -> float:
  cost = compiled.cost_analysis()
  cost = cost[0] if isinstance(cost, (list, tuple)) else cost
  return float(cost.get("flops", 0.0))


def time_per_image(fn, args, images_per_call: int, repeats: int) -> dict[str, float]:
  """Compile ``fn`` on ``args``, one untimed call, then the median of ``repeats`` timed calls / images."""
  start = time.perf_counter()
  compiled = jax.jit(fn).lower(*args).compile()
  compile_s = time.perf_counter() - start
  jax.block_until_ready(compiled(*args))
  times = []
  for _ in range(repeats):
    start = time.perf_counter()
    jax.block_until_ready(compiled(*args))
    times.append(time.perf_counter() - start)
  return {"s_per_image": float(np.median(times)) / images_per_call, "compile_s": compile_s,
          "gflops_per_image": _flops(compiled) / 1e9 / images_per_call}


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
    print(f"{name:24s} {r['s_per_image'] * 1e3:10.2f} ms/image  {r['gflops_per_image']:9.3f} GFLOPs/image  "
          f"(compile {r['compile_s']:.1f} s)", flush=True)

  # R-CNN against Fast R-CNN: one image, the same proposals
  rc = config.rcnn
  fns, params, image, boxes = two_stage.rcnn_functions(size, rc.crop, rc.num_proposals, tuple(rc.widths), rc.head_width)
  row("rcnn", fns["rcnn"], (params, image, boxes), 1)
  row("fast_rcnn", fns["fast_rcnn"], (params, image, boxes), 1)
  out["rcnn_over_fast_rcnn_time"] = out["rcnn_s_per_image"] / out["fast_rcnn_s_per_image"]
  out["rcnn_over_fast_rcnn_flops"] = out["rcnn_gflops_per_image"] / out["fast_rcnn_gflops_per_image"]
  out["num_proposals"] = rc.num_proposals

  # single shot against Faster R-CNN: the whole detection of a batch of scenes
  images = jnp.asarray(S.detection_scenes(config.detect_batch, seed=config.seed, size=size, classes="all", split="test").images)
  for name in ("single_shot", "faster_rcnn"):
    c, model, p = _detector(name, config[name], size)
    row(name, lambda p, x, c=c, model=model: T.detect(model, p, x, c, size), (p, images), config.detect_batch)
  out["faster_rcnn_over_single_shot_time"] = out["faster_rcnn_s_per_image"] / out["single_shot_s_per_image"]

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
  for k in ("rcnn_over_fast_rcnn_time", "faster_rcnn_over_single_shot_time", "sliding_window_over_fcn_flat_time",
            "sliding_window_over_encoder_decoder_time"):
    print(f"{k}: {out[k]:.1f}x", flush=True)
  (workdir / "results.json").write_text(json.dumps(out, indent=2))
  return out
