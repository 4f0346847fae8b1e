"""The lecture 13 measurements (docs/results.md): each part one function, the config's
``parts`` choose which run.

- ``digits``: on the digits CNNs trained by ``experiments/configs/vis/digits_cnn.py`` (and
  ``digits_cnn_pgd.py``), read from their workdirs: class visualization from zeros for every class
  (the target's softmax), targeted fooling of test digits (success, median L-inf / L2), and accuracy
  against the L-inf PGD epsilon for both networks. Class visualization runs with the lecture's
  unnormalised score and with log-softmax as the objective (``digits.classvis_objectives``).
- ``features``: on the same clean digits CNN, nearest neighbours of test digits among the training
  digits in pixel space and in penultimate-feature space (label agreement of the k nearest), and PCA /
  t-SNE of the test digits' features (leave-one-out k-NN label agreement inside the 2-D map); figures.
- ``pretrained_fooling``: targeted L-inf PGD at ``epsilon`` on a pretrained ImageNet network, every
  bundled photo x ``num_targets`` random target classes: success rate, median L-inf and L2.
- ``imagenet_classvis``: class visualization of a few ImageNet classes (given by name or index) on a pretrained
  network, from a grey image, with the lecture's regularisers (L2, periodic blur, jitter), all classes and every
  objective of ``objectives`` in one jitted ``lax.scan`` each: the target's softmax and the top-1 class; a figure.
- ``scenes``: a CNN trained through the engine to name the single shape of a synthetic scene
  (:func:`cs231n_jax.data.scenes.detection_scenes`, whose object mask is known); on test scenes, the
  share of saliency mass inside the object against the object's area share for every attribution
  method, the occlusion drop when the patch covers the object against background, and each method's
  deletion curve (area under it).
- ``smoothgrad_sweep``: the ``scenes`` part's classifier (restored from its workdir, or trained), SmoothGrad's
  mass ratio for several noise levels / sample counts, averaging the gradients or their squares.
- ``transfer``: scikit-image's ``lfw_subset`` (100 faces, 100 non-faces), a fixed split: logistic
  regression on frozen pretrained penultimate features against a small CNN trained from scratch
  through the engine.
"""

from __future__ import annotations

import json
from typing import Any

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
from etils import epath

from cs231n_jax import optim
from cs231n_jax.data.dataset import ImageDataset, Split
from cs231n_jax.tasks import classification, robust_classification
from cs231n_jax.train import loop
from cs231n_jax.train.steps import init_key
from cs231n_jax.vis import adversarial, class_visualization, occlusion, saliency
from cs231n_jax.vis import digits_cnn as _digits_cnn  # noqa: F401  (registers vis_digits_cnn)

# The 80 (photo, target) attacks of the earlier two runs (4 photos each, targets drawn in photo order from
# default_rng(0): both runs drew the same four tuples), written out so that one run of all eight photos repeats them.
_DRAWN = ((842, 813, 631, 507, 268, 40, 16, 306, 175, 75), (33, 666, 2, 810, 854, 392, 926, 275, 764, 553),
          (419, 476, 525, 28, 5, 669, 647, 8, 123, 400), (679, 835, 134, 701, 387, 942, 645, 685, 578, 873))
FOOLING_PHOTOS = ("astronaut", "chelsea", "coffee", "rocket", "colorwheel", "hubble_deep_field", "immunohistochemistry", "retina")
FOOLING_TARGETS = _DRAWN + _DRAWN
PARTS = ("digits", "features", "pretrained_fooling", "imagenet_classvis", "scenes", "smoothgrad_sweep", "transfer")


