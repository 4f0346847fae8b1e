"""The video lecture's experiments: several video models trained through the engine on one clip
set, one table (and the two-stream fusions and the small-data comparison of E4).

- :func:`run_table` (runner of ``experiments/configs/video/e1_motion.py`` and friends): every model
  of ``study.models`` trained by :func:`cs231n_jax.tasks.video.run` on the same data; a row per
  model with the test Clip Hit@1 / Video Hit@1 / Hit@5 (and, for two-class sets, whether the result
  is within 3 sigma of chance), parameters, GMACs of one clip (counted like the CNN zoo's,
  :func:`cs231n_jax.models.analysis.count_macs`), the compile time and median train-step time of
  one SGD step at ``study.timing_batch`` (:func:`cs231n_jax.models.analysis.compile_and_step_time`),
  all in this one run. Writes ``table.md`` and ``table.json`` to the workdir.
- :func:`run_two_stream` (E4): the spatial and the temporal stream trained separately, fused by
  averaging their softmax and by a linear SVM fit on the validation videos' scores; then the
  temporal (flow) stream against a raw-pixel 3-D CNN at several training-set sizes.
"""

from __future__ import annotations

import copy
import json
import math
from typing import Any

import jax
import ml_collections
import numpy as np
from etils import epath

from cs231n_jax.models import analysis
from cs231n_jax.studies.preemption import check_not_preempted, stops_when_preempted
from cs231n_jax.tasks import classification
from cs231n_jax.tasks import video as video_task
from cs231n_jax.train import loop

FLOW_MODELS = ("spatial_stream", "temporal_stream", "two_stream")
def model_config(config: ml_collections.ConfigDict, name: str) -> ml_collections.ConfigDict:
  """``config`` training model ``name`` (with the study's per-model overrides)."""
  c = copy.deepcopy(config)
  overrides = config.study.get("model_kwargs", {}).get(name, {})
  c.model = ml_collections.ConfigDict({"name": name, **dict(overrides)})
  # the flow channels go to the models that read them, never to a raw-pixel model
  c.data.flow = (c.data.flow or config.study.get("flow", "ground_truth")) if name in FLOW_MODELS else ""
  if "study" in c:
    del c["study"]
  return c


def built_model(config: ml_collections.ConfigDict, num_classes: int):
  return classification.build_model(config.model, num_classes, "float32")


def chance_band(hit: float, n: int, classes: int) -> str:
  """Whether a two-class accuracy on ``n`` videos is within 3 sigma of 50%."""
  if classes != 2:
    return ""
  sigma = math.sqrt(0.25 / n)
  return "yes" if abs(hit - 0.5) <= 3 * sigma else "no"


@stops_when_preempted
def run_table(config: ml_collections.ConfigDict, workdir: str) -> dict[str, Any]:
  workdir = epath.Path(workdir)
  rows = []
  dataset = video_task.load_video_data(config)
  shape = dataset.image_shape
  for name in config.study.models:
    c = model_config(config, name)
    results = check_not_preempted(video_task.run(c, str(workdir / name)), name)
    shape_c = (*shape[:-1], shape[-1] + (2 if name in FLOW_MODELS else 0))
    model = built_model(c, dataset.num_classes)
    timing = analysis.compile_and_step_time(model, shape_c, config.study.timing_batch)
    rows.append({
        "model": name, "clip_hit1": results["test_clip_hit1"], "video_hit1": results["test_video_hit1"],
        "video_hit5": results["test_video_hit5"], "val_video_hit1": results["val_video_hit1"],
        "test_videos": len(dataset.test),
        "chance_3sigma": chance_band(results["test_video_hit1"], len(dataset.test), dataset.num_classes),
        "params": analysis.param_count(model, shape_c), "gmacs": analysis.count_macs(model, shape_c) / 1e9,
        "compile_s": timing["compile_s"], "step_ms": timing["step_s"] * 1e3, "train_wall_s": results["wall_time_s"],
    })
    print(f"{name}: test clip / video Hit@1 {rows[-1]['clip_hit1']:.4f} / {rows[-1]['video_hit1']:.4f}", flush=True)
  table = markdown(rows, config)
  (workdir / "table.md").write_text(table)
  (workdir / "table.json").write_text(json.dumps(rows, indent=2))
  print(table)
  return {"rows": rows}


