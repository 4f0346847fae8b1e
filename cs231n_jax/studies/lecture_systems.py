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
