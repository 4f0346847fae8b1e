"""The segmentation task through the engine: models' shapes, mIoU / pixel accuracy sums against NumPy, a tiny overfit."""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from PIL import Image

from cs231n_jax.data import scenes as S
from cs231n_jax.detection import cli, segmenters
from cs231n_jax.errors import ConfigError, DataError
from cs231n_jax.models.registry import get_model, list_models
from cs231n_jax.tasks import segmentation as T

UNPOOL_KW = {"widths": (4, 8, 8), "upsample": "unpool"}


@pytest.fixture(scope="module")
def unpool_net():
  """The unpooling encoder-decoder at toy widths and its parameters (initialised once for the module)."""
  model = get_model("encoder_decoder", num_classes=5, **UNPOOL_KW)
  return model, model.init(jax.random.PRNGKey(0), jnp.zeros((2, 16, 16, 3)))["params"]


def test_segment_family_models_map_images_to_pixel_scores(unpool_net):
  assert {"fcn_flat", "encoder_decoder", "unet", "sliding_window"} <= set(list_models("segment"))
  x = jnp.zeros((2, 16, 16, 3))
  for name, kw in [("fcn_flat", {"depth": 2, "width": 4}), ("encoder_decoder", {"widths": (4, 8, 8), "upsample": "transpose"}),
                   ("encoder_decoder", UNPOOL_KW), ("unet", {"widths": (4, 8, 8)}),
                   ("sliding_window", {"patch": 5, "width": 4, "depth": 2})]:
    if kw is UNPOOL_KW:
      model, params = unpool_net
    else:
      model = get_model(name, num_classes=5, **kw)
      params = model.init(jax.random.PRNGKey(0), x)["params"]
    assert model.apply({"params": params}, x).shape == (2, 16, 16, 5), name


def test_sliding_window_costs_more_than_the_fcn():
  flat = get_model("fcn_flat", num_classes=4, width=8, depth=3)
  slide = get_model("sliding_window", num_classes=4, width=8, depth=3, patch=7)
  x = jnp.zeros((1, 16, 16, 3))
  f1 = segmenters.count_flops(flat, flat.init(jax.random.PRNGKey(0), x)["params"], x.shape)
  f2 = segmenters.count_flops(slide, slide.init(jax.random.PRNGKey(0), x)["params"], x.shape)
  assert f2 > 20 * f1 > 0  # every 7x7 crop recomputes what its neighbours computed


def test_miou_and_pixel_accuracy_sums_equal_numpy():
  rng = np.random.default_rng(0)
  labels = rng.integers(0, 4, (3, 8, 8))
  logits = rng.normal(size=(3, 8, 8, 4)).astype(np.float32)
  mask = np.array([1.0, 1.0, 0.0], np.float32)
  out = T.summarize(jax.tree.map(np.asarray, T.segmentation_sums(logits, labels, mask, 4)))
  pred = logits.argmax(-1)[:2]
  lab = labels[:2]
  ious = [((pred == c) & (lab == c)).sum() / ((pred == c) | (lab == c)).sum() for c in range(4)]
  assert out["miou"] == pytest.approx(np.mean(ious)) and out["miou_fg"] == pytest.approx(np.mean(ious[1:]))
  assert out["pixel_accuracy"] == pytest.approx((pred == lab).mean())


