"""`cs231n-jax demo`: trains the demo config and prints its test accuracy beside the logistic-regression
baseline on the same split (here with a few steps: the real run is measured in docs/results.md)."""

import json

import pytest

from cs231n_jax import cli
from cs231n_jax.baselines import logistic_regression_digits
from cs231n_jax.config import configs_root, load_config

FEW_STEPS = ["train.num_steps=3", "train.eval_every=3", "train.progress=False", "optimizer.schedule.warmup_steps=1"]


def test_logistic_regression_baseline_is_the_reference_on_this_split():
  # docs/results.md's reference row and tests/data/test_digits.py: 348 of 360 test digits.
  assert logistic_regression_digits()["test_accuracy"] == pytest.approx(348 / 360)


def test_demo_prints_its_accuracy_beside_the_baseline(tmp_path, capsys, monkeypatch):
  real_run = cli.run_experiment
  seen = {}

  def few_steps(config_path, workdir, overrides):
    seen["config"] = config_path
    return real_run(config_path, workdir, [*overrides, *FEW_STEPS])

  monkeypatch.setattr(cli, "run_experiment", few_steps)
  workdir = tmp_path / "demo"
  assert cli.main(["demo", "--workdir", str(workdir)]) == 0
  assert seen["config"] == str(configs_root() / cli.DEMO_CONFIG)
  results = json.loads((workdir / "results.json").read_text())
  assert results["steps"] == 3
  lines = [ln for ln in capsys.readouterr().out.splitlines() if ln.startswith("demo: ")]
  assert lines[0].startswith(f"demo: test accuracy {results['test_accuracy']:.4f} on the held-out digits")
  assert lines[1] == ("demo: baseline, scikit-learn logistic regression on the same split: "
                      "test accuracy 0.9667")


def test_the_demo_config_trains_the_cifar_shaped_digits_with_augmentation_and_a_schedule():
  c = load_config(configs_root() / cli.DEMO_CONFIG)
  assert c.data.name == "digits" and c.data.view == "32x32x3"
  assert "crop" in c.data.augment and "flip" not in c.data.augment  # a mirrored digit is another digit
  assert c.optimizer.schedule.name == "cosine" and c.optimizer.schedule.warmup_steps > 0
  # The final fit: train + val, so validation (training data now) is measured once, at the end, and
  # selects nothing: the final parameters are the result.
  assert c.data.train_on_val
  steps = c.train.num_epochs * -(-(1257 + 180) // c.train.batch_size)
  assert c.train.eval_every >= steps
