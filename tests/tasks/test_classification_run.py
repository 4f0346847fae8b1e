"""Classification through the engine on the embedded digits: results, artefacts, best params,
resume, divergence, transfer, config errors."""

import json

import numpy as np
import pytest

from cs231n_jax.config import apply_overrides
from cs231n_jax.errors import CheckpointError, ConfigError
from cs231n_jax.tasks.classification import base_config, build
from cs231n_jax.tasks.classification import evaluate as evaluate_run
from cs231n_jax.tasks.classification import run as fit
from cs231n_jax.train.checkpoint import CheckpointManager
from cs231n_jax.train.loop import TrainingDiverged
from cs231n_jax.train.metrics import read_jsonl
from cs231n_jax.train.steps import init_key


def initial_state(config):
  """The TrainState a run of ``config`` starts from (after ``train.init_from``, if set)."""
  task, data, _ = build(config)
  return task.init(init_key(config.seed), data.example)


def small_config(**overrides):
  c = base_config()
  c.model = {"name": "fc_net", "hidden_dims": (32,), "normalization": "batch"}
  c.optimizer.learning_rate = 0.05
  c.train.batch_size = 64
  c.train.num_steps = 60
  c.train.eval_every = 20
  c.train.log_every = 10
  c.train.progress = False
  return apply_overrides(c, [f"{k}={v}" for k, v in overrides.items()])


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
  workdir = tmp_path_factory.mktemp("fit")
  return small_config(), workdir, fit(small_config(), str(workdir))


def test_trains_and_writes_everything(finished_run):
  config, workdir, results = finished_run
  assert results["status"] == "trained" and results["steps"] == 60
  assert results["test_accuracy"] > 0.85  # chance is 0.1
  records = read_jsonl(workdir / "metrics.jsonl")
  train = [r for r in records if r["split"] == "train"]
  val = [r for r in records if r["split"] == "val"]
  assert [r["step"] for r in train] == list(range(10, 61, 10)) and [r["step"] for r in val] == [20, 40, 60]
  assert train[-1]["loss"] < train[0]["loss"] and train[0]["examples_per_sec"] > 0
  assert json.loads((workdir / "results.json").read_text())["test_accuracy"] == results["test_accuracy"]
  for name in ("curves.png", "confusion_matrix.png", "config.json"):
    assert (workdir / name).read_bytes()[:4] in (b"\x89PNG", b"{\n  ")
  assert list((workdir / "tensorboard").glob("events.out.tfevents.*"))
  assert CheckpointManager(workdir / "checkpoints", read_only=True).all_steps()[-1] == 60


def test_best_validation_params_are_kept(finished_run):
  config, workdir, results = finished_run
  val = [r for r in read_jsonl(workdir / "metrics.jsonl") if r["split"] == "val"]
  best = max(val, key=lambda r: r["accuracy"])
  assert results["best_step"] == best["step"]
  assert results["val_accuracy"] == pytest.approx(best["accuracy"])
  # `eval` restores the same best parameters from the checkpoint.
  assert evaluate_run(config, str(workdir), "test")["accuracy"] == pytest.approx(results["test_accuracy"])


def test_rerun_reports_complete_without_training(finished_run):
  config, workdir, results = finished_run
  n_records = len(read_jsonl(workdir / "metrics.jsonl"))
  again = fit(config, str(workdir))
  assert again["status"] == "complete" and again["test_accuracy"] == results["test_accuracy"]
  assert len(read_jsonl(workdir / "metrics.jsonl")) == n_records


def test_longer_run_resumes_from_the_finished_one(finished_run, tmp_path):
  config, workdir, _ = finished_run
  import shutil

  shutil.copytree(workdir, tmp_path / "w")
  longer = fit(small_config(**{"train.num_steps": 80}), str(tmp_path / "w"))
  assert longer["status"] == "trained"
  steps = [r["step"] for r in read_jsonl(tmp_path / "w" / "metrics.jsonl") if r["split"] == "train"]
  assert steps == list(range(10, 81, 10))


def test_restoring_another_model_names_the_leaves(finished_run):
  _, workdir, _ = finished_run
  other = small_config(**{"model.hidden_dims": (48,)})
  with pytest.raises(CheckpointError, match=(r"does not fit this model: state/task/model_state/batch_stats/BatchNorm_0/mean: "
                                             r"checkpoint \(32,\) float32 vs model \(48,\) float32; "
                                             r".*Dense_0/bias: checkpoint \(32,\) float32 vs model \(48,\)"
                                             r".*config differs: model.hidden_dims: \[32\] -> \[48\]")):
    evaluate_run(other, str(workdir))


def test_nan_loss_stops_naming_the_step_and_keeps_the_last_good_checkpoint(tmp_path):
  config = small_config(**{"model.normalization": "none", "optimizer.learning_rate": 1e6,
                           "train.checkpoint_every": 1, "train.eval_every": 100})
  with pytest.raises(TrainingDiverged, match=r"loss is (nan|inf) at step (\d+); .*last good checkpoint \(step \d+\)") as e:
    fit(config, str(tmp_path))
  bad_step = int(str(e.value).split(" at step ")[1].split(";")[0])
  steps = CheckpointManager(tmp_path / "checkpoints", read_only=True).all_steps()
  assert steps and max(steps) == bad_step - 1  # nothing at or after the NaN was saved