def get_base_config() -> ml_collections.ConfigDict:
  c = ml_collections.ConfigDict()
  c.runner = "cs231n_jax.studies.understanding:run"
  c.seed = 0
  c.parts = PARTS
  c.digits = ml_collections.ConfigDict({
      "clean_config": "experiments/configs/vis/digits_cnn.py", "clean_workdir": "workdirs/vis_digits_cnn",
      "pgd_config": "experiments/configs/vis/digits_cnn_pgd.py", "pgd_workdir": "workdirs/vis_digits_cnn_pgd",
      "epsilons": (0.0, 0.02, 0.05, 0.1, 0.15, 0.2), "pgd_steps": 20, "pgd_step_size": 0.02,
      "classvis_steps": 600, "classvis_lr": 0.05, "classvis_l2": 1e-4, "classvis_objectives": ("score", "log_softmax"),
      "fool_lr": 0.05, "fool_steps": 200, "fool_images": 50, "neighbours_k": 5, "neighbour_rows": 4})
  c.pretrained_fooling = ml_collections.ConfigDict({
      "model": "efficientnet_lite0", "photos": FOOLING_PHOTOS, "num_targets": 10, "targets": FOOLING_TARGETS,
      "epsilon": 2 / 255, "step_size": 0.25 / 255, "step_boundaries_and_scales": ((30, 0.4),), "steps": 60,
      "chunk": 5, "batch": 4})
  c.imagenet_classvis = ml_collections.ConfigDict({
      "model": "mobilenet_v2", "classes": ("goldfish", "Egyptian cat", "sports car", "espresso"), "size": 224,
      "objectives": ("score", "log_softmax"), "steps": 200, "learning_rate": 0.01, "l2_reg": 1e-4, "blur_every": 10,
      "blur_sigma": 0.5, "jitter": 8, "init": 0.5})
  c.scenes = ml_collections.ConfigDict({
      "size": 56, "num_train": 1500, "num_val": 200, "num_test": 100, "features": (32, 64), "epochs": 15,
      "learning_rate": 3e-3, "batch_size": 64, "patch": 8, "stride": 4, "smoothgrad_samples": 50, "ig_steps": 16,
      "deletion_steps": 20, "smoothgrad_noise": 0.15, "smoothgrad_squared": False,
      "smoothgrad_sweep": ((0.01, 16, False), (0.01, 16, True), (0.05, 16, False), (0.05, 16, True), (0.05, 64, False),
                           (0.15, 16, False), (0.15, 16, True), (0.15, 64, False), (0.10, 50, False), (0.15, 50, True),
                           (0.20, 50, False))})
  c.transfer = ml_collections.ConfigDict({
      "model": "mobilenet_v2", "train_fraction": 0.5, "features": (16, 32), "epochs": 40, "learning_rate": 3e-3,
      "batch_size": 20, "probe_c": 1.0})
  return c


def _restore(config_path: str, workdir: str):
  """(logits_fn, dataset, params, model) of a finished robust / classification run's best parameters."""
  from cs231n_jax.config import load_config
  from cs231n_jax.models.registry import get_model

  config = load_config(config_path)
  task, data, dataset = robust_classification.build(config)
  state = task.init(init_key(config.seed), data.example)
  state, _ = classification.init_from_run(state, workdir)
  fields = {k: v for k, v in config.model.to_dict().items() if k != "name"}
  model = get_model(config.model.name, num_classes=dataset.num_classes, **fields)
  return (lambda x: classification.apply_model(state, state.params, x, False, state.rng)[0]), dataset, state.params, model


def class_visualization_softmax(logits_fn, shape: tuple[int, ...], c: ml_collections.ConfigDict, objective: str,
                                num_classes: int = 10) -> tuple[list[float], np.ndarray]:
  """Class visualization from zeros for every class with ``objective``; (target softmax per class, images)."""
  cfg = class_visualization.ClassVisConfig(steps=c.classvis_steps, learning_rate=c.classvis_lr, l2_reg=c.classvis_l2,
                                           objective=objective)
  images, _ = jax.jit(lambda t: class_visualization.visualize_class(logits_fn, t, shape, cfg))(jnp.arange(num_classes))
  probs = np.asarray(jax.nn.softmax(logits_fn(images)))
  return [float(probs[i, i]) for i in range(num_classes)], np.asarray(images)


def fooling_summary(adv: jax.Array, images: jax.Array, success: jax.Array) -> dict[str, Any]:
  """Success rate and the median L-inf / L2 size of the change over the successful attacks."""
  ok = np.asarray(success, bool)
  linf, l2 = (np.asarray(v) for v in adversarial.perturbation_norms(adv, images))
  return {"success": float(ok.mean()), "median_linf": float(np.median(linf[ok])) if ok.any() else None,
          "median_l2": float(np.median(l2[ok])) if ok.any() else None, "images": int(ok.size)}


def accuracy_vs_epsilon(logits_fn, x: jax.Array, y: jax.Array, epsilons, step_size: float, steps: int, seed: int) -> list[float]:
  """Accuracy under untargeted L-inf PGD (random start) at each epsilon (0: the clean accuracy)."""
  accs = []
  for eps in epsilons:  # epsilon is checked in Python by pgd: one compile per value
    adv = x if eps == 0 else jax.jit(lambda z, e=eps: adversarial.pgd(logits_fn, z, y, e, step_size, steps,
                                                                       key=jax.random.PRNGKey(seed)))(x)[0]
    accs.append(float(np.mean(np.asarray(jnp.argmax(logits_fn(adv), -1)) == np.asarray(y))))
  return accs