def test_tiny_run_through_the_engine_learns_and_the_cli_runs_it(tmp_path, capsys):
  c = T.scenes_config("encoder_decoder", widths=(8, 16, 16), upsample="unpool")
  c.data.update({"num_train": 16, "num_val": 8, "num_test": 8})
  c.optimizer.learning_rate = 5e-3
  c.train.update({"batch_size": 8, "num_steps": 20, "eval_every": 20, "log_every": 5, "progress": False})
  results = T.run(c, str(tmp_path))
  assert results["steps"] == 20 and results["val_loss"] < np.log(4) - 0.3  # well below chance (4 classes)
  assert 0.0 < results["val_miou"] <= 1.0 and 0.0 < results["test_pixel_accuracy"] <= 1.0
  # cs231n-jax segment on that workdir: the image beside its label map
  scene = S.detection_scenes(1, seed=9, size=56, classes="shapes", split="test").images[0]
  Image.fromarray((scene * 255).astype(np.uint8)).save(tmp_path / "scene.png")
  assert cli.segment_main(["--workdir", str(tmp_path), "--image", str(tmp_path / "scene.png"), "--out", str(tmp_path / "o.png")]) == 0
  assert Image.open(tmp_path / "o.png").size == (112, 56)
  assert "label map ->" in capsys.readouterr().out
  with pytest.raises(DataError, match="needs 'cs231n_jax.tasks.detection:run'"):
    cli.detect_main(["--workdir", str(tmp_path), "--image", str(tmp_path / "scene.png"), "--out", str(tmp_path / "x.png")])


def test_bad_config_is_named():
  c = T.scenes_config("resnet20")
  with pytest.raises(ConfigError, match="model.name: expected a 'segment' model"):
    T.build(c)
  c = T.scenes_config("unet")
  c.data.name = "pascal"
  with pytest.raises(ConfigError, match="data.name"):
    T.build(c)


def test_unpool_decoder_convolves_the_sparse_map_at_the_encoders_switches(unpool_net):
  """SegNet's decoder: the 3x3 conv after max unpooling sees each value at its encoder pooling's argmax
  (switches recomputed here in NumPy from the encoder's features) and zeros at the other 3 of each 2x2 block."""
  model, params = unpool_net
  x = jax.random.uniform(jax.random.PRNGKey(1), (2, 16, 16, 3))
  seen = {}

  def record(next_fun, args, kwargs, context):
    out = next_fun(*args, **kwargs)
    if context.method_name == "__call__" and context.module.name in ("down0_1", "squeeze0", "dec0_0"):
      seen[context.module.name] = (np.asarray(args[0]), np.asarray(out))
    return out

  with nn.intercept_methods(record):
    model.apply({"params": params}, x)
  encoder = np.maximum(seen["down0_1"][1], 0.0)  # the features that were max pooled (after ReLU), (2, 16, 16, 4)
  squeezed = seen["squeeze0"][1]  # (2, 8, 8, 4): the values to unpool
  unpooled = seen["dec0_0"][0]  # the decoder conv's input, (2, 16, 16, 4)
  blocks = encoder.reshape(2, 8, 2, 8, 2, 4).transpose(0, 1, 3, 5, 2, 4).reshape(2, 8, 8, 4, 4)
  expected = np.zeros((2, 8, 8, 4, 4), np.float32)
  np.put_along_axis(expected, blocks.argmax(-1)[..., None], squeezed[..., None], -1)
  expected = expected.reshape(2, 8, 8, 4, 2, 2).transpose(0, 1, 4, 2, 5, 3).reshape(2, 16, 16, 4)
  np.testing.assert_allclose(unpooled, expected, rtol=1e-6, atol=1e-7)
  assert 0 < (unpooled != 0).sum() <= unpooled.size // 4


def test_detections_under_one_pixel_are_drawn_not_rejected():
  """A box clipped to zero height at the image edge (as a trained single shot produced) is outlined as a line;
  PIL rejects a rectangle whose corner is left of / above its origin."""
  image = np.zeros((8, 8, 3), np.float32)
  boxes = np.array([[2.0, 8.0, 6.0, 8.0], [1.0, 1.0, 1.1, 5.0], [0.0, 0.0, 4.0, 4.0]])
  drawn = cli.draw_detections(image, boxes, np.ones(3), np.zeros(3, int), ["a"], scale=4)
  assert drawn.shape == (32, 32, 3)
  assert drawn[0, 0].any() and drawn[31, 8:24].any()  # the whole box's corner and the flat box along the bottom edge
