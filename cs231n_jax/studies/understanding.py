"""The lecture 13 measurements (docs/results.md): each part one function, the config's
``parts`` choose which run.

- ``digits``: on the digits CNNs trained by ``experiments/configs/vis/digits_cnn.py`` (and
  ``digits_cnn_pgd.py``), read from their workdirs: class visualization from zeros for every class
  (the target's softmax), targeted fooling of test digits (success, median L-inf / L2), and accuracy
  against the L-inf PGD epsilon for both networks.
- ``pretrained_fooling``: targeted L-inf PGD at ``epsilon`` on a pretrained ImageNet network, every
  bundled photo x ``num_targets`` random target classes: success rate, median L-inf and L2.
- ``scenes``: a CNN trained through the engine to name the single shape of a synthetic scene
  (:func:`cs231n_jax.data.scenes.detection_scenes`, whose object mask is known); on test scenes, the
  share of saliency mass inside the object against the object's area share for every attribution
  method, the occlusion drop when the patch covers the object against background, and each method's
  deletion curve (area under it).
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


def get_base_config() -> ml_collections.ConfigDict:
  c = ml_collections.ConfigDict()
  c.runner = "cs231n_jax.studies.understanding:run"
  c.seed = 0
  c.parts = ("digits", "pretrained_fooling", "scenes", "transfer")
  c.digits = ml_collections.ConfigDict({
      "clean_config": "experiments/configs/vis/digits_cnn.py", "clean_workdir": "workdirs/vis_digits_cnn",
      "pgd_config": "experiments/configs/vis/digits_cnn_pgd.py", "pgd_workdir": "workdirs/vis_digits_cnn_pgd",
      "epsilons": (0.0, 0.02, 0.05, 0.1, 0.15, 0.2), "pgd_steps": 20, "pgd_step_size": 0.02,
      "classvis_steps": 600, "classvis_lr": 0.05, "classvis_l2": 1e-4, "fool_lr": 0.05, "fool_steps": 200,
      "fool_images": 50})
  c.pretrained_fooling = ml_collections.ConfigDict({
      "model": "efficientnet_lite0", "photos": ("astronaut", "chelsea", "coffee", "rocket"), "num_targets": 10,
      "epsilon": 2 / 255, "step_size": 0.25 / 255, "steps": 30})
  c.scenes = ml_collections.ConfigDict({
      "size": 56, "num_train": 1500, "num_val": 200, "num_test": 100, "features": (32, 64), "epochs": 15,
      "learning_rate": 3e-3, "batch_size": 64, "patch": 8, "stride": 4, "smoothgrad_samples": 16, "ig_steps": 16,
      "deletion_steps": 20})
  c.transfer = ml_collections.ConfigDict({
      "model": "mobilenet_v2", "train_fraction": 0.5, "features": (16, 32), "epochs": 40, "learning_rate": 3e-3,
      "batch_size": 20, "probe_c": 1.0})
  return c


def _restore(config_path: str, workdir: str):
  """(logits_fn, dataset) of a finished robust / classification run's best parameters."""
  from cs231n_jax.config import load_config

  config = load_config(config_path)
  task, data, dataset = robust_classification.build(config)
  state = task.init(init_key(config.seed), data.example)
  state, _ = classification.init_from_run(state, workdir)
  return (lambda x: classification.apply_model(state, state.params, x, False, state.rng)[0]), dataset


def digits_part(c: ml_collections.ConfigDict, seed: int) -> dict[str, Any]:
  out: dict[str, Any] = {}
  clean_fn, dataset = _restore(c.clean_config, c.clean_workdir)
  test = dataset.test
  x, y = jnp.asarray(test.images), jnp.asarray(test.labels)
  # Class visualization from zeros: S_c - l2 ||I||^2, Adam.
  cfg = class_visualization.ClassVisConfig(steps=c.classvis_steps, learning_rate=c.classvis_lr, l2_reg=c.classvis_l2)
  images, _ = jax.jit(lambda t: class_visualization.visualize_class(clean_fn, t, x.shape[1:], cfg))(jnp.arange(10))
  probs = np.asarray(jax.nn.softmax(clean_fn(images)))
  out["classvis_target_softmax"] = [float(probs[i, i]) for i in range(10)]
  out["classvis_images"] = np.asarray(images)
  # The lecture's fooling: test digits to a random other class.
  n = min(c.fool_images, len(y))
  rng = np.random.default_rng(seed)
  targets = jnp.asarray((np.asarray(y[:n]) + rng.integers(1, 10, n)) % 10)
  fooled, ok = jax.jit(lambda z: adversarial.fool(clean_fn, z, targets, c.fool_lr, c.fool_steps))(x[:n])
  linf, l2 = adversarial.perturbation_norms(fooled, x[:n])
  out["fool"] = {"success": float(np.mean(ok)), "median_linf": float(np.median(linf[ok])) if ok.any() else None,
                 "median_l2": float(np.median(l2[ok])) if ok.any() else None, "images": n}
  # Accuracy against epsilon, both networks.
  curves = {}
  for name, (cfg_path, workdir) in {"clean": (c.clean_config, c.clean_workdir), "pgd": (c.pgd_config, c.pgd_workdir)}.items():
    if not epath.Path(workdir).exists():
      continue
    fn = clean_fn if name == "clean" else _restore(cfg_path, workdir)[0]
    accs = []
    for eps in c.epsilons:
      if eps == 0:
        adv = x
      else:
        adv, _ = jax.jit(lambda z, e=eps: adversarial.pgd(fn, z, y, e, c.pgd_step_size, c.pgd_steps,
                                                           key=jax.random.PRNGKey(seed)))(x)
      accs.append(float(np.mean(np.asarray(jnp.argmax(fn(adv), -1)) == np.asarray(y))))
    curves[name] = accs
  out["accuracy_vs_epsilon"] = {"epsilons": list(c.epsilons), **curves}
  return out