def test_loss_above_stop_loss_factor_times_the_initial_stops_the_run(tmp_path):
  config = small_config(**{"model.normalization": "none", "optimizer.learning_rate": 30.0,
                           "train.stop_loss_factor": 3.0, "train.eval_every": 100})
  with pytest.raises(TrainingDiverged, match=r"loss \S+ at step \d+ is more than train.stop_loss_factor = 3 times "
                                             r"its initial \S+; training stopped and no checkpoint was written"):
    fit(config, str(tmp_path))


def test_update_ratios_are_logged_per_layer(tmp_path):
  from cs231n_jax.tasks.classification import update_ratios

  ratios = update_ratios({"a": {"w": np.ones(4), "b": np.zeros(2)}}, {"a": {"w": np.full(4, 1.1), "b": np.zeros(2)}})
  assert ratios.keys() == {"a"} and float(ratios["a"]) == pytest.approx(0.1, rel=1e-6)
  fit(small_config(**{"train.log_update_ratio": True, "train.num_steps": 20}), str(tmp_path))
  train = [r for r in read_jsonl(tmp_path / "metrics.jsonl") if r["split"] == "train"]
  layers = {k for k in train[0] if k.startswith("update_ratio/")}
  assert layers == {"update_ratio/Dense_0", "update_ratio/Dense_1", "update_ratio/BatchNorm_0"}
  assert all(0 < r[k] < 1 for r in train for k in layers)


def test_bfloat16_compute_keeps_float32_params(tmp_path):
  state = initial_state(small_config(**{"train.compute_dtype": "bfloat16"}))
  assert {x.dtype for x in __import__("jax").tree.leaves(state.params)} == {np.dtype("float32")}
  results = fit(small_config(**{"train.compute_dtype": "bfloat16", "train.num_steps": 20}), str(tmp_path))
  assert results["test_accuracy"] > 0.5


@pytest.mark.parametrize("key,value,match", [
    ("train.batch_size", 0, "train.batch_size: expected a positive integer"),
    ("train.step", "'tpu'", "train.step: expected one of"),
    ("train.compute_dtype", "'float16'", "train.compute_dtype"),
    ("optimizer.learning_rate", -1.0, "optimizer.learning_rate"),
    ("optimizer.momentum", 1.0, "optimizer.momentum"),
    ("model.name", "'resnet9000'", "model.name: unknown model"),
    ("data.view", "'1x1'", "data.view"),
    ("train.stop_loss_factor", 0.5, r"train.stop_loss_factor: expected 0 \(off\) or a number > 1, got 0.5"),
])
def test_impossible_values_name_the_field(key, value, match):
  with pytest.raises(ValueError, match=match):
    build(small_config(**{key: value}))


def test_unknown_model_argument_is_a_config_error():
  c = small_config()
  c.model.depth = 3
  with pytest.raises(ConfigError, match="model.depth: fc_net has no such argument"):
    build(c)


def test_init_from_an_earlier_run_keeps_fresh_layers(finished_run, tmp_path):
  """Transfer: start a 5-class run from the 10-class run's best parameters, new head kept fresh."""

  from cs231n_jax.tasks.classification import init_from_run
  from cs231n_jax.train.checkpoint import leaf_paths

  _, source_dir, _ = finished_run
  config = small_config(**{"data.classes": (5, 6, 7, 8, 9), "train.num_steps": 20,
                           "train.init_from": str(source_dir), "train.init_keep_fresh": ("^Dense_1/",)})
  fresh = initial_state(small_config(**{"data.classes": (5, 6, 7, 8, 9)}))
  state, message = init_from_run(fresh, str(source_dir), ("^Dense_1/",))
  source_best = CheckpointManager(source_dir / "checkpoints", read_only=True).restore_as_saved(60).tree["best"]
  got, src = dict(leaf_paths(state.params)), dict(leaf_paths(source_best["params"]))
  np.testing.assert_array_equal(got["Dense_0/kernel"], src["Dense_0/kernel"])
  np.testing.assert_array_equal(dict(leaf_paths(state.model_state))["batch_stats/BatchNorm_0/mean"],
                                dict(leaf_paths(source_best["model_state"]))["batch_stats/BatchNorm_0/mean"])
  np.testing.assert_array_equal(got["Dense_1/kernel"], dict(leaf_paths(fresh.params))["Dense_1/kernel"])
  assert got["Dense_1/kernel"].shape == (32, 5) and "kept fresh: 2" in message
  assert fit(config, str(tmp_path))["test_accuracy"] > 0.5
  with pytest.raises(ConfigError, match=r"train.init_from: params Dense_1/bias is \(10,\) there, \(5,\) here"):
    init_from_run(fresh, str(source_dir))
  with pytest.raises(ConfigError, match="train.init_from: no checkpoint in"):
    init_from_run(fresh, str(tmp_path / "nowhere"))
