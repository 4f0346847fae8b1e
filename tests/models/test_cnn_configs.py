"""The CNN (and ViT) experiment configs: each documents its command and expected result, builds its model and
optimizer, and the paper recipes have the papers' schedules. (Training them is the smoke runs in
docs/results.md and the notebook test.)"""

from pathlib import Path

import jax
import jax.numpy as jnp
import pytest

from cs231n_jax import optim
from cs231n_jax.config import describe, load_config
from cs231n_jax.models import analysis
from cs231n_jax.optim.schedules import make_schedule
from cs231n_jax.tasks.classification import build_model, check_config

CONFIG_DIR = Path(__file__).parents[2] / "experiments" / "configs" / "cnn"
CONFIGS = sorted(CONFIG_DIR.glob("*.py"))
DIGITS_SHAPE = (32, 32, 3)


def test_every_family_has_a_digits_config():
  names = {load_config(p).model.name for p in CONFIGS if p.stem.endswith("_digits")}
  assert names == {"alexnet", "vgg11", "googlenet_torchvision", "resnet20", "densenet_bc100_12", "squeezenet1_1",
                   "nin_cifar", "mobilenet", "fractalnet20", "vit_tiny"}


@pytest.mark.parametrize("path", CONFIGS, ids=[p.stem for p in CONFIGS])
def test_config_documents_itself_and_builds(path):
  info = describe(path)
  assert info["description"] and f"--config experiments/configs/cnn/{path.name}" in info["command"]
  assert info["expected"] and "to be measured" not in info["expected"]
  config = load_config(path)
  check_config(config)
  model = build_model(config.model, 10 if config.data.name != "tfds" else 1000, config.train.compute_dtype)
  shape = DIGITS_SHAPE if config.data.name in ("digits", "cifar10") else (224, 224, 3)
  if config.data.get("view") == "8x8x1":  # the ViT reads the plain 8x8 digits
    shape = (8, 8, 1)
  assert analysis.param_count(model, shape) > 0
  train_examples = 1_281_167 if config.data.name == "tfds" else 1_257  # ImageNet / digits
  steps = config.train.num_steps or config.train.num_epochs * -(-train_examples // config.train.batch_size)
  optim.make_optimizer(config.optimizer, steps)


@pytest.mark.parametrize("depth", [20, 56])
def test_cifar_resnet_recipe_is_the_papers(depth):
  c = load_config(f"{CONFIG_DIR}/resnet_cifar10.py:{depth}")
  assert c.model.name == f"resnet{depth}" and c.train.batch_size == 128 and c.train.num_steps == 64_000
  assert c.optimizer.name == "momentum" and c.optimizer.momentum == 0.9
  assert 2 * c.optimizer.l2 == 1e-4  # weight decay 1e-4: the gradient of l2 * w^2 is 2 * l2 * w
  lr = make_schedule(c.optimizer.schedule, c.optimizer.learning_rate, c.train.num_steps)
  assert [round(float(lr(s)), 6) for s in (0, 31_999, 32_000, 47_999, 48_000, 63_999)] == [
      0.1, 0.1, 0.01, 0.01, 0.001, 0.001]
  assert c.data.augment == "crop(padding=4) | flip" and c.data.num_validation == 5000


def test_imagenet_resnet50_recipe_scales_the_learning_rate_linearly():
  c = load_config(CONFIG_DIR / "resnet50_imagenet.py")
  assert c.data.tfds_name == "imagenet2012" and c.train.num_epochs == 90 and c.train.batch_size == 1024
  assert c.train.compute_dtype == "bfloat16" and c.train.step == "sharded"
  per_epoch = -(-1_281_167 // 1024)
  lr = make_schedule(c.optimizer.schedule, c.optimizer.learning_rate, 90 * per_epoch)
  at = lambda epoch: round(float(lr(int(epoch * per_epoch))), 6)
  assert c.optimizer.learning_rate == pytest.approx(0.4)  # 0.1 x 1024 / 256
  assert at(0) == 0.0 and at(5) == 0.4 and at(29.9) == 0.4
  assert at(30) == 0.04 and at(60) == 0.004 and at(80) == 0.0004
  model = build_model(c.model, 1000, c.train.compute_dtype)
  assert model.dtype == jnp.bfloat16
  variables = analysis.init_shapes(model, (224, 224, 3))
  assert {x.dtype for x in jax.tree.leaves(variables["params"])} == {jnp.dtype(jnp.float32)}
