"""The lecture 10-11 experiment configs (text models and captioning): each loads, names a runner
that exists, documents its exact command and states a measured result."""

from pathlib import Path

import pytest

from cs231n_jax.config import describe, load_config, resolve_runner, variants_of
from cs231n_jax.tasks import char_lm

ROOT = Path(__file__).parents[2] / "experiments" / "configs"
CONFIGS = sorted((ROOT / "text").glob("*.py")) + sorted((ROOT / "captioning").glob("*.py"))


def test_the_text_and_captioning_configs_are_all_here():
  assert {p.stem for p in CONFIGS} >= {"char_lstm", "char_rnn", "min_char_rnn", "copy_task", "gradient_flow",
                                       "scan_benchmark", "rnn", "lstm", "attention_lstm",
                                       "transformer", "overfit"}


CASES = [(p, v) for p in CONFIGS for v in variants_of(p) or [None]]


@pytest.mark.parametrize("path,variant", CASES, ids=[f"{p.parent.name}/{p.stem}" + (f":{v}" if v else "") for p, v in CASES])
def test_config_documents_a_measured_result_and_resolves_its_runner(path, variant):
  info = describe(path, variant)
  topic = path.parent.name
  assert info["description"]
  name = f"{path.name}:{variant}" if variant else path.name  # a variant's own command names it
  assert f"cs231n-jax train --config experiments/configs/{topic}/{name} --workdir" in info["command"], info
  expected = info["expected"]
  # A measured value, not a promise: a number and the machine it was measured on.
  assert "CPU-2" in expected and any(ch.isdigit() for ch in expected), expected
  assert "to be measured" not in expected and "measured value in" not in expected
  config = load_config(f"{path}:{variant}" if variant else path)
  assert callable(resolve_runner(config))
  if config.runner == char_lm.RUNNER:
    char_lm.check_config(config)
  if config.runner == char_lm.MIN_CHAR_RNN_RUNNER:
    char_lm.check_min_char_rnn_config(config)
