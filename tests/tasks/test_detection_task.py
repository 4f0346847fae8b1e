"""The detection tasks: single-shot targets decode back to the ground truth, static shapes (no recompiles),
classification + localization's loss, and a tiny run through the engine scored by both mAPs."""

from __future__ import annotations

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from PIL import Image

from cs231n_jax.data import scenes as S
from cs231n_jax.detection import cli, metrics
from cs231n_jax.errors import ConfigError, DataError
from cs231n_jax.tasks import detection as T


@pytest.fixture(scope="module")
def scenes():
  return S.detection_scenes(12, seed=0, size=56, max_objects=6, classes="all", split="val")


def perfect_output(conf_t, delta_t, cls_t, num_classes):
  """The head output a perfect single-shot detector would give for these targets."""
  n, s, _, b = conf_t.shape
  boxes = jnp.concatenate([delta_t, (conf_t * 20 - 10)[..., None]], -1).reshape(n, s, s, 5 * b)
  cls = jax.nn.one_hot(jnp.maximum(cls_t, 0), num_classes) * 20
  return jnp.concatenate([boxes, cls], -1)


def test_single_shot_targets_decode_to_the_ground_truth(scenes):
  c = T.base_config()
  t = c.task
  anchors = T.grid_anchors(56, t)
  assert anchors.shape == (7, 7, 3, 4)
  # one box: centre (20, 44) is cell (row 5, col 2); 18 pixels wide -> the 20-pixel base box
  conf, deltas, cls = T.single_shot_targets(jnp.array([[11.0, 35, 29, 53], [0, 0, 0, 0]]), jnp.array([4, -1]),
                                            jnp.array([True, False]), anchors, 8, t.anchor_sizes)
  assert float(conf.sum()) == 1.0 and float(conf[5, 2, 1]) == 1.0 and int(cls[5, 2]) == 4 and int((cls >= 0).sum()) == 1
  conf_t, delta_t, cls_t = jax.vmap(lambda b, l, v: T.single_shot_targets(b, l, v, anchors, 8, t.anchor_sizes))(
      scenes.boxes, scenes.labels, scenes.valid)
  out = perfect_output(conf_t, delta_t, cls_t, 13)
  boxes, scores, labels, valid = jax.jit(lambda o: T.single_shot_detect(o, anchors, t, 3, 56))(out)
  # every object whose cell it does not share with another is found exactly
  result = metrics.mean_average_precision(scenes.boxes, scenes.labels, scenes.valid, np.asarray(boxes), np.asarray(scores),
                                          np.asarray(labels), np.asarray(valid), num_classes=13)
  assert result["map50"] > 0.9 and result["map75"] > 0.9
  loss = T.single_shot_loss(out, {"boxes": scenes.boxes, "labels": scenes.labels, "valid": scenes.valid}, anchors, t, 3)
  assert float(loss.max()) < 0.01  # the perfect output costs (almost) nothing


def test_batches_with_different_numbers_of_objects_compile_once(scenes):
  t = T.base_config().task
  anchors = T.grid_anchors(56, t)
  c = T.base_config()
  c.model.kwargs = {"widths": (8, 8, 16, 16), "head_width": 16}
  model = T.build_model(c, 13)
  params = model.init(jax.random.PRNGKey(0), jnp.zeros((1, 56, 56, 3)))["params"]

  @jax.jit
  @chex.assert_max_traces(n=1)  # a second trace (a new shape or static value) raises
  def step(params, batch):
    return jnp.mean(T.single_shot_loss(model.apply({"params": params}, batch["image"]), batch, anchors, t, 3))

  counts = set()
  for k in range(3):
    sl = slice(4 * k, 4 * k + 4)
    counts.add(int(scenes.valid[sl].sum()))
    step(params, {"image": scenes.images[sl], "boxes": scenes.boxes[sl], "labels": scenes.labels[sl], "valid": scenes.valid[sl]})
  assert len(counts) > 1  # the batches really held different numbers of objects


