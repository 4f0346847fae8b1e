"""Runners for the lectures' whole-run experiments (lectures 2-4, 6, notes ch. 11): each
``run(config, workdir) -> dict`` is named by a config in ``experiments/configs/lectures/``; the CLI
writes the dict to ``workdir/results.json``.

These are the experiments whose object of study is the procedure itself, so they are whole-run
vectorised programs rather than engine runs (stated in each module's docstring): random search over
W (:mod:`cs231n_jax.classifiers.random_search`) against the course's minibatch SGD, the perceptron
rule (:mod:`cs231n_jax.classifiers.perceptron`), the bag of visual words
(:mod:`cs231n_jax.classifiers.bag_of_words`; its linear classifier is the course's SGD loop), the
6-layer initialisation study (:mod:`cs231n_jax.techniques.init_readings`) and the attention memory
measurement (:mod:`cs231n_jax.nn.attention_memory`). Networks (LeNet-5, highway nets, mixup) train
through the engine with the classification runner instead.
"""

from __future__ import annotations

import time
from typing import Any

import jax
import ml_collections
import numpy as np
from etils import epath

from cs231n_jax.classifiers import bag_of_words as bow
from cs231n_jax.classifiers import perceptron, random_search
from cs231n_jax.classifiers.linear_classifier import LinearSVM, Softmax
from cs231n_jax.data import load_dataset
from cs231n_jax.errors import ConfigError

LINEAR = {"svm": LinearSVM, "softmax": Softmax}


def _flat_bias(images) -> np.ndarray:
  rows = np.reshape(images, (images.shape[0], -1)).astype(np.float32)
  return np.hstack([rows, np.ones((rows.shape[0], 1), np.float32)])


def _accuracy(pred, y) -> float:
  return float(np.mean(np.asarray(pred) == np.asarray(y)))


def _sgd(kind: str, x, y, cfg, seed: int):
  if kind not in LINEAR:
    raise ConfigError(f"sgd.loss: expected one of {tuple(LINEAR)}, got {kind!r}")
  clf = LINEAR[kind](seed=seed)
  history = clf.train(x, y, learning_rate=cfg.learning_rate, reg=cfg.reg, num_iters=cfg.num_iters, batch_size=cfg.batch_size)
  return clf, history


def run_random_search(config: ml_collections.ConfigDict, workdir: str) -> dict[str, Any]:
  """Strategy #1 (1,000 random W, keep the lowest full-training-set loss) against strategy #3
  (minibatch SGD on the same loss): test accuracies and losses."""
  epath.Path(workdir).mkdir(parents=True, exist_ok=True)
  t0 = time.time()
  data = load_dataset(config.data)
  x = {s: _flat_bias(data.split(s).images) for s in ("train", "test")}
  y = {s: np.asarray(data.split(s).labels) for s in ("train", "test")}
  num_classes = int(y["train"].max()) + 1
  rs = config.random_search
  W, losses, _ = random_search.random_search(jax.random.key(config.seed), x["train"], y["train"], num_classes,
                                             num_tries=rs.num_tries, scale=rs.scale, kind=rs.loss, chunk=rs.chunk)
  clf, history = _sgd(rs.loss, x["train"], y["train"], config.sgd, config.seed)
  sgd_loss = float(random_search.data_loss(rs.loss, clf.W, x["train"], y["train"]))
  return {
      "loss": rs.loss, "num_tries": rs.num_tries, "random_search_best_train_loss": float(losses.min()),
      "random_search_median_train_loss": float(np.median(losses)),
      "random_search_test_accuracy": random_search.accuracy(W, x["test"], y["test"]),
      "sgd_train_loss": sgd_loss, "sgd_test_accuracy": _accuracy(clf.predict(x["test"]), y["test"]),
      "sgd_final_minibatch_loss": float(history[-1]), "chance": 1.0 / num_classes, "wall_time_s": time.time() - t0,
  }


def run_perceptron(config: ml_collections.ConfigDict, workdir: str) -> dict[str, Any]:
  """The perceptron rule on one pair of digit classes (``perceptron.classes``: the first is 0, the
  second 1): mistakes per epoch, train and test accuracy."""
  epath.Path(workdir).mkdir(parents=True, exist_ok=True)
  t0 = time.time()
  cfg = config.perceptron
  if len(cfg.classes) != 2:
    raise ConfigError(f"perceptron.classes: expected two labels, got {tuple(cfg.classes)}")
  data = load_dataset({**config.data.to_dict(), "classes": tuple(cfg.classes)})
  x = {s: np.reshape(data.split(s).images, (len(data.split(s)), -1)).astype(np.float32) for s in ("train", "test")}
  d = {s: np.asarray(data.split(s).labels) for s in ("train", "test")}
  w, b, per_epoch = perceptron.train(x["train"], d["train"], alpha=cfg.alpha, num_epochs=cfg.num_epochs,
                                     key=jax.random.key(config.seed), shuffle=cfg.shuffle)
  clean = np.flatnonzero(per_epoch == 0)
  return {
      "classes": list(cfg.classes), "mistakes_per_epoch": per_epoch.tolist(),
      "first_epoch_without_mistakes": int(clean[0]) + 1 if clean.size else None,
      "train_accuracy": _accuracy(perceptron.predict(w, b, x["train"]), d["train"]),
      "test_accuracy": _accuracy(perceptron.predict(w, b, x["test"]), d["test"]), "wall_time_s": time.time() - t0,
  }