def digits_measurements(clean_fn, x: jax.Array, y: jax.Array, c: ml_collections.ConfigDict, seed: int,
                        robust_fns: dict[str, Any] | None = None) -> dict[str, Any]:
  """Class visualization (every objective in ``c.classvis_objectives``), the lecture's fooling of
  ``c.fool_images`` test digits to random other classes, and accuracy against epsilon for ``clean_fn``
  and every network of ``robust_fns``."""
  out: dict[str, Any] = {}
  for objective in c.classvis_objectives:
    suffix = "" if objective == "score" else f"_{objective}"
    out[f"classvis_target_softmax{suffix}"], out[f"classvis_images{suffix}"] = class_visualization_softmax(
        clean_fn, x.shape[1:], c, objective)
  n = min(c.fool_images, len(y))
  rng = np.random.default_rng(seed)
  targets = jnp.asarray((np.asarray(y[:n]) + rng.integers(1, 10, n)) % 10)
  fooled, ok = jax.jit(lambda z: adversarial.fool(clean_fn, z, targets, c.fool_lr, c.fool_steps))(x[:n])
  out["fool"] = fooling_summary(fooled, x[:n], ok)
  curves = {"clean": accuracy_vs_epsilon(clean_fn, x, y, c.epsilons, c.pgd_step_size, c.pgd_steps, seed)}
  for name, fn in (robust_fns or {}).items():
    curves[name] = accuracy_vs_epsilon(fn, x, y, c.epsilons, c.pgd_step_size, c.pgd_steps, seed)
  out["accuracy_vs_epsilon"] = {"epsilons": list(c.epsilons), **curves}
  return out


def digits_part(c: ml_collections.ConfigDict, seed: int) -> dict[str, Any]:
  clean_fn, dataset, _, _ = _restore(c.clean_config, c.clean_workdir)
  x, y = jnp.asarray(dataset.test.images), jnp.asarray(dataset.test.labels)
  robust = {"pgd": _restore(c.pgd_config, c.pgd_workdir)[0]} if epath.Path(c.pgd_workdir).exists() else {}
  return digits_measurements(clean_fn, x, y, c, seed, robust)


def neighbour_agreement(queries: np.ndarray, query_labels: np.ndarray, bank: np.ndarray, bank_labels: np.ndarray,
                        k: int) -> float:
  """The share of the ``k`` nearest bank rows (L2) whose label is the query's."""
  from cs231n_jax.vis import features as feat

  nn_idx = feat.nearest_neighbours(queries, bank, k)
  return float(np.mean(bank_labels[nn_idx] == query_labels[:, None]))


def leave_one_out_agreement(points: np.ndarray, labels: np.ndarray, k: int) -> float:
  """The share of each point's ``k`` nearest OTHER points (L2) that carry its label."""
  x = np.asarray(points, np.float64)
  d = ((x[:, None, :] - x[None, :, :]) ** 2).sum(-1)
  np.fill_diagonal(d, np.inf)
  idx = np.argsort(d, axis=1, kind="stable")[:, :k]
  return float(np.mean(labels[idx] == labels[:, None]))


def features_part(c: ml_collections.ConfigDict, seed: int, path: epath.Path) -> dict[str, Any]:
  """Nearest neighbours in pixel space vs penultimate-feature space (test digits as queries, the training
  digits as the bank) and 2-D PCA / t-SNE embeddings of the test digits' features (V2-V4), on the clean
  digits CNN; figures ``vis_digits_neighbours.png`` and ``vis_digits_tsne.png``."""
  from cs231n_jax import plotting
  from cs231n_jax.vis import features as feat

  _, dataset, params, model = _restore(c.clean_config, c.clean_workdir)
  penultimate = jax.jit(lambda z: feat.penultimate_features(model, {"params": params}, z))
  train, test = dataset.train, dataset.test
  f_train, f_test = np.asarray(penultimate(jnp.asarray(train.images))), np.asarray(penultimate(jnp.asarray(test.images)))
  px_train, px_test = train.images.reshape(len(train.images), -1), test.images.reshape(len(test.images), -1)
  out = {"k": c.neighbours_k, "queries": int(len(test.labels)), "bank": int(len(train.labels)),
         "pixel_neighbour_agreement": neighbour_agreement(px_test, test.labels, px_train, train.labels, c.neighbours_k),
         "feature_neighbour_agreement": neighbour_agreement(f_test, test.labels, f_train, train.labels, c.neighbours_k)}
  embeddings = {m: feat.embed_2d(f_test, m, seed=seed) for m in ("pca", "tsne")}
  for m, e in embeddings.items():  # how well the 2-D map keeps the classes apart: leave-one-out k-NN agreement in it
    out[f"{m}_2d_neighbour_agreement"] = leave_one_out_agreement(e, test.labels, c.neighbours_k)
  fig, axes = plotting.subplots(1, 2, figsize=(11, 5))
  for ax, (m, e) in zip(axes, embeddings.items()):
    sc = ax.scatter(e[:, 0], e[:, 1], c=test.labels, cmap="tab10", s=8)
    ax.set_title(f"{dict(pca='PCA', tsne='t-SNE')[m]} of the test digits' features")
    ax.set_xticks([]), ax.set_yticks([])
  fig.colorbar(sc, ax=axes, ticks=range(10))
  plotting.save_figure(fig, path / "vis_digits_tsne.png")
  queries = np.arange(c.neighbour_rows)
  shown = c.neighbours_k
  rows = []
  for space, (bank, q) in {"pixels": (px_train, px_test), "features": (f_train, f_test)}.items():
    idx = feat.nearest_neighbours(q[queries], bank, shown)
    rows.append((space, idx))
  fig, axes = plotting.subplots(2 * len(queries), shown + 1, figsize=(1.1 * (shown + 1), 2.2 * len(queries)))
  for r, qi in enumerate(queries):
    for s, (space, idx) in enumerate(rows):
      row = axes[2 * r + s]
      row[0].imshow(test.images[qi, ..., 0], cmap="gray", vmin=0, vmax=1)
      row[0].set_title(f"query ({space})", fontsize=7)
      for j in range(shown):
        row[j + 1].imshow(train.images[idx[qi, j], ..., 0], cmap="gray", vmin=0, vmax=1)
        row[j + 1].set_title(str(int(train.labels[idx[qi, j]])), fontsize=7)
      for a in row:
        a.axis("off")
  plotting.save_figure(fig, path / "vis_digits_neighbours.png")
  return out