def test_classify_localize_loss_is_softmax_plus_l2():
  out = {"logits": jnp.array([[2.0, 0.0, -1.0]]), "box": jnp.array([[0.1, 0.2, 0.5, 0.6]])}
  batch = {"labels": jnp.array([[0]]), "boxes": jnp.array([[[5.6, 11.2, 28.0, 28.0]]])}
  ce = -jax.nn.log_softmax(out["logits"])[0, 0]
  l2 = (0.1 - 0.1) ** 2 + (0.2 - 0.2) ** 2 + (0.5 - 0.5) ** 2 + (0.6 - 0.5) ** 2
  np.testing.assert_allclose(T.classify_localize_loss(out, batch, 56, 2.0), [ce + 2.0 * l2], rtol=1e-5)


def test_tiny_run_overfits_scores_with_both_maps_and_the_cli_draws_it(tmp_path, capsys):
  """A tiny single shot with per-anchor classes (and a class weight) trained through the engine learns its 8
  training scenes; both mAPs agree on val / test; the CLI restores and draws the workdir."""
  c = T.base_config("single_shot")
  c.data.update({"num_train": 8, "num_val": 8, "num_test": 8})
  c.model.kwargs = {"widths": (8, 16, 16, 32), "head_width": 32, "group_norm": 4}
  c.task.update({"class_per_anchor": True, "class_weight": 2.0, "score_threshold": 0.0})
  c.optimizer.learning_rate = 3e-3
  c.train.update({"batch_size": 8, "num_steps": 150, "eval_every": 150, "log_every": 150, "progress": False})
  r = T.run(c, str(tmp_path))
  assert r["steps"] == 150 and np.isfinite(r["val_loss"])
  for split in ("val", "test"):
    assert abs(r[f"{split}_map50"] - r[f"{split}_cocoeval_map50"]) < 1e-6
    assert abs(r[f"{split}_map"] - r[f"{split}_cocoeval_map"]) < 1e-6
  config, model, params, _, size = cli.restore(str(tmp_path), "detect")
  train = S.detection_scenes(8, seed=0, size=56, max_objects=6, classes="all", split="train")  # the run's training split
  dets = [np.asarray(a) for a in jax.jit(lambda p, im: T.detect(model, p, im, config, size))(params, train.images)]
  overfit = metrics.mean_average_precision(train.boxes, train.labels, train.valid, *dets, num_classes=13)
  assert overfit["map50"] > 0.9, overfit  # 0.959 measured (100 steps: 0.829)
  # cs231n-jax detect on that workdir: a PNG four times the model's input size
  scene = S.detection_scenes(1, seed=9, size=56, classes="all", split="test").images[0]
  Image.fromarray((scene * 255).astype(np.uint8)).resize((80, 80)).save(tmp_path / "scene.png")
  assert cli.detect_main(["--workdir", str(tmp_path), "--image", str(tmp_path / "scene.png"), "--out",
                          str(tmp_path / "out.png"), "--min-score", "0"]) == 0
  assert Image.open(tmp_path / "out.png").size == (224, 224)
  assert "detections ->" in capsys.readouterr().out
  with pytest.raises(DataError, match="--image"):
    cli.detect_main(["--workdir", str(tmp_path), "--image", str(tmp_path / "none.png"), "--out", str(tmp_path / "x.png")])


def test_bad_configs_are_named():
  c = T.base_config("single_shot")
  c.model.name = "unet"
  with pytest.raises(ConfigError, match="model.name"):
    T.build(c)
  c = T.base_config("classify_localize")
  c.data.max_objects = 3
  with pytest.raises(ConfigError, match="data.max_objects"):
    T.build(c)


