"""The `cs231n-jax` command: subcommands, config overrides, and one-line usage errors (exit 2)."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from cs231n_jax.cli import main
from cs231n_jax.config import list_configs
from cs231n_jax.models.registry import FAMILIES

TINY = str(Path(__file__).parents[1] / "train" / "resume_config.py")
FAST = ["--config.train.num_steps=4", "--config.data.view=8x8x1", "--config.model.hidden_dims=(16,)",
        "--config.train.eval_every=2"]


def one_line_error(capsys):
  err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
  assert len(err) == 1, err
  assert err[0].startswith("cs231n-jax: error: ")
  return err[0]


@pytest.mark.parametrize("args,fragment", [
    (["train", "--config", TINY, "--workdir", "W", "--config.train.nope=1"], "--config.train.nope: unknown key"),
    (["train", "--config", TINY, "--workdir", "W", "--config.train.batch_size=big"], "expected int, got 'big'"),
    (["train", "--config", TINY, "--workdir", "W", "--config.train.batch_size=-1"], "train.batch_size: expected a positive integer"),
    (["train", "--config", TINY, "--workdir", "W", "--config.optimizer.learning_rate=0"], "optimizer.learning_rate"),
    (["train", "--config", TINY, "--workdir", "W", "--config.model.name=nonet"], "model.name: unknown model 'nonet'"),
    (["train", "--config", "missing.py", "--workdir", "W"], "--config: no such file 'missing.py'"),
    (["train", "--config", TINY], "the following arguments are required: --workdir"),
    (["train", "--config", TINY, "--workdir", "W", "--lr=3"], "unrecognized argument '--lr=3'"),
    (["train", "--config", f"{TINY}:big", "--workdir", "W"], "resume_config.py has no variants, got ':big'"),
    (["train", "--config", "cnn/resnet_cifar10.py:34", "--workdir", "W"],
     "unknown variant '34', expected one of ('20', '56')"),
    (["fly"], "invalid choice: 'fly'"),
    (["eval", "--config", TINY, "--workdir", "/nonexistent/run"], "no checkpoints in /nonexistent/run/checkpoints"),
])
def test_usage_errors_are_one_line_and_exit_2(args, fragment, capsys, tmp_path, monkeypatch):
  monkeypatch.chdir(tmp_path)
  assert main(args) == 2
  assert fragment in one_line_error(capsys)


def test_train_with_overrides_then_eval(tmp_path, capsys):
  workdir = str(tmp_path / "run")
  assert main(["train", "--config", TINY, "--workdir", workdir, *FAST, "--config.train.progress", "false"]) == 0
  results = json.loads((tmp_path / "run" / "results.json").read_text())
  assert results["steps"] == 4
  saved = json.loads((tmp_path / "run" / "config.json").read_text())
  assert saved["model"]["hidden_dims"] == [16] and saved["data"]["view"] == "8x8x1"
  capsys.readouterr()
  assert main(["eval", "--config", TINY, "--workdir", workdir, *FAST, "--split", "val"]) == 0
  out = json.loads(capsys.readouterr().out)
  assert out["split"] == "val" and out["accuracy"] == pytest.approx(results["val_accuracy"])


def test_list_experiments_and_models(capsys):
  assert main(["list"]) == 0
  out = capsys.readouterr().out
  assert "digits/three_layer_convnet.py" in out and "expected:" in out
  assert main(["list", "models"]) == 0
  out = capsys.readouterr().out
  assert "three_layer_convnet" in out and "53,910 params at 8x8x1" in out
  families = [line.split()[0] for line in out.splitlines() if line and not line.startswith(" ")]
  assert families == list(FAMILIES)  # every family, grouped, in the registry's order
  assert "pixel (4 models)" in out and "caption (4 models)" in out
  assert any(line.split()[:2] == ["gated_pixelcnn", "467,857"] for line in out.splitlines())
  assert any(line.split()[:2] == ["transformer", "-"] for line in out.splitlines())  # not built from one input
  assert any(line.split()[:2] == ["mobilenet_v2", "3,504,872"] for line in out.splitlines())  # torchvision's count


def test_every_experiment_config_documents_command_and_expected_result():
  configs = list_configs()
  assert configs
  for info in configs:
    assert info["description"], info["name"]
    assert info["command"].startswith("cs231n-jax "), info["name"]
    assert info["expected"], info["name"]
    if ":" in info["name"]:  # a variant: its own command names it, and its own expected result
      assert f"{info['name'].rsplit('/', 1)[-1]} " in info["command"] + " ", info


def test_variants_of_one_experiment_are_one_file():
  from cs231n_jax.config import load_config

  names = {info["name"] for info in list_configs()}
  assert {"cnn/resnet_cifar10.py:20", "cnn/resnet_cifar10.py:56"} <= names
  assert load_config("cnn/resnet_cifar10.py:56").model.name == "resnet56"
  assert load_config("cnn/resnet_cifar10.py").model.name == "resnet20"  # the file's default
  by_name = {info["name"]: info for info in list_configs()}
  assert "6.97%" in by_name["cnn/resnet_cifar10.py:56"]["expected"]
  assert "8.75%" in by_name["cnn/resnet_cifar10.py:20"]["expected"]


def test_console_script_exit_code():
  exe = Path(sys.executable).with_name("cs231n-jax")
  p = subprocess.run([str(exe), "train", "--config", TINY, "--workdir", "W", "--config.x=1"],
                     capture_output=True, text=True, timeout=120)
  assert p.returncode == 2
  assert p.stderr.strip().splitlines()[-1] == "cs231n-jax: error: --config.x: unknown key"
  assert "Traceback" not in p.stderr
