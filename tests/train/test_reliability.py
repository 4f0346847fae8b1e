"""The engine's reliability promises (docs/reliability.md): logs that survive crashes, a "last good"
checkpoint that is good, damaged workdirs that resume with one warning each, signals during
start-up and the final evaluation. Runs are a tiny fc_net on the 8x8 digits; where the promise is
about a real process (its stderr, its exit) the run is a `cs231n-jax train` subprocess."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from cs231n_jax.cli import main
from cs231n_jax.config import load_config
from cs231n_jax.tasks import classification
from cs231n_jax.train import loop
from cs231n_jax.train.checkpoint import CheckpointManager, nonfinite_leaves
from cs231n_jax.train.metrics import read_jsonl

CONFIG = '''"""The reliability tests' tiny run (not an experiment).

Command: cs231n-jax train --config tiny.py --workdir /tmp/tiny
Expected: not an experiment; the tests compare logs and checkpoints, not accuracy.
"""

from cs231n_jax.tasks.classification import base_config


def get_config():
  c = base_config()
  c.data.view = "8x8x1"
  c.model.name = "fc_net"
  c.model.hidden_dims = (32,)
  c.optimizer.name = "sgd"
  c.optimizer.learning_rate = 0.05
  c.train.batch_size = 64
  c.train.num_steps = 20
  c.train.eval_every = 10
  c.train.checkpoint_every = 5
  c.train.log_every = 10
  c.train.keep_checkpoints = 2
  c.train.progress = False
  return c
'''


@pytest.fixture(scope="module")
def config_file(tmp_path_factory):
  path = tmp_path_factory.mktemp("config") / "tiny.py"
  path.write_text(CONFIG)
  return str(path)


def train(config_file, workdir, *overrides):
  return main(["train", "--config", config_file, "--workdir", str(workdir), *overrides])


def command(config_file, workdir, *overrides):
  return [sys.executable, "-m", "cs231n_jax.cli", "train", "--config", config_file, "--workdir", str(workdir), *overrides]


def env():
  e = dict(os.environ)
  e["XLA_FLAGS"] = ""
  return e


def steps_on_disk(workdir):
  d = Path(workdir) / "checkpoints"
  return sorted(int(p.name) for p in d.iterdir() if p.name.isdigit()) if d.exists() else []


def train_records(workdir):
  return {r["step"]: r["loss"] for r in read_jsonl(Path(workdir) / "metrics.jsonl") if r["split"] == "train"}


def damage(step_dir: Path):
  """Make a checkpoint step unreadable: every array file emptied."""
  for p in (step_dir / "state").rglob("*"):
    if p.is_file():
      p.write_bytes(b"")


def stderr_lines(text):
  return [line for line in text.splitlines() if line.strip()]


@pytest.fixture(scope="module")
def reference(config_file, tmp_path_factory):
  workdir = tmp_path_factory.mktemp("uninterrupted")
  assert train(config_file, workdir) == 0
  return workdir


def test_resumed_log_window_covers_the_same_steps_and_changed_fields_are_named(config_file, reference, tmp_path, capsys):
  workdir = tmp_path / "run"
  assert train(config_file, workdir, "--config.train.num_steps=15") == 0  # saved at 15, logged at 10
  capsys.readouterr()
  assert train(config_file, workdir) == 0  # resumes at 15: the window of step 20 is steps 11-20
  err = capsys.readouterr().err
  assert "resuming from step 15 with a changed config: train.num_steps: 15 -> 20" in err
  want, got = train_records(reference), train_records(workdir)
  assert sorted(got) == sorted(want) == [10, 20]
  assert got[20] == want[20]  # bitwise: the same 10 steps' losses, summed in the same order
  assert len(steps_on_disk(workdir)) <= 2  # never more than keep_checkpoints


def test_torn_log_and_damaged_checkpoint_resume_with_one_warning_each(config_file, tmp_path):
  """A real process: its whole stderr is one warning per problem, no traceback, no asyncio noise."""
  workdir = tmp_path / "run"
  assert train(config_file, workdir, "--config.train.num_steps=10") == 0
  assert steps_on_disk(workdir) == [5, 10]
  log = workdir / "metrics.jsonl"
  log.write_text(log.read_text() + '{"step": 11, "split": "tr')  # killed mid-record
  damage(workdir / "checkpoints" / "10")
  p = subprocess.run(command(config_file, workdir, "--config.train.num_steps=10"), env=env(), capture_output=True,
                     text=True, timeout=300)
  assert p.returncode == 0, p.stderr[-3000:]
  lines = stderr_lines(p.stderr)
  assert "Traceback" not in p.stderr and "Event loop is closed" not in p.stderr, p.stderr[-3000:]
  assert all(line.startswith("cs231n-jax: warning: ") for line in lines), lines
  torn = [line for line in lines if "metrics.jsonl" in line and "torn" in line]
  fallback = [line for line in lines if "checkpoint step 10" in line and "unreadable" in line]
  assert len(torn) == 1 and len(fallback) == 1 and len(lines) == 2, lines
  assert "resuming from step 5 of 10" in p.stdout
  records = read_jsonl(log)  # whole again: every line parses, the torn one is gone
  assert [r["step"] for r in records if r["split"] == "train"] == [10]
  damaged = list(workdir.glob("metrics.jsonl.damaged-*"))
  assert len(damaged) == 1 and '"split": "tr' in damaged[0].read_text()  # the original is kept
  assert list((workdir / "checkpoints_quarantine").iterdir())
  assert steps_on_disk(workdir) == [5, 10]


def test_every_checkpoint_unreadable_says_so_and_keeps_the_old_log(config_file, tmp_path, capsys):
  workdir = tmp_path / "run"
  assert train(config_file, workdir, "--config.train.num_steps=10") == 0
  old = (workdir / "metrics.jsonl").read_text()
  for step in steps_on_disk(workdir):
    damage(workdir / "checkpoints" / str(step))
  capsys.readouterr()
  assert train(config_file, workdir, "--config.train.num_steps=10") == 0
  err = capsys.readouterr().err
  said = [line for line in err.splitlines() if "every checkpoint" in line]
  assert len(said) == 1 and "starts again from step 0" in said[0] and "old metrics log is kept" in said[0], err
  kept = list(workdir.glob("metrics.jsonl.before-restart-*"))
  assert len(kept) == 1 and kept[0].read_text() == old
  assert steps_on_disk(workdir) == [5, 10]


def test_overflowing_learning_rate_never_saves_infinite_weights(config_file, tmp_path):
  """lr = 1e39 (inf in float32): step 6's loss is computed before its update and is finite, the
  weights after it are not. The save at step 6 refuses; the last good checkpoint (5) is finite."""
  workdir = tmp_path / "run"
  assert train(config_file, workdir, "--config.train.num_steps=5") == 0
  p = subprocess.run(command(config_file, workdir, "--config.optimizer.learning_rate=1e39", "--config.train.num_steps=10",
                             "--config.train.checkpoint_every=1"), env=env(), capture_output=True, text=True, timeout=300)
  assert p.returncode == 1, p.stderr[-3000:]
  lines = stderr_lines(p.stderr)
  errors = [line for line in lines if line.startswith("cs231n-jax: error: ")]
  assert len(errors) == 1 and all(line.startswith("cs231n-jax: warning: ") for line in lines if line not in errors), lines
  assert "optimizer.learning_rate: 0.05 -> 1e+39" in p.stderr
  assert "parameters are not finite after step 6" in errors[0] and "state/params/" in errors[0]
  assert "the last good checkpoint (step 5) is kept" in errors[0]
  assert steps_on_disk(workdir) == [5]
  restored = CheckpointManager(workdir / "checkpoints", read_only=True).restore_as_saved(5)
  assert nonfinite_leaves(restored.tree) == []
  p = subprocess.run(command(config_file, workdir, "--config.train.num_steps=10"), env=env(), capture_output=True,
                     text=True, timeout=300)
  assert p.returncode == 0, p.stderr[-3000:]  # and a restart with a sane rate trains on from step 5
  assert "resuming from step 5 of 10" in p.stdout


def test_nonfinite_leaves_names_the_bad_ones():
  tree = {"params": {"a": np.ones(3, np.float32), "b": np.array([1.0, np.inf], np.float32)},
          "step": np.int32(3), "c": np.array([np.nan])}
  assert nonfinite_leaves(tree) == ["c", "params/b"]


class _SignalOnFirstBatch:
  """An evaluation split that sends this process SIGTERM as its first batch is read."""

  def __init__(self, batches):
    self.batches, self.sent = batches, False

  def __call__(self):
    for i, batch in enumerate(self.batches()):
      if i == 0 and not self.sent:
        self.sent = True
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(0.05)
      yield batch


def test_signal_during_the_final_evaluation_is_a_preemption(config_file, tmp_path):
  config = load_config(config_file)
  config.train.num_steps = 10
  task, data, _ = classification.build(config)
  data.eval["test"] = _SignalOnFirstBatch(data.eval["test"])
  results = loop.fit(task, data, config, tmp_path)
  assert results == {"status": "preempted", "step": 10}
  assert not (tmp_path / "results.json").exists() and steps_on_disk(tmp_path) == [5, 10]
  task, data, _ = classification.build(config)
  results = loop.fit(task, data, config, tmp_path)  # the same call again finishes the evaluation
  assert results["status"] == "complete" and "test_accuracy" in results
  assert json.loads((tmp_path / "results.json").read_text())["status"] == "complete"


def _catches_sigterm(pid):
  try:
    status = Path(f"/proc/{pid}/status").read_text()
  except OSError:
    return False
  caught = int(next(line.split()[1] for line in status.splitlines() if line.startswith("SigCgt:")), 16)
  return bool(caught & (1 << (signal.SIGTERM - 1)))


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs /proc to see when the handler is installed")
def test_signal_during_startup_exits_cleanly(config_file, tmp_path):
  """SIGTERM as soon as the command handles it (start-up: imports, config, data, compilation):
  exit 0 with one line, no traceback, nothing half-written."""
  proc = subprocess.Popen(command(config_file, tmp_path / "run"), env=env(), stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True)
  deadline = time.time() + 120
  while not _catches_sigterm(proc.pid):
    assert proc.poll() is None and time.time() < deadline
    time.sleep(0.01)
  proc.send_signal(signal.SIGTERM)
  out, err = proc.communicate(timeout=120)
  assert proc.returncode == 0, err[-3000:]
  assert "Traceback" not in err
  assert "interrupted by SIGTERM before training started" in err or "preempted" in out, (out, err)
  assert steps_on_disk(tmp_path / "run") in ([], [1])