def fooling_targets(c: ml_collections.ConfigDict, seed: int) -> list[list[int]]:
  """The target classes of every photo: ``c.targets`` (one tuple per photo) if given, else ``c.num_targets``
  distinct classes per photo drawn in photo order from ``default_rng(seed)``."""
  if c.targets:
    if len(c.targets) != len(c.photos) or any(not all(0 <= int(t) < 1000 for t in row) for row in c.targets):
      raise ValueError(f"pretrained_fooling.targets: expected one tuple of class indices 0..999 per photo "
                       f"({len(c.photos)} photos), got {len(c.targets)} tuples")
    return [[int(t) for t in row] for row in c.targets]
  rng = np.random.default_rng(seed)
  return [[int(t) for t in rng.choice(1000, c.num_targets, replace=False)] for _ in c.photos]


def pretrained_fooling_part(c: ml_collections.ConfigDict, seed: int) -> dict[str, Any]:
  """Targeted L-inf PGD on ``c.model`` for every (photo, target): ``c.steps`` steps from the photo, the step size
  ``c.step_size`` scaled by ``c.step_boundaries_and_scales`` (a piecewise-constant schedule), each attack stopped
  at its first success; ``c.batch`` attacks at a time, ``c.chunk`` steps per call, finished attacks dropped."""
  from cs231n_jax.pretrained import networks

  net = networks.load(c.model)
  targets = fooling_targets(c, seed)
  pairs = [(p, t) for p, row in zip(c.photos, targets) for t in row]
  photos = {p: networks.photo(p) for p in c.photos}
  images = np.stack([photos[p] for p, _ in pairs]).astype(np.float32)
  labels = np.asarray([t for _, t in pairs], np.int32)
  size = adversarial.piecewise_step_size(c.step_size, tuple(tuple(b) for b in c.step_boundaries_and_scales))

  @jax.jit
  def chunk(variables, x, imgs, labs, index):
    return adversarial.pgd_continue(lambda z: net.logits(z, variables), x, imgs, labs, index, c.epsilon, size, c.chunk,
                                    targeted=True)

  calls = [0]

  def run_chunk(*args):
    calls[0] += 1
    out = chunk(net.variables, *args)
    print(f"pretrained_fooling: call {calls[0]}, step indices {np.unique(args[-1]).tolist()}, succeeded {np.asarray(out[1]).tolist()}",
          flush=True)
    return out

  adv, ok, first = adversarial.pgd_until_success(run_chunk, images, labels, c.steps, c.chunk, c.batch)
  # The success and sizes of the returned images, checked afresh (not the attack's own flags).
  predict = jax.jit(lambda variables, z: jnp.argmax(net.logits(z, variables), -1))
  preds = np.concatenate([np.asarray(predict(net.variables, jnp.asarray(adv[i:i + c.batch]))) for i in range(0, len(adv), c.batch)])
  ok = preds == labels
  linf, l2 = (np.asarray(v) for v in adversarial.perturbation_norms(jnp.asarray(adv), jnp.asarray(images)))
  per_pair = [{"photo": p, "target": t, "success": bool(s), "first_success_step": int(f), "linf_x255": float(li * 255),
               "l2": float(l)} for (p, t), s, f, li, l in zip(pairs, ok, first, linf, l2)]
  per_photo = {p: int(sum(r["success"] for r in per_pair if r["photo"] == p)) for p in c.photos}
  return {"model": c.model, "attacks": int(ok.size), "success": float(ok.mean()), "successes": int(ok.sum()),
          "max_linf_x255": float(linf.max() * 255),
          "median_linf_x255": float(np.median(linf[ok]) * 255) if ok.any() else None,
          "median_l2": float(np.median(l2[ok])) if ok.any() else None,
          "epsilon_x255": c.epsilon * 255, "steps": c.steps,
          "failed_within_30_steps": [(r["photo"], r["target"]) for r in per_pair if not 0 <= r["first_success_step"] <= 30],
          "per_photo_successes": per_photo, "per_pair": per_pair}


