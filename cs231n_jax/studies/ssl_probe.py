"""The probe table: every self-supervised method x labels per class, against the baselines.

For each seed, every method in ``config.methods`` is pre-trained through the engine (SimCLR, MoCo,
BYOL: :mod:`cs231n_jax.tasks.contrastive`; rotation, jigsaw: :mod:`cs231n_jax.tasks.pretext`),
and its frozen encoder is probed (:mod:`cs231n_jax.ssl.probe`: a linear probe and k-NN with 1, 5,
10 and all labels per class; the labelled subset depends only on the seed, so every method sees
the same one). Baselines under the same protocol: raw pixels, the same encoder at random
initialisation, and the same encoder trained fully supervised on every training label (the
classification task). The table is mean ± sd over the seeds; written as ``probe_table.md`` and
``probe_table.json`` in the workdir, with each method's train-step compile time and examples/s
(:func:`step_cost`, all measured in the one process).
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import json
import time
from typing import Any

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
from etils import epath

from cs231n_jax import optim
from cs231n_jax.data import load_dataset
from cs231n_jax.models.registry import get_model
from cs231n_jax.studies.engine_runs import variant
from cs231n_jax.tasks import classification, contrastive, pretext, ssl_pixels
from cs231n_jax.train import loop
from cs231n_jax.train.steps import build_steps, engine_state, init_key

BASELINES = ("raw_pixels", "random_init", "supervised")
PRETEXT = pretext.METHODS
PIXELS = ("mae", "inpainting")  # ssl_pixels methods that have a probe (colourisation's photos have no labels)
# Held-out numbers of the pixel methods kept in their rows (with the baselines they are compared with).
PIXEL_KEYS = ("masked_patch_mse", "masked_patch_mse_mean_pixel", "hole_mse", "hole_mse_mean_fill")


def base_config() -> ml_collections.ConfigDict:
  c = pretext.base_config()
  c.runner = "cs231n_jax.studies.ssl_probe:run"
  c.method = "simclr"
  c.views.view1 = contrastive.views.DIGITS_PIPELINE
  c.methods = ("simclr", "moco", "byol", "rotation", "jigsaw", "mae", "inpainting")
  c.baselines = BASELINES
  c.seeds = (0, 1, 2)
  px = ssl_pixels.base_config()
  c.mae, c.inpainting = px.mae, px.inpainting
  # A probe_table.json of an earlier run of the same protocol (seeds, split): its rows for the methods and
  # baselines NOT run now are merged into this table ("" = none). Lets a few new rows join a long study.
  c.previous = ""
  c.supervised = ml_collections.ConfigDict({"num_steps": 1000, "batch_size": 128, "learning_rate": 1e-3})
  return c


def method_config(config: ml_collections.ConfigDict, method: str, seed: int) -> ml_collections.ConfigDict:
  c = variant(config, **{"method": method, "seed": seed, "train.progress": False})
  if method in PRETEXT:
    c = variant(c, **{"runner": "cs231n_jax.tasks.pretext:run"})
  elif method in PIXELS:
    # The hidden patches / the hole are the signal: no augmentation (as ssl_pixels' own configs).
    c = variant(c, **{"runner": ssl_pixels.RUNNER, "views.view1": ""})
  else:
    c = variant(c, **{"runner": contrastive.RUNNER})
  return c


def method_module(method: str):
  if method in PRETEXT:
    return pretext
  if method in PIXELS:
    return ssl_pixels
  if method in contrastive.METHODS:
    return contrastive
  raise ValueError(f"methods: {method!r} is not one of {contrastive.METHODS + PRETEXT + PIXELS}")


def previous_rows(path: str, seeds, skip) -> dict[str, list[dict[str, float]]]:
  """The per-seed rows of an earlier run's probe_table.json, except ``skip``; its seeds must be ``seeds``."""
  if not path:
    return {}
  p = epath.Path(path)
  if not p.exists():
    raise ValueError(f"previous: no file {path!r} (expected an earlier run's probe_table.json)")
  data = json.loads(p.read_text())
  rows = {m: r for m, r in data["per_seed"].items() if m not in skip}
  for m, r in rows.items():
    if len(r) != len(seeds):
      raise ValueError(f"previous: {path} has {len(r)} seeds for {m!r}, this study runs {len(seeds)} ({tuple(seeds)})")
  return rows


def encoder(config) -> Any:
  m = config.model
  return get_model(m.encoder, **dict(m.encoder_kwargs))


