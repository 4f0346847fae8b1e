"""Runners for the lecture 2-5 experiments: ``run(config, workdir) -> dict`` of final results.

Each config in ``experiments/configs/course/`` names one of these as ``config.runner``; the CLI
(``cs231n-jax train --config ... --workdir ...``) calls it and writes the dict to
``workdir/results.json``. Plots go to ``workdir`` too.

* ``run_knn``: k (and the distance) chosen by k-fold cross-validation on the training set, then
  one evaluation on the test set (lecture 2's "Idea #4", assignment 1's knn notebook).
* ``run_linear``: a linear SVM or softmax classifier on raw pixels with the bias trick, learning
  rate and regularisation strength picked on the validation set (svm / softmax notebooks).
* ``run_solver``: a course-contract network (``TwoLayerNet``, ``FullyConnectedNet``,
  ``ThreeLayerConvNet``) trained by the ``Solver``, with an optional grid search whose best
  validation model is evaluated once on the test set.
* ``run_features``: HOG + hue-histogram features vs raw pixels, each with a linear classifier and
  a two-layer network (the features notebook).

The data block is the project's (``cs231n_jax.data.load_dataset``): ``digits`` by default,
``--config.data.name=cifar10 --config.data.dir=D`` for CIFAR-10.
"""

from __future__ import annotations

import itertools
import time
from typing import Any

import ml_collections
import numpy as np
from etils import epath

from cs231n_jax.classifiers.cnn import ThreeLayerConvNet
from cs231n_jax.classifiers.fc_net import FullyConnectedNet, TwoLayerNet
from cs231n_jax.classifiers.features import color_histogram_hsv, extract_features, hog_feature
from cs231n_jax.classifiers.k_nearest_neighbor import KNearestNeighbor, cross_validate, summarize_cross_validation
from cs231n_jax.classifiers.linear_classifier import LinearSVM, Softmax
from cs231n_jax.data import load_dataset
from cs231n_jax.errors import ConfigError
from cs231n_jax.plotting import save_figure

MODELS = {"TwoLayerNet": TwoLayerNet, "FullyConnectedNet": FullyConnectedNet, "ThreeLayerConvNet": ThreeLayerConvNet}
LINEAR = {"svm": LinearSVM, "softmax": Softmax}
# Keys of config.solver that are not Solver arguments: they go into optim_config.
OPTIM_KEYS = ("learning_rate", "momentum", "decay_rate", "beta1", "beta2", "epsilon")
# Resolution of the PNGs written to the workdir: small files, legible 8x8 templates.
PLOT_DPI = 100


def _workdir(workdir: str) -> epath.Path:
  path = epath.Path(workdir)
  path.mkdir(parents=True, exist_ok=True)
  return path


def _flat(images: np.ndarray) -> np.ndarray:
  """(N, H, W, C) -> (N, H*W*C) rows in HWC order (the course's reshape of CIFAR for a1)."""
  return np.reshape(images, (images.shape[0], -1))


def _with_bias(rows: np.ndarray) -> np.ndarray:
  """The bias trick: a column of ones, so that W's last row acts as the bias."""
  return np.hstack([rows, np.ones((rows.shape[0], 1), rows.dtype)])


def _subset(n: int, limit: int | None) -> slice:
  return slice(None) if limit is None else slice(0, min(n, int(limit)))


def _accuracy(pred, y) -> float:
  return float(np.mean(np.asarray(pred) == np.asarray(y)))


def _savefig(fig, path: epath.PathLike) -> str:
  save_figure(fig, path, dpi=PLOT_DPI, bbox_inches="tight")
  import matplotlib.pyplot as plt

  plt.close(fig)
  return str(path)


# ---------------------------------------------------------------------------------------------
# kNN
# ---------------------------------------------------------------------------------------------


