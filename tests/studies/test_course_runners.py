"""The lecture 2-5 experiment configs: each loads, documents itself, and its runner works end to end
on the embedded digits (shortened with the same overrides a user would pass on the command line)."""

from pathlib import Path

import pytest

from cs231n_jax.cli import run_experiment
from cs231n_jax.config import apply_overrides, describe, load_config, resolve_runner
from cs231n_jax.errors import ConfigError

CONFIGS = Path(__file__).parents[2] / "experiments" / "configs" / "course"
NAMES = ["knn", "linear.py:svm", "linear.py:softmax", "two_layer_net", "fc_net_bn_dropout", "three_layer_convnet", "features"]


def config_path(name):
  file, _, variant = name.partition(".py:")
  return (CONFIGS / f"{file}.py", variant or None)


@pytest.mark.parametrize("name", NAMES)
def test_config_documents_its_command_and_measured_result(name):
  path, variant = config_path(name)
  info = describe(path, variant)
  assert info["command"].startswith(f"cs231n-jax train --config experiments/configs/course/{path.name}"
                                    + (f":{variant} " if variant else ""))
  assert "digits" in info["expected"] and "TBD" not in path.read_text()
  assert "cifar10" in path.read_text()  # says how to run it on real CIFAR-10
  config = load_config(f"{path}:{variant}" if variant else path)
  assert callable(resolve_runner(config))
  apply_overrides(config, ["data.name=cifar10", "data.dir=/data/cifar"])  # the documented flags exist


def run(name, tmp_path, *overrides):
  path, variant = config_path(name)
  config = apply_overrides(load_config(f"{path}:{variant}" if variant else path), list(overrides))
  return resolve_runner(config)(config, str(tmp_path))


@pytest.mark.slow
def test_knn_runner(tmp_path):
  r = run("knn", tmp_path, "knn.k_choices=(1, 3)", "knn.num_folds=3", "knn.metrics=('l2',)")
  assert r["best_k"] in (1, 3) and r["train_accuracy_k1"] == 1.0 and r["test_accuracy"] > 0.95
  assert Path(r["plot"]).exists() and set(r["cross_validation"]["l2"]) == {"1", "3"}


@pytest.mark.parametrize("name", ["linear.py:svm", "linear.py:softmax"])
def test_linear_runner(tmp_path, name):
  r = run(name, tmp_path, "linear.learning_rates=(0.1,)", "linear.regularization_strengths=(1e-4,)", "linear.num_iters=200")
  assert r["val_accuracy"] > 0.85 and r["test_accuracy"] > 0.85 and Path(r["plot"]).exists()


@pytest.mark.slow
def test_solver_runner_search_and_cli_results(tmp_path):
  # Through the CLI's own entry point, which writes results.json.
  results = run_experiment(str(CONFIGS / "two_layer_net.py"), str(tmp_path), [
      "search.hidden_dim=(20,)", "search.learning_rate=(0.5, 1.0)", "search.reg=(1e-3,)", "solver.num_epochs=2"])
  assert len(results["trials"]) == 2 and results["best"]["hidden_dim"] == 20
  assert results["val_accuracy"] == max(t["val_accuracy"] for t in results["trials"]) > 0.8
  assert (tmp_path / "results.json").exists() and (tmp_path / "training_curves.png").exists()


@pytest.mark.slow
@pytest.mark.parametrize("name,overrides", [
    ("fc_net_bn_dropout", ["solver.num_epochs=2"]),
    ("three_layer_convnet", ["solver.num_epochs=1", "model.num_filters=8"]),
])
def test_network_runners(tmp_path, name, overrides):
  r = run(name, tmp_path, *overrides)
  assert r["epochs"] == int(overrides[0].split("=")[1]) and 0.5 < r["test_accuracy"] <= 1.0


@pytest.mark.slow
def test_features_runner(tmp_path):
  # The 8x8 view with 4x4-pixel HOG cells keeps this quick: 2x2 cells x 9 bins, grey, so no hue.
  short = ["data.view=8x8x1", "features.hog_cell=4"]
  for block in ("linear_features", "linear_pixels"):
    short += [f"{block}.learning_rates=(0.01,)", f"{block}.regularization_strengths=(1e-4,)", f"{block}.num_iters=100"]
  for block in ("net_features", "net_pixels"):
    short += [f"{block}.solver.num_epochs=1"]
  r = run("features", tmp_path, *short)
  assert r["feature_dim"] == 2 * 2 * 9 and r["pixel_dim"] == 64
  assert r["linear_features"]["test_accuracy"] > 0.8


def test_bad_runner_configs(tmp_path):
  with pytest.raises(ConfigError, match="model.name"):
    run("two_layer_net", tmp_path, "model.name=ResNet", "search.hidden_dim=(10,)")
  config = load_config(CONFIGS / "two_layer_net.py")
  config.search.width = (3,)
  with pytest.raises(ConfigError, match="search.width"):
    resolve_runner(config)(config, str(tmp_path))
  with pytest.raises(ConfigError, match="linear.loss"):
    run("linear.py:svm", tmp_path, "linear.loss=hinge")


def fake_cifar10(root, per_batch=20):
  """A tiny data set in the real cifar-10-batches-py format (random pixels and labels)."""
  import pickle

  import numpy as np

  folder = root / "cifar-10-batches-py"
  folder.mkdir(parents=True)
  rng = np.random.default_rng(0)
  for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
    with open(folder / name, "wb") as f:
      pickle.dump({b"data": rng.integers(0, 256, (per_batch, 3072), dtype=np.uint8),
                   b"labels": [int(v) for v in rng.integers(0, 10, per_batch)]}, f)
  with open(folder / "batches.meta", "wb") as f:
    pickle.dump({b"label_names": [f"class{i}".encode() for i in range(10)]}, f)
  return root


@pytest.mark.slow
@pytest.mark.parametrize("name,overrides", [
    ("knn", ["knn.k_choices=(1, 3)", "knn.num_folds=3", "knn.num_train=60", "knn.num_test=10"]),
    ("linear.py:svm", ["data.scale=False", "linear.learning_rates=(1e-7,)", "linear.regularization_strengths=(2.5e4,)",
                    "linear.num_iters=20"]),
    ("three_layer_convnet", ["model.num_filters=4", "model.filter_size=7", "solver.num_epochs=1", "solver.batch_size=20"]),
])
def test_configs_run_on_cifar10_format_data(tmp_path, name, overrides):
  data_dir = fake_cifar10(tmp_path / "data")
  r = run(name, tmp_path / "work", "data.name=cifar10", f"data.dir={data_dir}", "data.num_validation=20", *overrides)
  assert 0.0 <= r["test_accuracy"] <= 1.0
