"""The probe study's bookkeeping: a subset of methods merged with an earlier run's rows, the method names,
the cost runner's configs, the figure."""

import json

import numpy as np
import pytest

from cs231n_jax.config import load_config
from cs231n_jax.studies import ssl_probe


def test_previous_rows_merge_only_what_is_not_rerun(tmp_path):
  path = tmp_path / "probe_table.json"
  rows = {"simclr": [{"linear@5": 0.9}, {"linear@5": 0.8}], "mae": [{"linear@5": 0.1}, {"linear@5": 0.2}]}
  path.write_text(json.dumps({"per_seed": rows}))
  got = ssl_probe.previous_rows(str(path), (0, 1), skip={"mae"})
  assert got == {"simclr": rows["simclr"]}
  assert ssl_probe.previous_rows("", (0, 1), set()) == {}
  with pytest.raises(ValueError, match="previous: .* has 2 seeds for 'simclr', this study runs 3"):
    ssl_probe.previous_rows(str(path), (0, 1, 2), skip=set())
  with pytest.raises(ValueError, match="previous: no file"):
    ssl_probe.previous_rows(str(tmp_path / "none.json"), (0,), set())
  summary = ssl_probe.summarize(got)
  np.testing.assert_allclose(summary["simclr"]["linear@5"], (0.85, 0.05))  # mean, population sd
  ssl_probe.plot_table({"simclr": {"linear@1": (0.7, 0.1), "linear@5": (0.85, 0.05)}}, tmp_path / "t.png")
  assert (tmp_path / "t.png").read_bytes()[:4] == b"\x89PNG"


def test_every_method_has_a_runner_and_unknown_ones_are_named():
  c = load_config("experiments/configs/ssl/probe_table.py:pixels")
  assert c.methods == ("mae", "inpainting") and c.baselines == () and c.previous.endswith("probe_table.json")
  full = load_config("experiments/configs/ssl/probe_table.py")
  assert set(full.methods) == {"simclr", "moco", "byol", "rotation", "jigsaw", "mae", "inpainting"}
  for m in full.methods:
    mc = ssl_probe.method_config(full, m, 1)
    assert mc.seed == 1 and mc.runner.split(":")[0] == ssl_probe.method_module(m).__name__
  assert ssl_probe.method_config(full, "mae", 0).views.view1 == ""  # the masked patches are the signal
  assert load_config("experiments/configs/ssl/probe_table.py:cost").runner.endswith(":run_cost")
  with pytest.raises(ValueError, match="methods: 'swav' is not one of"):
    ssl_probe.method_module("swav")