def markdown(rows, config) -> str:
  head = ("| model | clip Hit@1 | video Hit@1 | video Hit@5 | within 3σ of chance | params | GMACs / clip | compile s | "
          f"step ms (batch {config.study.timing_batch}) |")
  lines = [head, "|---|---:|---:|---:|:---:|---:|---:|---:|---:|"]
  for r in rows:
    lines.append(f"| {r['model']} | {r['clip_hit1']:.4f} | {r['video_hit1']:.4f} | {r['video_hit5']:.4f} | "
                 f"{r['chance_3sigma'] or '-'} | {r['params']:,} | {r['gmacs']:.4f} | {r['compile_s']:.2f} | "
                 f"{r['step_ms']:.1f} |")
  return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------------------------
# E4: two streams, fused; flow against raw pixels with little data.
# ---------------------------------------------------------------------------------------------


def train_and_score(config: ml_collections.ConfigDict, workdir: epath.Path) -> dict[str, Any]:
  """Train through the engine; the best state's mean softmax per video on val and test."""
  task, data, dataset = video_task.build(config)
  scores = {}

  @jax.jit
  def probs(state, videos):
    return jax.nn.softmax(video_task.video_logits(state, videos), -1).mean(axis=1)

  def finish(state, evals, workdir):
    scores["params"] = state.params
    for split in ("val", "test"):
      x = dataset.split(split).images
      b = config.train.eval_batch_size
      scores[split] = np.concatenate([np.asarray(probs(state, x[i:i + b])) for i in range(0, len(x), b)])
    return {}

  import dataclasses

  task = dataclasses.replace(task, finish=finish)
  results = loop.fit(task, data, config, str(workdir))
  return {"results": results, "scores": scores, "labels": {s: dataset.split(s).labels for s in ("val", "test")}}


@stops_when_preempted
def run_two_stream(config: ml_collections.ConfigDict, workdir: str) -> dict[str, Any]:
  from cs231n_jax.video.two_stream import fit_svm_fusion

  workdir = epath.Path(workdir)
  out: dict[str, Any] = {}
  streams = {}
  for name in ("spatial_stream", "temporal_stream"):
    streams[name] = train_and_score(model_config(config, name), workdir / name)
    check_not_preempted(streams[name]["results"], name)
  y_val, y_test = streams["spatial_stream"]["labels"]["val"], streams["spatial_stream"]["labels"]["test"]
  acc = lambda p: float(np.mean(np.argmax(p, -1) == y_test))
  s, t = streams["spatial_stream"]["scores"], streams["temporal_stream"]["scores"]
  out["spatial"] = acc(s["test"])
  out["temporal"] = acc(t["test"])
  out["fusion_average"] = acc((s["test"] + t["test"]) / 2)
  svm = fit_svm_fusion([s["val"], t["val"]], y_val, seed=config.seed)
  out["fusion_svm"] = float(np.mean(svm.predict(np.concatenate([s["test"], t["test"]], 1)) == y_test))
  out["test_videos"] = int(len(y_test))
  small = []
  for n in config.study.train_sizes:
    row = {"num_train": int(n)}
    for name in (config.study.flow_model, config.study.pixel_model):
      if name in streams and int(n) == int(config.data.num_train):  # the same run as above: not trained twice
        row[name] = streams[name]["results"]["test_video_hit1"]
        continue
      c = model_config(config, name)
      c.data.num_train = int(n)
      r = check_not_preempted(video_task.run(c, str(workdir / f"{name}_n{n}")), f"{name}_n{n}")
      row[name] = r["test_video_hit1"]
    small.append(row)
    print(row, flush=True)
  out["small_data"] = small
  lines = ["| stream | test video Hit@1 |", "|---|---:|"]
  for k in ("spatial", "temporal", "fusion_average", "fusion_svm"):
    lines.append(f"| {k} | {out[k]:.4f} |")
  lines += ["", f"| training clips | {config.study.flow_model} (flow) | {config.study.pixel_model} (pixels) |", "|---:|---:|---:|"]
  for r in small:
    lines.append(f"| {r['num_train']} | {r[config.study.flow_model]:.4f} | {r[config.study.pixel_model]:.4f} |")
  table = "\n".join(lines) + "\n"
  (workdir / "table.md").write_text(table)
  (workdir / "table.json").write_text(json.dumps(out, indent=2))
  print(table)
  return out


# ---------------------------------------------------------------------------------------------
# First-layer spatio-temporal filters: frame strips and a direction-selectivity score.
# ---------------------------------------------------------------------------------------------

SHIFTS = (-2, -1, 1, 2)


def shifted(a: np.ndarray, s: int) -> np.ndarray:
  """``a`` (H, W) moved ``s`` columns to the right, zeros coming in."""
  out = np.zeros_like(a)
  if s > 0:
    out[:, s:] = a[:, :-s]
  elif s < 0:
    out[:, :s] = a[:, -s:]
  else:
    out[:] = a
  return out


