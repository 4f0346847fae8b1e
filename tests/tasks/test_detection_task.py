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


def test_tiny_run_scores_with_both_maps_and_the_cli_draws_it(tmp_path, capsys):
  c = T.base_config("single_shot")
  c.data.update({"num_train": 16, "num_val": 8, "num_test": 8})
  c.model.kwargs = {"widths": (8, 8, 16, 16), "head_width": 16}
  c.train.update({"batch_size": 8, "num_steps": 4, "eval_every": 4, "progress": False})
  c.task.score_threshold = 0.0
  r = T.run(c, str(tmp_path))
  assert r["steps"] == 4 and np.isfinite(r["val_loss"])
  for split in ("val", "test"):
    assert abs(r[f"{split}_map50"] - r[f"{split}_cocoeval_map50"]) < 1e-6
    assert abs(r[f"{split}_map"] - r[f"{split}_cocoeval_map"]) < 1e-6
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