def test_per_anchor_classes_keep_two_objects_of_one_cell(scenes):
  """YOLOv2 / SSD class scores per base box: two objects centred in one cell, matched to different base boxes,
  keep both classes (the lecture's per-cell scores keep only the later one); the perfect output decodes to
  the ground truth and costs nothing."""
  t = T.base_config().task
  t.class_per_anchor = True
  anchors = T.grid_anchors(56, t)
  # both centres in cell (row 2, col 2): a 10-pixel box (12-pixel base box) and a 28-pixel box (30-pixel base box)
  two = jnp.array([[15.0, 15, 25, 25], [6, 6, 34, 34]])
  labels, valid = jnp.array([7, 2]), jnp.array([True, True])
  conf, _, cls = T.single_shot_targets(two, labels, valid, anchors, 8, t.anchor_sizes, class_per_anchor=True)
  assert cls.shape == (7, 7, 3) and float(conf[2, 2, 0]) == 1.0 and float(conf[2, 2, 2]) == 1.0
  assert int(cls[2, 2, 0]) == 7 and int(cls[2, 2, 2]) == 2 and int((cls >= 0).sum()) == 2
  _, _, per_cell = T.single_shot_targets(two, labels, valid, anchors, 8, t.anchor_sizes)
  assert per_cell.shape == (7, 7) and int((per_cell >= 0).sum()) == 1  # one class for the cell
  conf_t, delta_t, cls_t = jax.vmap(lambda b, l, v: T.single_shot_targets(b, l, v, anchors, 8, t.anchor_sizes, True))(
      scenes.boxes, scenes.labels, scenes.valid)
  n = len(conf_t)
  out = jnp.concatenate([delta_t, (conf_t * 20 - 10)[..., None], jax.nn.one_hot(jnp.maximum(cls_t, 0), 13) * 20], -1)
  out = out.reshape(n, 7, 7, 3 * 18)
  detect = jax.jit(lambda o: T.single_shot_detect(o, anchors, t, 3, 56))
  dets = [np.asarray(a) for a in detect(out)]
  result = metrics.mean_average_precision(scenes.boxes, scenes.labels, scenes.valid, *dets, num_classes=13)
  assert result["map50"] > 0.9
  # a confident base box decoded wholly left of the image clips to zero width: it is no detection
  r, col, k = (int(v[0]) for v in np.nonzero(np.asarray(conf_t[0]) == 0))
  stray = out.reshape(n, 7, 7, 3, 18).at[0, r, col, k, :5].set(jnp.array([-20.0, 0, 0, 0, 10])).reshape(out.shape)
  stray_dets = [np.asarray(a) for a in detect(stray)]
  kept = stray_dets[0][0][stray_dets[3][0]]
  assert len(kept) == int(dets[3][0].sum()) and np.all(kept[:, 2] - kept[:, 0] >= T.MIN_BOX_SIDE)
  loss = T.single_shot_loss(out, {"boxes": scenes.boxes, "labels": scenes.labels, "valid": scenes.valid}, anchors, t, 3)
  assert float(loss.max()) < 0.01
  t.class_weight = 3.0  # a wrong class costs class_weight x its cross-entropy over the number of boxes
  wrong = out.reshape(n, 7, 7, 3, 18).at[..., 5:].set(0.0).reshape(n, 7, 7, -1)  # uniform class scores
  batch = {"boxes": scenes.boxes, "labels": scenes.labels, "valid": scenes.valid}
  np.testing.assert_allclose(T.single_shot_loss(wrong, batch, anchors, t, 3), 3.0 * np.log(13) + loss, rtol=1e-4)



def test_config_digit_distort_reaches_the_train_split_only():
  """``data.digit_distort`` in a config warps the train split's digits (as the scene generator's own option does)
  and leaves val / test as they were; a bad range is named."""
  def splits(distort):
    c = T.base_config("classify_localize")
    c.data.update({"num_train": 6, "num_val": 3, "num_test": 3})
    if distort is not None:
      c.data.digit_distort = distort
    return T.load_splits(c)[0]

  plain, warped = splits(None), splits({"rotate_deg": 12.0, "shear": 0.15, "scale": 0.1})
  np.testing.assert_array_equal(plain["test"]["image"], warped["test"]["image"])
  np.testing.assert_array_equal(plain["train"]["labels"], warped["train"]["labels"])
  digits = plain["train"]["labels"][:, 0] >= 3  # classes 0-2 are the shapes
  assert digits.any()
  changed = np.abs(plain["train"]["image"] - warped["train"]["image"]).reshape(6, -1).max(1) > 0
  np.testing.assert_array_equal(changed, digits)
  with pytest.raises(DataError, match="digit_distort.rotate_deg"):
    splits({"rotate_deg": 90.0})