def pretrained_fooling_part(c: ml_collections.ConfigDict, seed: int) -> dict[str, Any]:
  from cs231n_jax.pretrained import networks

  net = networks.load(c.model)
  photos = np.stack([networks.photo(p) for p in c.photos])
  rng = np.random.default_rng(seed)

  def attack(variables, images, targets):
    fn = lambda z: net.logits(z, variables)  # noqa: E731
    return adversarial.pgd(fn, images, targets, c.epsilon, c.step_size, c.steps, targeted=True, stop_on_success=True)

  attack = jax.jit(attack)
  successes, linfs, l2s = [], [], []
  for i in range(len(c.photos)):
    targets = jnp.asarray(rng.choice(1000, c.num_targets, replace=False))
    images = jnp.repeat(jnp.asarray(photos[i:i + 1]), c.num_targets, axis=0)
    adv, ok = attack(net.variables, images, targets)
    linf, l2 = adversarial.perturbation_norms(adv, images)
    successes += list(np.asarray(ok))
    linfs += list(np.asarray(linf))
    l2s += list(np.asarray(l2))
  ok = np.asarray(successes)
  return {"model": c.model, "attacks": int(ok.size), "success": float(ok.mean()),
          "median_linf_x255": float(np.median(np.asarray(linfs)[ok]) * 255) if ok.any() else None,
          "median_l2": float(np.median(np.asarray(l2s)[ok])) if ok.any() else None,
          "epsilon_x255": c.epsilon * 255, "steps": c.steps}


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


def scenes_part(c: ml_collections.ConfigDict, seed: int, workdir: str) -> dict[str, Any]:
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
  x, y = jnp.asarray(test.images), jnp.asarray(test.labels)
  masks = test_scenes.masks[:, 0]
  area = masks.reshape(len(masks), -1).mean(1)
  # The guided network: the same parameters through a model with guided ReLUs.
  from cs231n_jax.models.registry import get_model

  guided_model = get_model("vis_digits_cnn", features=tuple(c.features), num_classes=dataset.num_classes,
                           relu=saliency.guided_relu)
  guided_fn = lambda z: guided_model.apply({"params": params}, z)  # noqa: E731
  out: dict[str, Any] = {"test_accuracy": results["test_accuracy"], "object_area_share_mean": float(area.mean())}
  prob_fn = jax.jit(lambda z: jax.nn.softmax(fn(z)))
  deletion = jax.jit(lambda img, lab, sal: occlusion.deletion_curve(prob_fn, img, lab, sal, c.deletion_steps,
                                                                    fill=scenes.BACKGROUND)[1])
  fractions = np.linspace(0.0, 1.0, c.deletion_steps + 1)
  occlude = jax.jit(lambda img, lab: occlusion.occlusion_map(prob_fn, img, lab, c.patch, c.stride, fill=scenes.BACKGROUND))
  for method in saliency.METHODS:
    kwargs = {"num_samples": c.smoothgrad_samples} if method == "smoothgrad" else (
        {"steps": c.ig_steps} if method == "integrated_gradients" else {})
    attr = jax.jit(lambda z, m=method, kw=kwargs: saliency.attribute(m, fn, z, y, key=jax.random.PRNGKey(seed),
                                                                     guided_logits_fn=guided_fn, **kw))(x)
    smap = np.asarray(saliency.saliency_map(attr))
    inside = (smap * masks).reshape(len(masks), -1).sum(1) / np.maximum(smap.reshape(len(masks), -1).sum(1), 1e-12)
    ratio = inside / area
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
    heat = np.asarray(occlude(x[i], y[i]))
    pos = occlusion.positions(c.size, c.patch, c.stride) + c.patch // 2
    centre_on = masks[i][np.ix_(pos, pos)]
    on.append(heat[centre_on].mean() if centre_on.any() else np.nan)
    off.append(heat[~centre_on].mean())
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


def digits_figures(images: np.ndarray, res: dict[str, Any], path: epath.Path) -> None:
  """vis_digits_classvis.png (one image per class, with its softmax) and vis_accuracy_vs_epsilon.png."""
  from cs231n_jax import plotting

  fig, axes = plotting.subplots(1, 10, figsize=(12, 1.8))
  for c, ax in enumerate(axes):
    ax.imshow(images[c, ..., 0], cmap="gray", vmin=0, vmax=1)
    ax.set_title(f"{c}: p={res['classvis_target_softmax'][c]:.3f}", fontsize=8)
    ax.axis("off")
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
      images = res.pop("classvis_images")
      with (path / "classvis_digits.npy").open("wb") as f:
        np.save(f, images)
      digits_figures(images, res, path)
    elif part == "pretrained_fooling":
      res = pretrained_fooling_part(config.pretrained_fooling, config.seed)
    elif part == "scenes":
      res = scenes_part(config.scenes, config.seed, workdir)
    elif part == "transfer":
      res = transfer_part(config.transfer, config.seed, workdir)
    else:
      raise ValueError(f"parts: unknown part {part!r}; expected digits, pretrained_fooling, scenes, transfer")
    out[part] = res
    print(part, json.dumps(res, indent=1, default=float))
    (path / f"{part}.json").write_text(json.dumps(res, indent=1, default=float))
  return out