def run_bag_of_words(config: ml_collections.ConfigDict, workdir: str) -> dict[str, Any]:
  """Random patches -> k-means codebook -> word histograms -> a linear classifier, against the same
  classifier on raw pixels."""
  epath.Path(workdir).mkdir(parents=True, exist_ok=True)
  t0 = time.time()
  data = load_dataset(config.data)
  cfg = config.bag_of_words
  key_patches, key_kmeans = jax.random.split(jax.random.key(config.seed))
  images = {s: np.asarray(data.split(s).images) for s in ("train", "val", "test")}
  y = {s: np.asarray(data.split(s).labels) for s in ("train", "val", "test")}
  patches = bow.normalise(bow.random_patches(key_patches, images["train"], cfg.patch_size, cfg.num_patches))
  centres, inertia = bow.kmeans(key_kmeans, patches, cfg.num_words, cfg.kmeans_iters)
  feats = {s: np.asarray(bow.histograms(images[s], centres, cfg.patch_size, cfg.stride)) for s in images}
  mu, sd = feats["train"].mean(0), feats["train"].std(0) + 1e-6
  hist = {s: np.hstack([(f - mu) / sd, np.ones((len(f), 1))]).astype(np.float32) for s, f in feats.items()}
  raw = {s: _flat_bias(images[s]) for s in images}
  out = {"num_words": cfg.num_words, "patch_size": cfg.patch_size, "kmeans_inertia_first_last": [float(inertia[0]), float(inertia[-1])]}
  for name, x in (("bag_of_words", hist), ("raw_pixels", raw)):
    clf, _ = _sgd("softmax", x["train"], y["train"], config.sgd, config.seed)
    out[f"{name}_val_accuracy"] = _accuracy(clf.predict(x["val"]), y["val"])
    out[f"{name}_test_accuracy"] = _accuracy(clf.predict(x["test"]), y["test"])
  out["wall_time_s"] = time.time() - t0
  return out


def run_init_study(config: ml_collections.ConfigDict, workdir: str) -> dict[str, Any]:
  """The notes' 6-layer study at ``init.width`` under both readings of k; a figure of the per-layer stds."""
  from cs231n_jax.plotting import save_figure
  from cs231n_jax.techniques import init_readings

  path = epath.Path(workdir)
  path.mkdir(parents=True, exist_ok=True)
  t0 = time.time()
  cfg = config.init
  table = init_readings.study(jax.random.key(config.seed), width=cfg.width, batch=cfg.batch, depth=cfg.depth)
  import matplotlib.pyplot as plt

  fig, axes = plt.subplots(1, 2, figsize=(10, 4), sharey=True)
  for ax, reading in zip(axes, init_readings.READINGS):
    for name, row in table.items():
      if name.endswith(reading):
        ax.semilogy(range(1, cfg.depth + 1), row["std"], marker="o", label=name.split("/")[0])
    ax.set(title=f"k read as {'a std' if reading == 'gaussian' else 'a uniform bound'}", xlabel="layer", ylabel="std of X_i")
  axes[0].legend(fontsize=8)
  save_figure(fig, path / "init_study.png", dpi=100, bbox_inches="tight")
  plt.close(fig)
  return {"width": cfg.width, "batch": cfg.batch, "table": table, "wall_time_s": time.time() - t0}


def run_attention_memory(config: ml_collections.ConfigDict, workdir: str) -> dict[str, Any]:
  """Compiled temporary bytes of one attention call as N = M doubles (no execution)."""
  from cs231n_jax.nn.attention import attention_memory_bytes
  from cs231n_jax.nn.attention_memory import memory_scaling

  epath.Path(workdir).mkdir(parents=True, exist_ok=True)
  cfg = config.attention
  measured = memory_scaling(tuple(cfg.sizes), cfg.dim, cfg.num_heads)
  sizes = sorted(measured)
  return {
      "temp_bytes": {str(n): measured[n] for n in sizes},
      "formula_bytes": {str(n): attention_memory_bytes(n, n, cfg.num_heads) for n in sizes},
      "ratio_per_doubling": [measured[b] / measured[a] for a, b in zip(sizes, sizes[1:])],
      "platform": jax.default_backend(),
  }


