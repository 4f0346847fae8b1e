"""The pretrained-backbone option of the detectors (cs231n_jax.detection.backbones): the cut network equals the
pretrained network's own eval-mode activations, the task loads the converted weights, and freezing keeps them."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from cs231n_jax.detection import backbones
from cs231n_jax.errors import ConfigError
from cs231n_jax.pretrained import networks
from cs231n_jax.tasks import detection as T


@pytest.mark.parametrize("name,blocks,layer,stride,channels", [("mobilenet_v2", 6, "block_6", 8, 32),
                                                                ("efficientnet_lite0", 5, "blocks_4", 8, 40)])
def test_cut_network_equals_the_pretrained_networks_activations(name, blocks, layer, stride, channels):
  variables = networks.convert(name)
  x = jnp.asarray(np.random.default_rng(0).uniform(0, 1, (2, 56, 56, 3)), jnp.float32)
  full = networks.MODEL_CLASSES[name]()
  _, state = full.apply(variables, networks.preprocess(name, x), train=False, capture_intermediates=True)
  reference = np.asarray(state["intermediates"][layer]["__call__"][0])
  params = backbones.pretrained_params(name, blocks, variables)
  ours = np.asarray(backbones.PretrainedFeatures(name, blocks).apply({"params": params}, x))
  assert ours.shape == (2, 56 // stride, 56 // stride, channels) == reference.shape
  assert backbones.pretrained_stride(name, blocks) == stride and backbones.pretrained_channels(name, blocks) == channels
  np.testing.assert_allclose(ours, reference, atol=1e-4 * np.abs(reference).max())


def tiny_config(freeze: bool):
  c = T.base_config("single_shot")
  c.data.update({"num_train": 4, "num_val": 2, "num_test": 2})
  c.model.kwargs = {"backbone": "mobilenet_v2", "backbone_blocks": 6, "freeze_backbone": freeze, "head_width": 16}
  c.train.batch_size = 2
  return c


@pytest.mark.parametrize("freeze", [True, False])
def test_single_shot_on_mobilenet_loads_the_weights_and_freezing_keeps_them(freeze):
  task, data, model, names = T.build(tiny_config(freeze))
  state = task.init(jax.random.PRNGKey(0), None)
  expected = backbones.pretrained_params("mobilenet_v2", 6)
  assert jax.tree.all(jax.tree.map(lambda a, b: bool(jnp.array_equal(a, b)), state["params"]["backbone"], expected))
  batch = dict(data.train.source.get_batch(np.arange(2)))
  batch["mask"] = np.ones(2, np.float32)
  out = model.apply({"params": state["params"]}, batch["image"])
  assert out.shape == (2, 7, 7, 5 * 3 + len(names))
  new, metrics = jax.jit(task.train_step)(state, batch, jax.random.PRNGKey(1))
  assert np.isfinite(float(metrics["loss"]))
  changed = jax.tree.map(lambda a, b: bool(jnp.any(a != b)), state["params"], new["params"])
  assert changed["out"]["kernel"] and changed["head"]["kernel"]  # the head trains either way
  moved = jax.tree.leaves(changed["backbone"])
  assert (not any(moved)) if freeze else (sum(moved) > len(moved) // 2)


def test_bad_backbones_are_named():
  c = tiny_config(False)
  c.model.kwargs.backbone = "resnet50"
  with pytest.raises(ConfigError, match="model.kwargs.backbone"):
    T.build(c)
  c = tiny_config(False)
  c.model.kwargs.backbone_blocks = 3  # stride 4, but the single shot's task.stride is 8
  with pytest.raises(ConfigError, match="task.stride"):
    T.build(c)
  with pytest.raises(ConfigError, match="backbone_blocks"):
    backbones.pretrained_stride("mobilenet_v2", 40)


def test_classify_localize_class_head_on_pooled_features():
  from cs231n_jax.detection.detectors import ClassifyLocalize

  x = jnp.zeros((2, 56, 56, 3))
  model = ClassifyLocalize(num_classes=5, widths=(4, 8), hidden=6, group_norm=2, class_pool="max")
  variables = model.init(jax.random.PRNGKey(0), x)
  out = model.apply(variables, x)
  assert out["logits"].shape == (2, 5) and out["box"].shape == (2, 4)
  assert variables["params"]["class_fc"]["kernel"].shape == (8, 6)  # pooled channels, not the flattened map
  assert variables["params"]["fc"]["kernel"].shape == (28 * 28 * 8, 6)  # the box head keeps the positions
  with pytest.raises(ConfigError, match="class_pool"):
    ClassifyLocalize(widths=(4,), class_pool="sum").init(jax.random.PRNGKey(0), x)