def direction_selectivity(kernel: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
  """Per filter of a (kt, kh, kw, cin, cout) kernel: the preferred horizontal shift per frame and the
  direction-selectivity index DSI = (R_pref - R_null) / (R_pref + R_null), where R(s) sums over
  consecutive temporal slices the positive part of the correlation between slice t + 1 and slice t
  moved s columns, s in {±1, ±2}, pref = argmax R and null = -pref (0: no direction; 1: one only)."""
  k = np.asarray(kernel, np.float64).sum(axis=3)  # (kt, kh, kw, cout)
  prefs, dsi = [], []
  for f in range(k.shape[-1]):
    w = k[..., f]
    resp = {}
    for s in SHIFTS:
      total = 0.0
      for t in range(w.shape[0] - 1):
        a, b = shifted(w[t], s).ravel(), w[t + 1].ravel()
        denom = np.linalg.norm(a) * np.linalg.norm(b)
        total += max(0.0, float(a @ b / denom)) if denom > 0 else 0.0
      resp[s] = total
    pref = max(SHIFTS, key=lambda s: resp[s])
    r_pref, r_null = resp[pref], resp[-pref]
    prefs.append(pref)
    dsi.append((r_pref - r_null) / (r_pref + r_null) if r_pref + r_null > 0 else 0.0)
  return np.asarray(prefs), np.asarray(dsi)


def filter_strips(kernels: dict[str, np.ndarray], path, count: int = 8) -> None:
  """Each model's first ``count`` filters as rows of frames (one column per temporal slice)."""
  import matplotlib

  matplotlib.use("Agg")
  import matplotlib.pyplot as plt

  from cs231n_jax.plotting import save_figure

  kt = max(k.shape[0] for k in kernels.values())
  fig, axes = plt.subplots(count * len(kernels), kt, figsize=(kt * 0.8, count * len(kernels) * 0.8))
  for m, (name, k) in enumerate(kernels.items()):
    w = k.sum(axis=3)
    _, dsi = direction_selectivity(k)
    for i in range(count):
      row = m * count + i
      lim = np.abs(w[..., i]).max() or 1.0
      for t in range(kt):
        ax = axes[row, t]
        ax.set_xticks([])
        ax.set_yticks([])
        if t < w.shape[0]:
          ax.imshow(w[t, :, :, i], cmap="RdBu_r", vmin=-lim, vmax=lim)
        if t == 0:
          ax.set_ylabel(f"{name}\nDSI {dsi[i]:.2f}", fontsize=6)
  fig.suptitle("first-layer filters, one row per filter, time left to right", fontsize=8)
  save_figure(fig, path)
  plt.close(fig)


@stops_when_preempted
def run_filters(config: ml_collections.ConfigDict, workdir: str) -> dict[str, Any]:
  """Train ``study.filter_model`` on E1 (motion) and on E2 (appearance) through the engine, draw its
  first-layer 3-D filters as frame strips and compare their direction selectivity."""
  workdir = epath.Path(workdir)
  kernels, out = {}, {}
  for kind in ("motion", "appearance"):
    c = model_config(config, config.study.filter_model)
    c.data.kind = kind
    run = train_and_score(c, workdir / kind)
    check_not_preempted(run["results"], kind)
    kernel = np.asarray(run["scores"]["params"]["fusion"]["conv"]["kernel"])
    kernels[f"E1 {kind}" if kind == "motion" else f"E2 {kind}"] = kernel
    _, dsi = direction_selectivity(kernel)
    out[kind] = {"test_video_hit1": run["results"]["test_video_hit1"], "mean_dsi": float(dsi.mean()),
                 "fraction_dsi_over_0.5": float((dsi > 0.5).mean())}
    print(kind, out[kind], flush=True)
  filter_strips(kernels, workdir / "filters.png")
  if config.study.get("figure"):
    filter_strips(kernels, epath.Path(config.study.figure))
  (workdir / "filters.json").write_text(json.dumps(out, indent=2))
  return out


# ---------------------------------------------------------------------------------------------
# I3D: the pretrained ImageNet network inflated, on a "boring" clip.
# ---------------------------------------------------------------------------------------------


def inflated_logits(net, x: np.ndarray, frames: int, time: int, float64: bool = False, shifted: bool = True):
  """``(want, got, got_moving)``: the 2-D network ``net`` (a :class:`cs231n_jax.pretrained.networks.Pretrained`)
  on the normalised images ``x`` (B, H, W, 3), the network inflated to ``time`` frames on clips repeating
  each image ``frames`` times, and on the same clips with the middle frame shifted 8 columns; float64
  NumPy arrays (B, 1000). One compiled program. ``float64``: every variable and the input converted to
  float64 and the program run with 64-bit floats enabled (``jax.enable_x64``), which
  separates the inflation's exactness from float32 rounding (the kernels are inflated, k / time, after
  the conversion). ``shifted=False``: ``(want, got)`` only."""
  import contextlib

  import jax.numpy as jnp

  from cs231n_jax.video import i3d

  with jax.enable_x64(True) if float64 else contextlib.nullcontext():
    dtype = jnp.float64 if float64 else jnp.float32
    inflated = i3d.Inflated(base=net.name, base_kwargs={}, time=time)

    @jax.jit
    def forward(variables, x):
      # the conversion and the inflation inside the one program (eagerly, every leaf's shape compiles its
      # own small program); inflated after the conversion: k / time rounded in the program's precision
      cast = lambda a: a.astype(dtype) if jnp.issubdtype(a.dtype, jnp.floating) else a
      v2d = jax.tree.map(cast, variables)
      v3d = i3d.inflate_variables(v2d, time)
      x = x.astype(dtype)
      clip = jnp.repeat(x[:, None], frames, axis=1)
      out = (net.model.apply(v2d, x, train=False), inflated.apply(v3d, clip, train=False))
      if shifted:
        moving = clip.at[:, frames // 2].set(jnp.roll(x, 8, axis=2))
        out += (inflated.apply(v3d, moving, train=False),)
      return out

    out = forward(net.variables, jnp.asarray(x))
    assert all(a.dtype == dtype for a in out), [a.dtype for a in out]
    return tuple(np.asarray(a, np.float64) for a in out)


def run_inflate_pretrained(config: ml_collections.ConfigDict, workdir: str) -> dict[str, Any]:
  """Inflate a pretrained ImageNet network of :mod:`cs231n_jax.pretrained` (``study.base``, e.g.
  MobileNetV2 with its batch norms and depthwise convolutions) to ``study.time`` frames and run it on
  clips that repeat one photo ``study.frames`` times (``study.photos`` at ``study.size`` pixels): the
  inflated network's logits against the 2-D network's on the photo (max |difference|, and whether the
  top-5 classes agree), then on a clip whose middle frame is shifted (the inflated filters read time).
  In float32 and (``study.float64``) again with every variable in float64: the inflation is exact, so
  the float64 difference is rounding of order 1e-12, and the float32 one is float32 rounding."""
  import jax.numpy as jnp

  from cs231n_jax.pretrained import networks
  from cs231n_jax.video import i3d

  s = config.study
  workdir = epath.Path(workdir)
  workdir.mkdir(parents=True, exist_ok=True)
  net = networks.load(s.base)
  images = np.stack([networks.photo(p, s.size) for p in s.photos])
  x = np.asarray(networks.preprocess(s.base, jnp.asarray(images)))
  want, got, got_moving = inflated_logits(net, x, s.frames, s.time)
  v3d = jax.eval_shape(lambda: i3d.inflate_variables(net.variables, s.time))
  top5 = lambda a: np.argsort(-a, -1)[:, :5]
  out = {"base": s.base, "time": int(s.time), "frames": int(s.frames), "size": int(s.size), "photos": list(s.photos),
         "params_2d": int(sum(np.size(a) for a in jax.tree.leaves(net.variables["params"]))),
         "params_3d": int(sum(np.prod(a.shape) for a in jax.tree.leaves(v3d["params"]))),
         "max_abs_logit": float(np.abs(want).max()),
         "constant_clip_max_abs_diff": float(np.abs(got - want).max()),
         "constant_clip_max_rel_diff": float(np.abs(got - want).max() / np.abs(want).max()),
         "constant_clip_top5_equal": bool(np.array_equal(top5(got), top5(want))),
         "shifted_frame_max_abs_diff": float(np.abs(got_moving - want).max()),
         "top1_2d": [networks.CLASSES[i] for i in want.argmax(-1)]}
  if s.get("float64", False):
    want64, got64, moving64 = inflated_logits(net, x, s.frames, s.time, float64=True)
    out.update({"float64_max_abs_logit": float(np.abs(want64).max()),
                "float64_constant_clip_max_abs_diff": float(np.abs(got64 - want64).max()),
                "float64_shifted_frame_max_abs_diff": float(np.abs(moving64 - want64).max()),
                "float32_vs_float64_2d_max_abs_diff": float(np.abs(want - want64).max())})
  (workdir / "inflate.json").write_text(json.dumps(out, indent=2))
  print(json.dumps(out, indent=2))
  return out