def _train_losses(workdir: epath.Path) -> tuple[list[int], list[float]]:
  from cs231n_jax.train.metrics import JSONL_NAME, read_jsonl

  rows = [r for r in read_jsonl(workdir / JSONL_NAME) if r.get("split") == "train" and "loss" in r]
  return [int(r["step"]) for r in rows], [float(r["loss"]) for r in rows]


def run_degradation(config: ml_collections.ConfigDict, workdir: str) -> dict[str, Any]:
  """Lecture 9's degradation experiment: plain nets of ``degradation.depths`` layers against their
  residual twins (:class:`cs231n_jax.models.plain_twin.CifarTwin`, the same parameters and
  initialisation, without / with the identity shortcuts), each trained by the engine
  (classification runner) on the same budget for every seed of ``degradation.seeds``.

  Per run: the logged training-loss curve (minibatch loss averaged over ``train.log_every`` steps),
  the training loss and accuracy on the whole training split and the test error of the state the
  engine keeps (the best validation accuracy).
  A run whose ``results.json`` exists is read, not trained again (the study can be resumed).
  A figure of the training-loss curves (mean over seeds, the seeds' range shaded).

  ``model.zero_init_residual`` (Goyal et al. 2017: each residual block's last batch-norm scale starts
  at 0) applies to the residual nets only; the plain twins have no residual branch it could apply to
  (it would zero their every block), so they are trained with it off and otherwise the same protocol."""
  import json

  import matplotlib.pyplot as plt

  from cs231n_jax.models import plain_twin  # noqa: F401  (registers "cifar_twin")
  from cs231n_jax.plotting import save_figure
  from cs231n_jax.studies.engine_runs import fit_quietly, variant

  path = epath.Path(workdir)
  path.mkdir(parents=True, exist_ok=True)
  t0 = time.time()
  cfg = config.degradation
  for d in cfg.depths:
    if isinstance(d, bool) or not isinstance(d, int) or d < 8 or (d - 2) % 6:
      raise ConfigError(f"degradation.depths: expected depths 6n + 2 (8, 14, 20, ..., 56), got {tuple(cfg.depths)}")
  if not cfg.seeds:
    raise ConfigError("degradation.seeds: expected at least one seed")
  base = ml_collections.ConfigDict(config.to_dict())
  del base["degradation"]
  base.runner = "cs231n_jax.tasks.classification:run"
  zero_init = bool(base.model.get("zero_init_residual", False))
  runs: dict[str, dict[str, Any]] = {}
  for depth in cfg.depths:
    for residual in (False, True):
      name = f"{'resnet' if residual else 'plain'}{depth}"
      per_seed = []
      for seed in cfg.seeds:
        sub = path / f"{name}_seed{seed}"
        done = sub / "results.json"  # written by the engine at the end of a run
        if done.exists():
          r = json.loads(done.read_text())
        else:
          overrides = {"seed": int(seed), "model.depth": int(depth), "model.residual": residual}
          if zero_init:
            overrides["model.zero_init_residual"] = residual
          r = fit_quietly(variant(base, **overrides), sub)
          if r["status"] == "preempted":
            return {"status": "preempted", "finished": sorted(runs)}
        steps, losses = _train_losses(sub)
        per_seed.append({"seed": int(seed), "steps": steps, "train_loss_curve": losses, "final_logged_train_loss": losses[-1],
                         "train_loss": r.get("train_loss"), "train_accuracy": r.get("train_accuracy"),
                         "test_error": 1.0 - r["test_accuracy"]})
      runs[name] = {
          "depth": depth, "residual": residual, "per_seed": per_seed,
          "zero_init_residual": zero_init and residual,
          "mean_final_logged_train_loss": float(np.mean([s["final_logged_train_loss"] for s in per_seed])),
          "std_final_logged_train_loss": float(np.std([s["final_logged_train_loss"] for s in per_seed])),
          "mean_train_loss": float(np.mean([s["train_loss"] for s in per_seed])),
          "mean_test_error": float(np.mean([s["test_error"] for s in per_seed])),
          "std_test_error": float(np.std([s["test_error"] for s in per_seed])),
      }
  shallow, deep = min(cfg.depths), max(cfg.depths)
  fig, axes = plt.subplots(1, 2, figsize=(10, 4), sharey=True)
  for ax, kind in zip(axes, ("plain", "resnet")):
    for depth, colour in zip(cfg.depths, ("tab:blue", "tab:red", "tab:green", "tab:purple")):
      curves = runs[f"{kind}{depth}"]["per_seed"]
      n = min(len(s["steps"]) for s in curves)
      ys = np.array([s["train_loss_curve"][:n] for s in curves])
      ax.plot(curves[0]["steps"][:n], ys.mean(0), color=colour, label=f"{kind}-{depth}")
      ax.fill_between(curves[0]["steps"][:n], ys.min(0), ys.max(0), color=colour, alpha=0.2)
    ax.set(title=f"{'plain' if kind == 'plain' else 'residual'} nets", xlabel="step", ylabel="training loss", yscale="log")
    ax.legend()
  save_figure(fig, path / "degradation.png", dpi=100, bbox_inches="tight")
  plt.close(fig)
  return {
      "runs": runs, "seeds": list(cfg.seeds),
      "plain_deeper_has_higher_train_loss": runs[f"plain{deep}"]["mean_final_logged_train_loss"]
      > runs[f"plain{shallow}"]["mean_final_logged_train_loss"],
      "resnet_deeper_has_higher_train_loss": runs[f"resnet{deep}"]["mean_final_logged_train_loss"]
      > runs[f"resnet{shallow}"]["mean_final_logged_train_loss"],
      "wall_time_s": time.time() - t0,
  }


