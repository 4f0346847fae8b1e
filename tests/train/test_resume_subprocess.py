"""Killed and preempted runs, restarted with the same command, end bitwise identical to an
uninterrupted run (CPU). Each run is a real `cs231n-jax train` process."""

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import jax
import numpy as np
import pytest

from cs231n_jax.config import load_config
from cs231n_jax.tasks import classification
from cs231n_jax.train.checkpoint import CheckpointManager
from cs231n_jax.train.loop import checkpoint_template
from cs231n_jax.train.metrics import read_jsonl

CONFIG = str(Path(__file__).with_name("resume_config.py"))
NUM_STEPS = 400
pytestmark = pytest.mark.slow


def command(workdir):
  return [sys.executable, "-m", "cs231n_jax.cli", "train", "--config", CONFIG, "--workdir", str(workdir)]


def env():
  e = dict(os.environ)
  e["XLA_FLAGS"] = ""  # one CPU device, as a user's laptop
  return e


def run_to_completion(workdir):
  p = subprocess.run(command(workdir), env=env(), capture_output=True, text=True, timeout=300)
  assert p.returncode == 0, p.stderr[-2000:]
  return p


def saved_steps(workdir):
  d = Path(workdir) / "checkpoints"
  return sorted(int(x.name) for x in d.iterdir() if x.name.isdigit()) if d.exists() else []


def start_and_wait_for_a_checkpoint(workdir):
  proc = subprocess.Popen(command(workdir), env=env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
  deadline = time.time() + 120
  while not saved_steps(workdir):
    assert proc.poll() is None, proc.stderr.read()[-2000:]
    assert time.time() < deadline
    time.sleep(0.05)
  return proc


def final_tree(workdir):
  config = load_config(CONFIG)
  task, data, _ = classification.build(config)
  template = checkpoint_template(task, data, config)
  restored = CheckpointManager(Path(workdir) / "checkpoints", read_only=True).restore(NUM_STEPS, template)
  return restored.tree


def assert_bitwise_equal(a, b):
  for (path, x), y in zip(jax.tree_util.tree_leaves_with_path(a), jax.tree.leaves(b)):
    assert x.dtype == y.dtype and np.array_equal(x, y), jax.tree_util.keystr(path)


def train_losses(workdir):
  return [(r["step"], r["loss"]) for r in read_jsonl(Path(workdir) / "metrics.jsonl") if r["split"] == "train"]


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
  workdir = tmp_path_factory.mktemp("uninterrupted")
  run_to_completion(workdir)
  return workdir, final_tree(workdir)


def test_sigkill_at_an_arbitrary_step_then_restart(reference, tmp_path):
  ref_dir, ref_tree = reference
  proc = start_and_wait_for_a_checkpoint(tmp_path)
  time.sleep(random.uniform(0.0, 2.0))  # somewhere after the first checkpoint, mid-step or mid-save
  proc.send_signal(signal.SIGKILL)
  proc.wait(timeout=60)
  killed_at = saved_steps(tmp_path)
  assert proc.returncode == -signal.SIGKILL
  assert not (tmp_path / "results.json").exists() and max(killed_at) < NUM_STEPS, "the run finished before the kill"
  p = run_to_completion(tmp_path)
  assert "resuming from step" in p.stdout
  assert_bitwise_equal(final_tree(tmp_path), ref_tree)
  assert train_losses(tmp_path) == train_losses(ref_dir)  # the log reads as if never interrupted


def test_sigterm_saves_exits_zero_and_resumes(reference, tmp_path):
  _, ref_tree = reference
  proc = start_and_wait_for_a_checkpoint(tmp_path)
  proc.send_signal(signal.SIGTERM)
  out, err = proc.communicate(timeout=120)
  assert proc.returncode == 0, err[-2000:]
  assert "preempted: saved step" in out
  stopped = int(out.split("preempted: saved step ")[1].split()[0])
  assert stopped < NUM_STEPS and stopped in saved_steps(tmp_path)
  run_to_completion(tmp_path)
  assert_bitwise_equal(final_tree(tmp_path), ref_tree)
