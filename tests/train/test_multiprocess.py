"""Multi-host for real: 2 processes on 127.0.0.1 (2 CPU devices each, gloo collectives) train the
same model on the same data as 1 process with 4 devices, and end with the same parameters."""

import os
import socket
import subprocess
import sys
from pathlib import Path

import jax
import numpy as np
import pytest

from cs231n_jax.config import apply_overrides, load_config
from cs231n_jax.tasks import classification
from cs231n_jax.train.checkpoint import CheckpointManager
from cs231n_jax.train.loop import checkpoint_template

CONFIG = str(Path(__file__).with_name("resume_config.py"))
NUM_STEPS = 20
pytestmark = pytest.mark.slow


def overrides(kind):
  return [f"--config.train.num_steps={NUM_STEPS}", f"--config.train.step={kind}",
          "--config.train.checkpoint_every=10", "--config.train.eval_every=10"]


def launch(workdir, kind, devices_per_process, process_id=None, num_processes=None, port=None):
  env = dict(os.environ, XLA_FLAGS=f"--xla_force_host_platform_device_count={devices_per_process}")
  cmd = [sys.executable, "-m", "cs231n_jax.cli", "train", "--config", CONFIG, "--workdir", str(workdir),
         *overrides(kind)]
  if num_processes:
    cmd += ["--coordinator", f"127.0.0.1:{port}", "--num-processes", str(num_processes),
            "--process-id", str(process_id)]
  return subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def free_port():
  with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    return s.getsockname()[1]


def final_params(workdir, kind):
  config = apply_overrides(load_config(CONFIG), [o[len("--config."):] for o in overrides(kind)])
  task, data, _ = classification.build(config)
  template = checkpoint_template(task, data, config)
  state = CheckpointManager(Path(workdir) / "checkpoints", read_only=True).restore(NUM_STEPS, template).tree["state"]
  return {"step": state["step"], "rng": state["rng"], "params": state["task"].params,
          "model_state": state["task"].model_state}


@pytest.mark.parametrize("kind", ["sharded", "pmap"])
def test_two_processes_match_one_process_with_four_devices(tmp_path, kind):
  single = launch(tmp_path / "single", kind, 4)
  out, err = single.communicate(timeout=300)
  assert single.returncode == 0, err[-3000:]
  port = free_port()
  procs = [launch(tmp_path / "multi", kind, 2, i, 2, port) for i in range(2)]
  outs = [p.communicate(timeout=300) for p in procs]
  for p, (o, e) in zip(procs, outs):
    assert p.returncode == 0, e[-3000:]
  assert "test accuracy" in outs[0][0] and "test accuracy" not in outs[1][0]  # process 0 reports
  a, b = final_params(tmp_path / "single", kind), final_params(tmp_path / "multi", kind)
  assert int(a["step"]) == int(b["step"]) == NUM_STEPS
  np.testing.assert_array_equal(a["rng"], b["rng"])
  # Same batches and dropout masks; only the order of float sums differs (gloo's all-reduce vs one
  # process's), so the parameters agree to float precision, not bitwise.
  for part in ("params", "model_state"):
    x, y = flat(a[part]), flat(b[part])
    assert np.linalg.norm(x - y) / np.linalg.norm(x) < 1e-5, part


def flat(tree):
  return np.concatenate([np.ravel(v).astype(np.float64) for v in jax.tree.leaves(tree)])