def imagenet_classvis_part(c: ml_collections.ConfigDict, seed: int) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
  """Class visualization of ``c.classes`` on the pretrained ``c.model`` for every objective of ``c.objectives``:
  (per objective the target's softmax and the top-1 class of each image, the images)."""
  from cs231n_jax.errors import ConfigError
  from cs231n_jax.pretrained import networks
  from cs231n_jax.pretrained.imagenet_classes import CLASSES

  if c.size < 32:
    raise ConfigError(f"imagenet_classvis.size: expected at least 32 pixels, got {c.size}")
  if not c.classes:
    raise ConfigError("imagenet_classvis.classes: expected at least one ImageNet class name or index")
  for objective in c.objectives:
    if objective not in class_visualization.OBJECTIVES:
      raise ConfigError(f"imagenet_classvis.objectives: expected a subset of {class_visualization.OBJECTIVES}, got {objective!r}")
  targets = [networks.class_index(name) for name in c.classes]
  net = networks.load(c.model)
  shape = (c.size, c.size, 3)
  init = jnp.full((len(targets), *shape), c.init, jnp.float32)
  out: dict[str, Any] = {"model": c.model, "size": c.size, "steps": c.steps,
                         "targets": [{"index": t, "name": CLASSES[t].split(",")[0]} for t in targets]}
  images = {}
  for objective in c.objectives:
    cfg = class_visualization.ClassVisConfig(steps=c.steps, learning_rate=c.learning_rate, l2_reg=c.l2_reg,
                                             objective=objective, blur_every=c.blur_every, blur_sigma=c.blur_sigma,
                                             jitter=c.jitter)

    def program(variables, t, cfg=cfg):
      return class_visualization.visualize_class(lambda z: net.logits(z, variables), t, shape, cfg,
                                                 jax.random.PRNGKey(seed), init=init)

    imgs, history = jax.jit(program)(net.variables, jnp.asarray(targets))
    probs = np.asarray(jax.nn.softmax(net.logits(imgs), axis=-1))
    top1 = probs.argmax(-1)
    out[objective] = {"target_softmax": [float(probs[i, t]) for i, t in enumerate(targets)],
                      "top1": [{"index": int(k), "name": CLASSES[k].split(",")[0], "softmax": float(probs[i, k])}
                               for i, k in enumerate(top1)],
                      "top1_is_target": [bool(k == t) for k, t in zip(top1, targets)],
                      "objective_first_last": [float(history[0]), float(history[-1])]}
    images[objective] = np.asarray(imgs)
  return out, images


def imagenet_classvis_figure(res: dict[str, Any], images: dict[str, np.ndarray], path: epath.Path) -> None:
  """vis_imagenet_classvis.png: one row per objective, one image per class with its softmax."""
  from cs231n_jax import plotting

  n = len(res["targets"])
  fig, axes = plotting.subplots(len(images), n, figsize=(2.6 * n, 2.9 * len(images)), squeeze=False)
  for row, (objective, imgs) in zip(axes, images.items()):
    for i, ax in enumerate(row):
      ax.imshow(np.clip(imgs[i], 0.0, 1.0))
      target = res["targets"][i]
      ax.set_title(f"{target['index']} {target['name']}: p={res[objective]['target_softmax'][i]:.3f}", fontsize=8)
      ax.axis("off")
    row[0].text(-0.08, 0.5, {"score": "ascend S_c", "log_softmax": "ascend log p_c"}.get(objective, objective),
                transform=row[0].transAxes, rotation=90, va="center", ha="right", fontsize=8)
  plotting.save_figure(fig, path / "vis_imagenet_classvis.png")