def supervised_run(config: ml_collections.ConfigDict, seed: int, workdir: epath.Path, dataset) -> dict[str, Any]:
  """The same encoder with a linear head, trained on every training label (classification task)."""
  s = config.supervised
  c = classification.base_config()
  c.seed = seed
  c.data.update({k: config.data[k] for k in ("name", "view", "scale", "subtract_mean")})
  kwargs = dict(config.model.encoder_kwargs)
  c.model = ml_collections.ConfigDict({"name": "ssl_convnet_classifier", **kwargs})
  c.optimizer = optim.default_config("adam", s.learning_rate)
  c.train.update({"batch_size": s.batch_size, "num_steps": s.num_steps, "progress": False, "keep_checkpoints": 1,
                  "eval_every": max(s.num_steps // 5, 1)})
  task, data, _ = classification.build(c)
  enc = encoder(config)

  def finish(state, evals, workdir):
    params = state.params["encoder"]
    fn = jax.jit(lambda x: enc.apply({"params": params}, x))
    return contrastive.probe_results(config, dataset, lambda x: np.asarray(fn(jnp.asarray(x))))

  task = dataclasses.replace(task, finish=finish)
  with contextlib.redirect_stdout(io.StringIO()):
    return loop.fit(task, data, c, str(workdir))


def baseline_rows(config: ml_collections.ConfigDict, seed: int, dataset,
                  names=("raw_pixels", "random_init")) -> dict[str, dict[str, float]]:
  """The probe rows of the baselines that need no training: raw pixels and the random-init encoder
  (``config.baselines`` where the config has it, else ``names``)."""
  rows = {}
  c = variant(config, **{"seed": seed})
  names = config.get("baselines", names)
  if "raw_pixels" in names:
    rows["raw_pixels"] = contrastive.probe_results(c, dataset, lambda x: np.asarray(x).reshape(len(x), -1))
  if "random_init" in names:
    enc = encoder(config)
    params = enc.init(init_key(seed), jnp.zeros((1, *dataset.image_shape)))["params"]
    fn = jax.jit(lambda x: enc.apply({"params": params}, x))
    rows["random_init"] = contrastive.probe_results(c, dataset, lambda x: np.asarray(fn(jnp.asarray(x))))
  return rows


def step_cost(task, data, repeats: int = 20) -> dict[str, float]:
  """Compile time (lower + compile) of a task's jitted train step and its steady-state examples/s
  on the global batch, measured in this process."""
  steps = build_steps(task, "jit", donate=False)
  state = steps.put_state(engine_state(task.init(init_key(0), data.example), 0))
  batch = steps.put_batch(next(data.train))
  t0 = time.perf_counter()
  compiled = steps.train.lower(state, batch).compile()
  compile_s = time.perf_counter() - t0
  state, m = compiled(state, batch)
  jax.block_until_ready(m)
  t0 = time.perf_counter()
  for _ in range(repeats):
    state, m = compiled(state, batch)
  jax.block_until_ready(m)
  return {"compile_s": compile_s, "examples_per_sec": repeats * data.batch_size / (time.perf_counter() - t0)}


def summarize(per_seed: dict[str, list[dict[str, float]]]) -> dict[str, dict[str, tuple[float, float]]]:
  out = {}
  for method, rows in per_seed.items():
    keys = rows[0].keys()
    out[method] = {k: (float(np.mean([r[k] for r in rows])), float(np.std([r[k] for r in rows]))) for k in keys}
  return out


def table(summary: dict[str, dict[str, tuple[float, float]]], columns: list[str]) -> str:
  lines = ["| method | " + " | ".join(columns) + " |", "|---" * (len(columns) + 1) + "|"]
  for method, row in summary.items():
    cells = [f"{row[c][0]:.3f} ± {row[c][1]:.3f}" if c in row else "" for c in columns]
    lines.append(f"| {method} | " + " | ".join(cells) + " |")
  return "\n".join(lines)


NAMES = {"raw_pixels": "raw pixels", "random_init": "random-init encoder", "supervised": "supervised encoder",
         "simclr": "SimCLR", "moco": "MoCo v2", "byol": "BYOL", "rotation": "rotation", "jigsaw": "jigsaw",
         "mae": "MAE (ViT)", "inpainting": "context encoder"}


def plot_table(summary: dict[str, dict[str, tuple[float, float]]], path, probe: str = "linear") -> None:
  """Grouped bars: ``probe`` accuracy (mean ± sd over the seeds) of every row at each labels-per-class."""
  from cs231n_jax.plotting import save_figure, subplots

  labels = [k.split("@")[1] for k in next(iter(summary.values())) if k.startswith(f"{probe}@")]
  rows = list(summary)
  fig, ax = subplots(figsize=(10, 4))
  width = 0.8 / len(rows)
  for i, m in enumerate(rows):
    mean = [summary[m][f"{probe}@{k}"][0] for k in labels]
    sd = [summary[m][f"{probe}@{k}"][1] for k in labels]
    ax.bar(np.arange(len(labels)) + (i - (len(rows) - 1) / 2) * width, mean, width, yerr=sd, capsize=2,
           label=NAMES.get(m, m))
  ax.set_xticks(np.arange(len(labels)), [f"{k} labels / class" for k in labels])
  ax.set_ylim(0.2, 1.12)  # room above the bars for the legend
  ax.set_yticks(np.arange(0.2, 1.01, 0.1))
  ax.set_ylabel(f"{probe} probe accuracy (test digits)")
  ax.legend(ncol=5, fontsize=7, loc="upper left")
  ax.grid(axis="y", alpha=0.3)
  fig.tight_layout()
  save_figure(fig, path)


def run(config: ml_collections.ConfigDict, workdir: str) -> dict[str, Any]:
  """Train every method for every seed, probe, and write the table."""
  workdir = epath.Path(workdir)
  workdir.mkdir(parents=True, exist_ok=True)
  dataset = load_dataset(config.data)
  for method in config.methods:
    method_module(method)
  per_seed: dict[str, list[dict[str, float]]] = {}
  costs = {}
  for seed in config.seeds:
    for name, row in baseline_rows(config, seed, dataset).items():
      per_seed.setdefault(name, []).append(row)
    if "supervised" in config.baselines:
      per_seed.setdefault("supervised", []).append(
          {k: v for k, v in supervised_run(config, seed, workdir / "supervised" / f"seed{seed}", dataset).items()
           if "@" in k})
    for method in config.methods:
      c = method_config(config, method, seed)
      run_dir = workdir / method / f"seed{seed}"
      t0 = time.time()
      task, data, _, _ = method_module(method).build(c)
      with contextlib.redirect_stdout(io.StringIO()):
        results = loop.fit(task, data, c, str(run_dir))
      if "linear@5" not in results and "linear@1" not in results:
        raise RuntimeError(f"{run_dir}: the run ended with status {results.get('status')!r} and no probe results")
      row = {k: v for k, v in results.items() if "@" in k or k.startswith("pretext_") or k in PIXEL_KEYS}
      per_seed.setdefault(method, []).append(row)
      if seed == config.seeds[0]:
        costs[method] = {**step_cost(task, data), "run_wall_s": time.time() - t0}
      print(f"seed {seed} {method}: " + ", ".join(f"{k} {v:.4f}" for k, v in row.items() if k.startswith("linear@")) +
            f" ({time.time() - t0:.0f} s)", flush=True)
      # Partial results after every run (a long study can be read before it ends).
      (workdir / "per_seed.json").write_text(json.dumps({"per_seed": per_seed, "cost": costs}, indent=2))
  ran = set(per_seed)
  prev = previous_rows(config.get("previous", ""), config.seeds, ran)
  per_seed = {**prev, **per_seed}
  summary = summarize(per_seed)
  labels = ["all" if k == 0 else str(k) for k in config.probe.labels_per_class]
  columns = [f"linear@{k}" for k in labels] + [f"knn@{k}" for k in labels]
  text = table(summary, columns)
  if prev:
    text += f"\n\nRows from {config.previous} (not re-run): " + ", ".join(prev)
  z_rows = {m: r for m, r in summary.items() if any(k.startswith("z_") for k in r)}
  text += "\n\nProjection g(h) instead of h:\n\n" + table(
      {m: {k[2:]: v for k, v in r.items() if k.startswith("z_")} for m, r in z_rows.items()}, columns)
  pre = {m: r for m, r in summary.items() if "pretext_accuracy" in r}
  if pre:
    text += "\n\nPretext accuracy on the test split (chance): " + ", ".join(
        f"{m} {r['pretext_accuracy'][0]:.3f} ± {r['pretext_accuracy'][1]:.3f} ({r['pretext_chance'][0]:.3f})"
        for m, r in pre.items())
  px = {m: r for m, r in summary.items() if any(k in r for k in PIXEL_KEYS)}
  if px:
    text += "\n\nPixel pretext tasks, held-out error (baseline): " + ", ".join(
        f"{m} {r[k][0]:.4f} ± {r[k][1]:.4f} ({r[b][0]:.4f})" for m, r in px.items()
        for k, b in (("masked_patch_mse", "masked_patch_mse_mean_pixel"), ("hole_mse", "hole_mse_mean_fill")) if k in r)
  (workdir / "probe_table.md").write_text(text + "\n")
  plot_table(summary, workdir / "probe_table.png")
  (workdir / "probe_table.json").write_text(json.dumps({"summary": summary, "per_seed": per_seed, "cost": costs},
                                                       indent=2))
  text_cost = "\n".join(f"{m}: compile {c['compile_s']:.2f} s, {c['examples_per_sec']:.0f} examples/s" for m, c in costs.items())
  (workdir / "cost.md").write_text(text_cost + "\n")
  print(text)
  print(text_cost)
  return {"summary": summary, "cost": costs}


def run_cost(config: ml_collections.ConfigDict, workdir: str) -> dict[str, Any]:
  """The cost table alone, every method of ``config.methods`` in this ONE process (no training): each
  train step's compile time and steady-state examples/s on the global batch (:func:`step_cost`)."""
  workdir = epath.Path(workdir)
  workdir.mkdir(parents=True, exist_ok=True)
  for method in config.methods:
    method_module(method)
  costs = {}
  for method in config.methods:
    c = method_config(config, method, config.seeds[0])
    task, data, _, _ = method_module(method).build(c)
    costs[method] = step_cost(task, data, config.get("cost_repeats", 20))
    print(f"{method}: compile {costs[method]['compile_s']:.2f} s, {costs[method]['examples_per_sec']:.0f} examples/s",
          flush=True)
  (workdir / "cost.json").write_text(json.dumps({"cost": costs, "batch_size": config.train.batch_size,
                                                 "devices": jax.device_count(), "backend": jax.default_backend()}, indent=2))
  return {"cost": costs}


# ---------------------------------------------------------------------------------------------
# A pretrained ImageNet network as a row of the table (the converted networks of cs231n_jax.pretrained).


def pretrained_config() -> ml_collections.ConfigDict:
  c = base_config()
  c.runner = "cs231n_jax.studies.ssl_probe:run_pretrained"
  c.pretrained = ml_collections.ConfigDict({"name": "efficientnet_lite0", "size": 64, "batch_size": 128})
  return c


def pretrained_features(name: str, images: np.ndarray, size: int, batch_size: int = 128) -> np.ndarray:
  """The pooled penultimate features of a PyPI-shipped ImageNet network (``cs231n_jax.pretrained``) for
  grey images in [0, 1]: copied to RGB, resized (bilinear) to ``size`` x ``size``, the network's own
  normalisation, eval mode."""
  from cs231n_jax.pretrained import networks
  from cs231n_jax.vis.features import penultimate_features

  images = np.asarray(images, np.float32)
  if images.ndim != 4 or images.shape[-1] not in (1, 3):
    raise ValueError(f"pretrained: expected NHWC grey or RGB images, got shape {images.shape}")
  if not isinstance(size, int) or size < 32:
    raise ValueError(f"pretrained.size: expected an integer >= 32, got {size!r}")
  net = networks.load(name)

  @jax.jit
  def fn(x):
    x = jnp.broadcast_to(x, (*x.shape[:3], 3)) if x.shape[-1] == 1 else x
    x = jax.image.resize(jnp.clip(x, 0.0, 1.0), (x.shape[0], size, size, 3), "linear")
    return penultimate_features(net.model, net.variables, networks.preprocess(name, x))

  return np.concatenate([np.asarray(fn(images[i:i + batch_size])) for i in range(0, len(images), batch_size)])


def run_pretrained(config: ml_collections.ConfigDict, workdir: str) -> dict[str, Any]:
  """The probe row of a frozen pretrained ImageNet network on the same split and labelled subsets."""
  workdir = epath.Path(workdir)
  workdir.mkdir(parents=True, exist_ok=True)
  dataset = load_dataset(config.data)
  p = config.pretrained
  t0 = time.time()
  train = pretrained_features(p.name, dataset.train.images, p.size, p.batch_size)
  test = pretrained_features(p.name, dataset.test.images, p.size, p.batch_size)
  cache = {id(dataset.train.images): train, id(dataset.test.images): test}
  per_seed = {}
  for seed in config.seeds:
    c = variant(config, **{"seed": seed})
    per_seed[seed] = contrastive.probe_results(c, dataset, lambda x: cache[id(x)])
  summary = summarize({p.name: list(per_seed.values())})
  labels = ["all" if k == 0 else str(k) for k in config.probe.labels_per_class]
  text = table(summary, [f"linear@{k}" for k in labels] + [f"knn@{k}" for k in labels])
  (workdir / "pretrained_row.md").write_text(text + "\n")
  (workdir / "pretrained_row.json").write_text(json.dumps({"summary": summary, "per_seed": per_seed,
                                                           "features_s": time.time() - t0}, indent=2))
  print(text)
  return {"summary": summary}
