"""The lecture-13 image-optimisation study (not a training task): a texture run writes results.json and
its figure, with the nearest-neighbour synthesis copying input pixels and the Gram loss falling; an
unknown algorithm is named; the configs name this study's runner."""

from __future__ import annotations

import json
from pathlib import Path

import ml_collections
import pytest

from cs231n_jax.config import load_config
from cs231n_jax.errors import ConfigError
from cs231n_jax.studies import style_transfer as study

CONFIGS = Path(__file__).parents[2] / "experiments" / "configs" / "vis"


def tiny_texture_config() -> ml_collections.ConfigDict:
  c = load_config(CONFIGS / "texture_gram.py")
  c.features = ml_collections.ConfigDict({"name": "random_conv", "channels": (4, 8), "seed": 0,
                                          "style_layers": {"conv1": 1.0, "conv2": 1.0}})
  c.textures = ("brick", "gravel")
  c.size, c.num_steps, c.nn_size, c.learning_rate = 16, 20, 8, 0.05
  return c


def test_texture_study_writes_results_and_figure(tmp_path):
  results = study.run_algorithm(tiny_texture_config(), str(tmp_path))
  saved = json.loads((tmp_path / "results.json").read_text())
  assert (tmp_path / "texture.png").read_bytes()[:4] == b"\x89PNG"
  assert saved["nearest_neighbour_all_pixels_copied"] is True
  for name in ("brick", "gravel"):
    assert results[name]["loss"] < results[name]["initial_loss"] and saved[name]["reduction"] > 1


def test_unknown_algorithm_is_named_and_configs_name_the_study(tmp_path):
  c = tiny_texture_config()
  c.algorithm = "painting"
  with pytest.raises(ConfigError, match="algorithm: expected texture, deepdream, inversion or style, got 'painting'"):
    study.run_algorithm(c, str(tmp_path))
  for name in ("deepdream", "inversion", "style_tradeoff", "texture_gram"):
    assert load_config(CONFIGS / f"{name}.py").runner == study.RUNNER