def _engine_train(dataset: ImageDataset, model_config: dict, c: ml_collections.ConfigDict, workdir: str, seed: int):
  """Train a classifier on ``dataset`` through the engine; returns (results, logits_fn of the best params)."""
  config = classification.base_config()
  config.seed = seed
  config.model = model_config
  config.optimizer = optim.default_config("adam", c.learning_rate)
  config.train.batch_size = c.batch_size
  config.train.num_epochs = c.epochs
  config.train.eval_batch_size = 100
  config.train.progress = False
  data = classification.classification_data(dataset, config)
  num_steps = config.train.num_epochs * data.train.steps_per_epoch
  model = classification.build_model(config.model, dataset.num_classes, "float32")
  task = classification.classification_task(model, optim.make_optimizer(config.optimizer, num_steps))
  results = loop.fit(task, data, config, workdir)
  state = task.init(init_key(seed), data.example)
  state, _ = classification.init_from_run(state, workdir)
  return results, (lambda x: classification.apply_model(state, state.params, x, False, state.rng)[0]), state.params


def mass_ratio(saliency_maps: np.ndarray, masks: np.ndarray) -> np.ndarray:
  """Per image: the share of the (N, H, W) saliency mass inside the object's mask over the mask's area share
  (1: no better than spreading the mass uniformly)."""
  n = len(masks)
  m = np.asarray(masks, np.float64).reshape(n, -1)
  s = np.asarray(saliency_maps, np.float64).reshape(n, -1)
  inside = (s * m).sum(1) / np.maximum(s.sum(1), 1e-12)
  return inside / m.mean(1)


def occlusion_on_off(heat: np.ndarray, mask: np.ndarray, patch: int, stride: int) -> tuple[float, float]:
  """The mean occlusion drop over the positions whose patch centre lies on the object (NaN if none) and
  over the rest."""
  rows = occlusion.positions(mask.shape[0], patch, stride) + patch // 2
  cols = occlusion.positions(mask.shape[1], patch, stride) + patch // 2
  centre_on = np.asarray(mask, bool)[np.ix_(rows, cols)]
  return (float(heat[centre_on].mean()) if centre_on.any() else float("nan")), float(heat[~centre_on].mean())


def _scenes_model(c: ml_collections.ConfigDict, seed: int, workdir: str):
  """(test scenes, test split, engine results, logits_fn, params) of the scene classifier (trained through the
  engine in ``<workdir>/scenes_cnn``; a finished run there is restored, not retrained)."""
  from cs231n_jax.data import scenes

  def split(name, n, s):
    sc = scenes.detection_scenes(n, s, size=c.size, max_objects=1, classes="shapes", split=name)
    return sc, Split(sc.images.astype(np.float32), sc.labels[:, 0].astype(np.int32))

  _, train = split("train", c.num_train, seed)
  _, val = split("val", c.num_val, seed + 1)
  test_scenes, test = split("test", c.num_test, seed + 2)
  dataset = ImageDataset("scenes_shapes", train, val, test, 3, scenes.SHAPES, None)
  results, fn, params = _engine_train(dataset, {"name": "vis_digits_cnn", "features": tuple(c.features)}, c,
                                      str(epath.Path(workdir) / "scenes_cnn"), seed)
  return test_scenes, test, results, fn, params


def smoothgrad_sweep_part(c: ml_collections.ConfigDict, seed: int, workdir: str) -> dict[str, Any]:
  """SmoothGrad's saliency mass ratio on the scenes (the ``scenes`` part's classifier) for every
  ``(noise_level, num_samples, squared)`` of ``c.smoothgrad_sweep``."""
  test_scenes, test, results, fn, _ = _scenes_model(c, seed, workdir)
  x, y = jnp.asarray(test.images), jnp.asarray(test.labels)
  masks = test_scenes.masks[:, 0]
  rows = []
  for noise, samples, squared in c.smoothgrad_sweep:
    attr = jax.jit(lambda z, nl=noise, ns=samples, sq=squared: saliency.smoothgrad(
        fn, z, y, jax.random.PRNGKey(seed), num_samples=ns, noise_level=nl, squared=sq))(x)
    ratio = mass_ratio(np.asarray(saliency.saliency_map(attr)), masks)
    rows.append({"noise_level": noise, "num_samples": samples, "squared": squared,
                 "mass_ratio_median": float(np.median(ratio)), "share_at_least_2x": float(np.mean(ratio >= 2.0))})
    print(rows[-1], flush=True)
  vanilla = mass_ratio(np.asarray(saliency.saliency_map(saliency.vanilla_gradients(fn, x, y))), masks)
  return {"test_accuracy": results["test_accuracy"], "vanilla_share_at_least_2x": float(np.mean(vanilla >= 2.0)),
          "sweep": rows}