def _seq2seq_grid(config: ml_collections.ConfigDict, workdir: str, runs: dict[str, dict[str, Any]]) -> dict[str, Any]:
  """Train one seq2seq run (:mod:`cs231n_jax.tasks.seq2seq`) per ``{name: dotted overrides}`` in
  its own sub-directory; a run whose ``results.json`` exists is read, not trained again."""
  import contextlib
  import io
  import json

  from cs231n_jax.studies.engine_runs import variant
  from cs231n_jax.tasks import seq2seq

  path = epath.Path(workdir)
  path.mkdir(parents=True, exist_ok=True)
  base = ml_collections.ConfigDict(config.to_dict())
  del base["study"]
  base.runner = seq2seq.RUNNER
  out = {}
  for name, overrides in runs.items():
    done = path / name / "results.json"
    if done.exists():
      r = json.loads(done.read_text())
    else:
      cfg = variant(base, **{"train.progress": False, **overrides})
      with contextlib.redirect_stdout(io.StringIO()):
        r = seq2seq.run(cfg, str(path / name))
      if r["status"] == "preempted":
        return {"status": "preempted", "finished": sorted(out)}
    out[name] = {"test_token_accuracy": r["test_token_accuracy"], "test_sequence_accuracy": r["test_sequence_accuracy"],
                 "test_loss": r["test_loss"]}
  return out


def run_seq2seq_lengths(config: ml_collections.ConfigDict, workdir: str) -> dict[str, Any]:
  """The fixed context vector against additive attention at every length of ``study.lengths``, the
  same model size and budget: greedy test token / sequence accuracy; a figure against length."""
  import matplotlib.pyplot as plt

  from cs231n_jax.plotting import save_figure

  t0 = time.time()
  lengths = tuple(config.study.lengths)
  runs = {f"{'attention' if att else 'fixed'}_len{n}": {"task.length": int(n), "model.attention": att}
          for n in lengths for att in (False, True)}
  table = _seq2seq_grid(config, workdir, runs)
  if table.get("status") == "preempted":
    return table
  fig, ax = plt.subplots(figsize=(5.5, 4))
  for kind, colour in (("fixed", "tab:red"), ("attention", "tab:blue")):
    for metric, style in (("test_token_accuracy", "-o"), ("test_sequence_accuracy", "--s")):
      ax.plot(lengths, [table[f"{kind}_len{n}"][metric] for n in lengths], style, color=colour,
              label=f"{kind}: {metric.split('_')[1]} accuracy")
  ax.set(xlabel="sequence length", ylabel="test accuracy (greedy)", ylim=(0, 1.02), title=f"{config.task.kind}: fixed context vs attention")
  ax.legend(fontsize=8)
  save_figure(fig, epath.Path(workdir) / "seq2seq_lengths.png", dpi=100, bbox_inches="tight")
  plt.close(fig)
  return {"lengths": list(lengths), "runs": table, "wall_time_s": time.time() - t0}


def run_seq2seq_feeds(config: ml_collections.ConfigDict, workdir: str) -> dict[str, Any]:
  """The notes' decoder variants on one task: ``recurrence`` (hidden = output forwarding, output =
  output-to-hidden) x ``train_feed`` (target = teacher forcing, output = the notes' o^{t-1} as written)."""
  t0 = time.time()
  runs = {f"{rec}_recurrence_{feed}_feed": {"model.recurrence": rec, "model.train_feed": feed}
          for rec in ("hidden", "output") for feed in ("target", "output")}
  table = _seq2seq_grid(config, workdir, runs)
  if table.get("status") == "preempted":
    return table
  return {"runs": table, "wall_time_s": time.time() - t0}
