"""The lectures' missing systems, their experiment configs: each documents its command and measured result, and its
runner works end to end at a small size (the overrides a user would pass)."""

from pathlib import Path

import pytest

from cs231n_jax.config import apply_overrides, describe, load_config, resolve_runner, variants_of
from cs231n_jax.errors import ConfigError

CONFIGS = Path(__file__).parents[2] / "experiments" / "configs" / "lectures"
WHOLE_RUN = ["random_search", "perceptron", "bag_of_words", "init_study", "attention_memory"]


NAMES = sorted(f"{p.stem}.py" + (f":{v}" if v else "") for p in CONFIGS.glob("*.py") for v in variants_of(p) or [None])


@pytest.mark.parametrize("name", NAMES)
def test_config_documents_its_command_and_measured_result(name):
  file, _, variant = name.partition(":")
  info = describe(CONFIGS / file, variant or None)
  assert info["command"].startswith(f"cs231n-jax train --config experiments/configs/lectures/{name} --workdir ")
  assert "measured" in info["expected"] and "not yet measured" not in info["expected"]
  assert callable(resolve_runner(load_config(f"{CONFIGS / file}" + (f":{variant}" if variant else ""))))


def run(name, tmp_path, *overrides):
  config = apply_overrides(load_config(CONFIGS / f"{name}.py"), list(overrides))
  return resolve_runner(config)(config, str(tmp_path))


def test_random_search_loses_to_sgd_by_a_wide_margin(tmp_path):
  r = run("random_search", tmp_path, "random_search.num_tries=100", "sgd.num_iters=200")
  assert r["random_search_test_accuracy"] > r["chance"]  # the best of random W is better than chance ...
  assert r["sgd_test_accuracy"] - r["random_search_test_accuracy"] > 0.5  # ... and far worse than SGD
  assert r["sgd_train_loss"] < 0.2 * r["random_search_best_train_loss"]


def test_perceptron_runner_separates_two_digits(tmp_path):
  r = run("perceptron", tmp_path, "perceptron.num_epochs=8")
  assert r["first_epoch_without_mistakes"] is not None and r["train_accuracy"] == 1.0
  assert r["test_accuracy"] > 0.95
  with pytest.raises(ConfigError, match="perceptron.classes"):
    run("perceptron", tmp_path, "perceptron.classes=(1,2,3)")


def test_bag_of_words_runner(tmp_path):
  r = run("bag_of_words", tmp_path, "bag_of_words.num_patches=2000", "bag_of_words.num_words=16",
          "bag_of_words.kmeans_iters=5", "sgd.num_iters=200")
  assert r["kmeans_inertia_first_last"][1] <= r["kmeans_inertia_first_last"][0]
  assert r["bag_of_words_test_accuracy"] > 0.5  # far above chance (0.1) from word counts alone


def test_init_study_and_attention_memory_runners(tmp_path):
  r = run("init_study", tmp_path, "init.width=256", "init.batch=32")
  assert set(r["table"]) == {f"{s}/{k}" for s in ("tanh_k0.01", "tanh_k0.05", "tanh_xavier", "relu_xavier", "relu_kaiming")
                             for k in ("gaussian", "uniform")}
  assert (tmp_path / "init_study.png").stat().st_size > 0
  m = run("attention_memory", tmp_path, "attention.sizes=(128,256)")
  assert m["ratio_per_doubling"][0] >= 3.5


def test_seq2seq_lengths_runner_trains_both_decoders_per_length(tmp_path):
  r = run("seq2seq_lengths", tmp_path, "study.lengths=(3,)", "model.hidden_size=8", "model.embed_dim=4", "model.attention_dim=4",
          "train.num_steps=2", "train.eval_every=2", "train.checkpoint_every=2", "task.eval_examples=16", "train.eval_batch_size=16")
  assert set(r["runs"]) == {"fixed_len3", "attention_len3"}
  assert all(0 <= v["test_sequence_accuracy"] <= v["test_token_accuracy"] <= 1 for v in r["runs"].values())
  assert (tmp_path / "seq2seq_lengths.png").stat().st_size > 0
  again = run("seq2seq_lengths", tmp_path, "study.lengths=(3,)")  # finished runs are read back, not retrained
  assert again["runs"] == r["runs"]