def scenes_part(c: ml_collections.ConfigDict, seed: int, workdir: str) -> dict[str, Any]:
  from cs231n_jax.data import scenes

  test_scenes, test, results, fn, params = _scenes_model(c, seed, workdir)
  x, y = jnp.asarray(test.images), jnp.asarray(test.labels)
  masks = test_scenes.masks[:, 0]
  area = masks.reshape(len(masks), -1).mean(1)
  # The guided network: the same parameters through a model with guided ReLUs.
  from cs231n_jax.models.registry import get_model

  guided_model = get_model("vis_digits_cnn", features=tuple(c.features), num_classes=len(scenes.SHAPES),
                           relu=saliency.guided_relu)
  guided_fn = lambda z: guided_model.apply({"params": params}, z)  # noqa: E731
  out: dict[str, Any] = {"test_accuracy": results["test_accuracy"], "object_area_share_mean": float(area.mean())}
  prob_fn = jax.jit(lambda z: jax.nn.softmax(fn(z)))
  deletion = jax.jit(lambda img, lab, sal: occlusion.deletion_curve(prob_fn, img, lab, sal, c.deletion_steps,
                                                                    fill=scenes.BACKGROUND)[1])
  fractions = np.linspace(0.0, 1.0, c.deletion_steps + 1)
  occlude = jax.jit(lambda img, lab: occlusion.occlusion_map(prob_fn, img, lab, c.patch, c.stride, fill=scenes.BACKGROUND))
  for method in saliency.METHODS:
    kwargs = {"num_samples": c.smoothgrad_samples, "noise_level": c.smoothgrad_noise,
              "squared": c.smoothgrad_squared} if method == "smoothgrad" else (
        {"steps": c.ig_steps} if method == "integrated_gradients" else {})
    attr = jax.jit(lambda z, m=method, kw=kwargs: saliency.attribute(m, fn, z, y, key=jax.random.PRNGKey(seed),
                                                                     guided_logits_fn=guided_fn, **kw))(x)
    smap = np.asarray(saliency.saliency_map(attr))
    ratio = mass_ratio(smap, masks)
    aucs = []
    for i in range(len(y)):
      aucs.append(occlusion.curve_area(fractions, deletion(x[i], y[i], jnp.asarray(smap[i]))))
    out[method] = {"mass_ratio_median": float(np.median(ratio)), "share_at_least_2x": float(np.mean(ratio >= 2.0)),
                   "deletion_auc_mean": float(np.mean(aucs))}
  # A random ranking's deletion curve for comparison.
  rand_aucs = []
  for i in range(len(y)):
    ranking = jnp.asarray(np.random.default_rng(i).random(masks[i].shape), jnp.float32)
    rand_aucs.append(occlusion.curve_area(fractions, deletion(x[i], y[i], ranking)))
  out["random_deletion_auc_mean"] = float(np.mean(rand_aucs))
  # Occlusion: mean drop when the patch's centre lies on the object vs on background.
  on, off = [], []
  for i in range(len(y)):
    drop_on, drop_off = occlusion_on_off(np.asarray(occlude(x[i], y[i])), masks[i], c.patch, c.stride)
    on.append(drop_on)
    off.append(drop_off)
  on_mean, off_mean = float(np.nanmean(on)), float(np.mean(off))
  out["occlusion"] = {"drop_on_object": on_mean, "drop_on_background": off_mean,
                      "ratio": on_mean / off_mean if off_mean > 0 else None}
  return out


