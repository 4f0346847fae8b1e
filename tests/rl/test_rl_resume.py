"""An RL run killed with SIGKILL and restarted with the same command ends bitwise identical to an
uninterrupted one: parameters, target network, optimizer, replay memory and environment states of
every vmapped seed. Each run is a real `cs231n-jax train` process."""

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
from cs231n_jax.tasks import rl
from cs231n_jax.train.checkpoint import CheckpointManager
from cs231n_jax.train.loop import checkpoint_template
from cs231n_jax.train.metrics import read_jsonl

CONFIG = str(Path(__file__).with_name("rl_resume_config.py"))
pytestmark = pytest.mark.slow


def command(workdir):
  return [sys.executable, "-m", "cs231n_jax.cli", "train", "--config", CONFIG, "--workdir", str(workdir)]


def env(cache):
  e = dict(os.environ)
  e["XLA_FLAGS"] = ""
  # the three processes compile the same programs: the second and third read them from a cache
  e.update(JAX_COMPILATION_CACHE_DIR=str(cache), JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS="0",
           JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES="0")
  return e


def saved_steps(workdir):
  d = Path(workdir) / "checkpoints"
  return sorted(int(x.name) for x in d.iterdir() if x.name.isdigit()) if d.exists() else []


def final_tree(workdir):
  config = load_config(CONFIG)
  task, data, _, _ = rl.build(config)
  template = checkpoint_template(task, data, config)
  return CheckpointManager(Path(workdir) / "checkpoints", read_only=True).restore(config.train.num_steps, template).tree


def test_sigkill_then_restart_is_bitwise_identical(tmp_path):
  ref = tmp_path / "uninterrupted"
  killed = tmp_path / "killed"
  cache = tmp_path / "jax_cache"
  p = subprocess.run(command(ref), env=env(cache), capture_output=True, text=True, timeout=600)
  assert p.returncode == 0, p.stderr[-2000:]
  proc = subprocess.Popen(command(killed), env=env(cache), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
  deadline = time.time() + 300
  while not saved_steps(killed):
    assert proc.poll() is None, proc.stderr.read()[-2000:]
    assert time.time() < deadline
    time.sleep(0.05)
  time.sleep(random.uniform(0.0, 0.5))
  proc.send_signal(signal.SIGKILL)
  proc.wait(timeout=60)
  assert proc.returncode == -signal.SIGKILL
  finished = (killed / "results.json").exists() or max(saved_steps(killed)) >= load_config(CONFIG).train.num_steps
  assert not finished, "the run finished before the kill"
  p = subprocess.run(command(killed), env=env(cache), capture_output=True, text=True, timeout=600)
  assert p.returncode == 0, p.stderr[-2000:]
  assert "resuming from step" in p.stdout
  a, b = final_tree(killed), final_tree(ref)
  leaves = jax.tree_util.tree_leaves_with_path(a)
  names = " ".join(jax.tree_util.keystr(path) for path, _ in leaves)
  assert "replay" in names and "env_state" in names and "target_params" in names
  for (path, x), y in zip(leaves, jax.tree.leaves(b)):
    assert x.dtype == y.dtype and np.array_equal(x, y), jax.tree_util.keystr(path)
  train = lambda d: [(r["step"], r["loss"], r["seed_1/episode_return"]) for r in read_jsonl(d / "metrics.jsonl")
                     if r["split"] == "train"]
  assert train(killed) == train(ref)