def run_knn(config: ml_collections.ConfigDict, workdir: str) -> dict[str, Any]:
  """k-fold cross-validation of (k, metric) on the training set, then the test set once."""
  out = _workdir(workdir)
  t0 = time.time()
  data = load_dataset(config.data)
  knn = config.knn
  x_train = _flat(data.train.images)[_subset(len(data.train), knn.num_train)]
  y_train = data.train.labels[_subset(len(data.train), knn.num_train)]
  x_test = _flat(data.test.images)[_subset(len(data.test), knn.num_test)]
  y_test = data.test.labels[_subset(len(data.test), knn.num_test)]
  k_choices = [int(k) for k in knn.k_choices if int(k) <= len(y_train) * (knn.num_folds - 1) // knn.num_folds]
  if not k_choices:
    raise ConfigError(f"knn.k_choices: no k fits {len(y_train)} training examples in {knn.num_folds} folds")

  cv, summary = {}, {}
  best = None
  for metric in knn.metrics:
    cv[metric] = cross_validate(x_train, y_train, k_choices, num_folds=knn.num_folds, metric=metric)
    best_k, stats = summarize_cross_validation(cv[metric])
    summary[metric] = {str(k): {"mean": m, "std": s} for k, (m, s) in stats.items()}
    if best is None or stats[best_k][0] > best[2]:
      best = (metric, best_k, stats[best_k][0])
  metric, best_k, cv_mean = best

  classifier = KNearestNeighbor(metric)
  classifier.train(x_train, y_train)
  test_accuracy = _accuracy(classifier.predict(x_test, k=best_k), y_test)
  # Lecture 2, Idea #1 is BAD: k = 1 is always perfect on its own training data.
  train_accuracy_k1 = _accuracy(classifier.predict(x_train, k=1), y_train)

  from cs231n_jax.studies.classifier_figures import plot_cross_validation

  plot = _savefig(plot_cross_validation(cv[metric], title=f"{knn.num_folds}-fold CV, {metric}"), out / "knn_cross_validation.png")
  return {
      "best_k": best_k, "best_metric": metric, "cv_mean_accuracy": cv_mean, "test_accuracy": test_accuracy,
      "train_accuracy_k1": train_accuracy_k1, "num_train": len(y_train), "num_test": len(y_test),
      "cross_validation": summary, "plot": plot, "wall_time_s": time.time() - t0,
  }


# ---------------------------------------------------------------------------------------------
# Linear classifiers
# ---------------------------------------------------------------------------------------------


def _linear_search(kind: str, x_train, y_train, x_val, y_val, cfg, seed: int):
  """Grid over (learning rate, regularisation strength); returns (best classifier, table, best)."""
  if kind not in LINEAR:
    raise ConfigError(f"linear.loss: expected one of {tuple(LINEAR)}, got {kind!r}")
  table, best = {}, None
  for i, (lr, reg) in enumerate(itertools.product(cfg.learning_rates, cfg.regularization_strengths)):
    classifier = LINEAR[kind](regularization=cfg.regularization, seed=seed + i)
    classifier.train(x_train, y_train, learning_rate=lr, reg=reg, num_iters=cfg.num_iters, batch_size=cfg.batch_size)
    train_acc = _accuracy(classifier.predict(x_train), y_train)
    val_acc = _accuracy(classifier.predict(x_val), y_val)
    table[f"lr={lr:g} reg={reg:g}"] = {"train_accuracy": train_acc, "val_accuracy": val_acc}
    if best is None or val_acc > best[0]:
      best = (val_acc, lr, reg, classifier)
  return best, table


def run_linear(config: ml_collections.ConfigDict, workdir: str) -> dict[str, Any]:
  """A linear SVM or softmax classifier on raw pixels (bias trick), tuned on the validation set."""
  out = _workdir(workdir)
  t0 = time.time()
  data = load_dataset(config.data)
  x = {s: _with_bias(_flat(data.split(s).images)) for s in ("train", "val", "test")}
  y = {s: data.split(s).labels for s in ("train", "val", "test")}
  (val_acc, lr, reg, classifier), table = _linear_search(
      config.linear.loss, x["train"], y["train"], x["val"], y["val"], config.linear, config.seed
  )
  test_acc = _accuracy(classifier.predict(x["test"]), y["test"])

  from cs231n_jax.studies.classifier_figures import plot_weight_templates

  W = np.asarray(classifier.W)[:-1]  # drop the bias row
  plot = _savefig(plot_weight_templates(W, data.image_shape, data.class_names), out / "weight_templates.png")
  return {
      "loss": config.linear.loss, "best_learning_rate": lr, "best_reg": reg, "val_accuracy": val_acc,
      "test_accuracy": test_acc, "grid": table, "plot": plot, "wall_time_s": time.time() - t0,
  }


# ---------------------------------------------------------------------------------------------
# Networks with the Solver
# ---------------------------------------------------------------------------------------------


def _model_kwargs(model_cfg: ml_collections.ConfigDict, image_shape_nchw: tuple[int, ...]) -> dict[str, Any]:
  kwargs = {k: v for k, v in model_cfg.items() if k != "name"}
  if "hidden_dims" in kwargs:
    kwargs["hidden_dims"] = list(kwargs["hidden_dims"])
  if model_cfg.name == "ThreeLayerConvNet":
    kwargs["input_dim"] = image_shape_nchw
  else:
    kwargs["input_dim"] = int(np.prod(image_shape_nchw))
  if kwargs.get("normalization") in ("", "none"):
    kwargs["normalization"] = None
  return kwargs


def _train_one(model_cfg, solver_cfg, data_dict, image_shape_nchw, seed: int):
  from cs231n_jax.solver import Solver

  if model_cfg.name not in MODELS:
    raise ConfigError(f"model.name: expected one of {tuple(MODELS)}, got {model_cfg.name!r}")
  model = MODELS[model_cfg.name](**_model_kwargs(model_cfg, image_shape_nchw), seed=seed)
  solver_kwargs = {k: v for k, v in solver_cfg.items() if k not in OPTIM_KEYS}
  optim_config = {k: solver_cfg[k] for k in OPTIM_KEYS if k in solver_cfg}
  solver = Solver(model, data_dict, optim_config=optim_config, seed=seed, **solver_kwargs)
  solver.train()
  return model, solver


def _search_points(config) -> list[dict[str, Any]]:
  """Every combination of the values in ``config.search`` (keys of config.model or config.solver)."""
  search = config.get("search") or {}
  keys = list(search.keys())
  for key in keys:
    if key not in config.model and key not in config.solver:
      raise ConfigError(f"search.{key}: not a field of config.model or config.solver")
  return [dict(zip(keys, values)) for values in itertools.product(*[search[k] for k in keys])] or [{}]


def run_solver(config: ml_collections.ConfigDict, workdir: str) -> dict[str, Any]:
  """Train a course-contract network with the Solver; the best validation model is tested once."""
  out = _workdir(workdir)
  t0 = time.time()
  data = load_dataset(config.data)
  course = data.course_dict()
  data_dict = {k: course[k] for k in ("X_train", "y_train", "X_val", "y_val")}
  image_shape = tuple(course["X_train"].shape[1:])
  trials, best = [], None
  for i, point in enumerate(_search_points(config)):
    model_cfg, solver_cfg = config.model.copy_and_resolve_references(), config.solver.copy_and_resolve_references()
    for key, value in point.items():
      (model_cfg if key in model_cfg else solver_cfg)[key] = value
    model, solver = _train_one(model_cfg, solver_cfg, data_dict, image_shape, config.seed + i)
    trials.append({**{k: (list(v) if isinstance(v, tuple) else v) for k, v in point.items()},
                   "val_accuracy": solver.best_val_acc, "final_train_accuracy": solver.train_acc_history[-1]})
    if best is None or solver.best_val_acc > best[0]:
      best = (solver.best_val_acc, point, model, solver)
  val_acc, point, model, solver = best
  test_acc = _accuracy(np.argmax(model.loss(course["X_test"]), axis=1), course["y_test"])

  from cs231n_jax.studies.classifier_figures import plot_training_curves

  plot = _savefig(plot_training_curves(solver), out / "training_curves.png")
  return {
      "model": config.model.name, "best": {k: (list(v) if isinstance(v, tuple) else v) for k, v in point.items()},
      "val_accuracy": val_acc, "test_accuracy": test_acc, "trials": trials, "epochs": solver.epoch,
      "final_loss": solver.loss_history[-1] if solver.loss_history else None, "plot": plot,
      "wall_time_s": time.time() - t0,
  }


# ---------------------------------------------------------------------------------------------
# Image features
# ---------------------------------------------------------------------------------------------


def _normalise_features(train, others):
  """The features notebook's preprocessing: subtract the training mean, divide by its std."""
  mean = train.mean(axis=0, keepdims=True)
  std = train.std(axis=0, keepdims=True)
  std = np.where(std > 0, std, 1.0)  # constant features (hue of grey images) stay finite
  return (train - mean) / std, [(o - mean) / std for o in others]


def run_features(config: ml_collections.ConfigDict, workdir: str) -> dict[str, Any]:
  """Linear classifier and two-layer net on HOG + hue features vs on raw pixels."""
  _workdir(workdir)
  t0 = time.time()
  raw_config = config.data.copy_and_resolve_references()
  raw_config.subtract_mean = False  # features are computed on the images themselves
  data = load_dataset(raw_config)
  images = {s: data.split(s).images for s in ("train", "val", "test")}
  y = {s: data.split(s).labels for s in ("train", "val", "test")}
  f = config.features
  fns = [lambda im: hog_feature(im, pixels_per_cell=f.hog_cell, orientations=f.hog_orientations)]
  if images["train"].shape[-1] == 3:
    fns.append(lambda im: color_histogram_hsv(im, nbin=f.hue_bins, xmin=0.0, xmax=f.pixel_max))
  feats = {s: extract_features(images[s], fns) for s in images}
  feats["train"], (feats["val"], feats["test"]) = _normalise_features(feats["train"], [feats["val"], feats["test"]])
  mean_image = images["train"].mean(axis=0)
  pixels = {s: _flat(images[s] - mean_image) for s in images}

  results: dict[str, Any] = {"feature_dim": int(feats["train"].shape[1]), "pixel_dim": int(pixels["train"].shape[1])}
  for name, x in (("features", feats), ("pixels", pixels)):
    xb = {s: _with_bias(x[s]) for s in x}
    lin = config.linear_features if name == "features" else config.linear_pixels
    (val_acc, lr, reg, classifier), _ = _linear_search(lin.loss, xb["train"], y["train"], xb["val"], y["val"], lin, config.seed)
    results[f"linear_{name}"] = {"val_accuracy": val_acc, "test_accuracy": _accuracy(classifier.predict(xb["test"]), y["test"]),
                                 "learning_rate": lr, "reg": reg}
    net_cfg = config.net_features if name == "features" else config.net_pixels
    data_dict = {"X_train": x["train"], "y_train": y["train"], "X_val": x["val"], "y_val": y["val"]}
    model_cfg = ml_collections.ConfigDict({"name": "TwoLayerNet", "hidden_dim": net_cfg.hidden_dim,
                                           "weight_scale": net_cfg.weight_scale, "reg": net_cfg.reg})
    model, solver = _train_one(model_cfg, net_cfg.solver, data_dict, (x["train"].shape[1],), config.seed)
    results[f"net_{name}"] = {"val_accuracy": solver.best_val_acc,
                              "test_accuracy": _accuracy(np.argmax(model.loss(x["test"]), axis=1), y["test"])}
  results["wall_time_s"] = time.time() - t0
  return results