def transfer_part(c: ml_collections.ConfigDict, seed: int, workdir: str) -> dict[str, Any]:
  import skimage.data
  from sklearn.linear_model import LogisticRegression

  from cs231n_jax.pretrained import networks

  faces = np.asarray(skimage.data.lfw_subset(), np.float32)  # (200, 25, 25): 100 faces, then 100 non-faces
  labels = np.r_[np.ones(100), np.zeros(100)].astype(np.int32)
  order = np.random.default_rng(seed).permutation(len(faces))
  n_train = int(round(c.train_fraction * len(faces)))
  tr, te = order[:n_train], order[n_train:]
  net = networks.load(c.model)
  rgb = np.repeat(faces[..., None], 3, axis=-1)
  from skimage.transform import resize

  big = np.stack([resize(im, (224, 224), order=1) for im in rgb]).astype(np.float32)
  from cs231n_jax.vis import features as feat

  def penultimate(variables, images):
    return feat.penultimate_features(net.model, variables, networks.preprocess(net.name, images))

  penultimate = jax.jit(penultimate)
  f = np.concatenate([np.asarray(penultimate(net.variables, big[i:i + 20])) for i in range(0, len(big), 20)])
  probe = LogisticRegression(C=c.probe_c, max_iter=5000).fit(f[tr], labels[tr])
  probe_acc = float(probe.score(f[te], labels[te]))
  # From scratch: the small CNN on the 25x25 images, through the engine (val = test: no model choice made on it
  # beyond keeping the best epoch, reported as such).
  half = len(te) // 2
  dataset = ImageDataset("lfw_subset", Split(faces[tr][..., None], labels[tr]), Split(faces[te[:half]][..., None], labels[te[:half]]),
                         Split(faces[te[half:]][..., None], labels[te[half:]]), 2, ("non-face", "face"), None)
  results, _, _ = _engine_train(dataset, {"name": "vis_digits_cnn", "features": tuple(c.features)}, c,
                                str(epath.Path(workdir) / "lfw_scratch"), seed)
  probe_second_half = float(probe.score(f[te[half:]], labels[te[half:]]))
  return {"train": int(len(tr)), "test": int(len(te)), "linear_probe_accuracy": probe_acc,
          "linear_probe_accuracy_second_half": probe_second_half, "scratch_test_accuracy_second_half": results["test_accuracy"],
          "scratch_val_accuracy_first_half": results["val_accuracy"], "model": c.model}


def digits_figures(res: dict[str, Any], images: dict[str, np.ndarray], path: epath.Path) -> None:
  """vis_digits_classvis.png (one image per class and objective, with its softmax) and vis_accuracy_vs_epsilon.png."""
  from cs231n_jax import plotting

  fig, axes = plotting.subplots(len(images), 10, figsize=(12, 1.9 * len(images)), squeeze=False)
  for row, (objective, imgs) in zip(axes, images.items()):
    probs = res["classvis_target_softmax" + ("" if objective == "score" else f"_{objective}")]
    for c, ax in enumerate(row):
      ax.imshow(imgs[c, ..., 0], cmap="gray", vmin=0, vmax=1)
      ax.set_title(f"{c}: p={probs[c]:.3f}", fontsize=8)
      ax.axis("off")
    row[0].text(-0.6, 0.5, {"score": "ascend S_c", "log_softmax": "ascend log p_c"}.get(objective, objective),
                transform=row[0].transAxes, rotation=90, va="center", ha="right", fontsize=8)
  plotting.save_figure(fig, path / "vis_digits_classvis.png")
  curves = res["accuracy_vs_epsilon"]
  fig, ax = plotting.subplots(figsize=(5, 3.5))
  for name in ("clean", "pgd"):
    if name in curves:
      ax.plot(curves["epsilons"], curves[name], marker="o", label={"clean": "trained normally", "pgd": "PGD-trained"}[name])
  ax.set_xlabel("L-inf epsilon (pixels in [0, 1])")
  ax.set_ylabel("test accuracy under PGD")
  ax.legend()
  plotting.save_figure(fig, path / "vis_accuracy_vs_epsilon.png")


def run(config: ml_collections.ConfigDict, workdir: str) -> dict[str, Any]:
  out: dict[str, Any] = {}
  path = epath.Path(workdir)
  path.mkdir(parents=True, exist_ok=True)
  for part in config.parts:
    if part == "digits":
      res = digits_part(config.digits, config.seed)
      images = {}
      for objective in config.digits.classvis_objectives:
        suffix = "" if objective == "score" else f"_{objective}"
        images[objective] = res.pop(f"classvis_images{suffix}")
        with (path / f"classvis_digits{suffix}.npy").open("wb") as f:
          np.save(f, images[objective])
      digits_figures(res, images, path)
    elif part == "features":
      res = features_part(config.digits, config.seed, path)
    elif part == "pretrained_fooling":
      res = pretrained_fooling_part(config.pretrained_fooling, config.seed)
    elif part == "imagenet_classvis":
      res, images = imagenet_classvis_part(config.imagenet_classvis, config.seed)
      for objective, imgs in images.items():
        with (path / f"classvis_imagenet_{objective}.npy").open("wb") as f:
          np.save(f, imgs)
      imagenet_classvis_figure(res, images, path)
    elif part == "smoothgrad_sweep":
      res = smoothgrad_sweep_part(config.scenes, config.seed, workdir)
    elif part == "scenes":
      res = scenes_part(config.scenes, config.seed, workdir)
    elif part == "transfer":
      res = transfer_part(config.transfer, config.seed, workdir)
    else:
      raise ValueError(f"parts: unknown part {part!r}; expected one of {PARTS}")
    out[part] = res
    print(part, json.dumps(res, indent=1, default=float))
    (path / f"{part}.json").write_text(json.dumps(res, indent=1, default=float))
  return out


