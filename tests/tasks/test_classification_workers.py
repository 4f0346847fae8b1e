"""Classification through the engine with grain worker processes (``data.workers``): the same
losses and results as in-process reading, also when the run is stopped and resumed."""

import pytest

from cs231n_jax.config import apply_overrides
from cs231n_jax.tasks.classification import base_config
from cs231n_jax.tasks.classification import run as fit
from cs231n_jax.train.metrics import read_jsonl

pytestmark = pytest.mark.slow


def config(num_steps, workers):
  c = base_config()
  c.model = {"name": "fc_net", "hidden_dims": (32,), "normalization": "batch"}
  c.optimizer.learning_rate = 0.05
  c.train.batch_size = 64  # 1,257 training digits: 20 batches an epoch, the last one padded
  c.train.progress = False
  return apply_overrides(c, [f"train.num_steps={num_steps}", "train.eval_every=12", "train.checkpoint_every=12",
                             "train.log_every=4", f"data.workers={workers}", "data.prefetch=2"])


def train_losses(workdir):
  return {r["step"]: r["loss"] for r in read_jsonl(workdir / "metrics.jsonl") if r["split"] == "train"}


def test_workers_train_exactly_as_in_process_across_a_resume(tmp_path):
  # 24 steps cross an epoch boundary (20 batches an epoch); the resumed run starts mid-epoch 0.
  in_process = fit(config(24, 0), str(tmp_path / "a"))
  first = fit(config(12, 1), str(tmp_path / "b"))
  assert first["steps"] == 12
  with pytest.warns(UserWarning, match="train.num_steps"):  # the second half of the same run
    resumed = fit(config(24, 2), str(tmp_path / "b"))
  assert resumed["status"] == "trained" and resumed["steps"] == 24
  assert train_losses(tmp_path / "b") == train_losses(tmp_path / "a")  # every logged loss, bitwise
  for key in ("test_loss", "test_accuracy", "val_accuracy", "train_loss"):
    assert resumed[key] == in_process[key], key
