"""SimCLR's negatives come from the global batch across processes: 2 processes x 1 CPU device (jax.distributed on
127.0.0.1, gloo) give the loss and the parameters after an SGD step of 1 process x 2 devices and of 1 device over
the same global batch (relative 1e-5)."""

import importlib.util
import os
import socket
import subprocess
import sys
from pathlib import Path

import jax
import numpy as np
import pytest

WORKER = Path(__file__).with_name("two_process_worker.py")
pytestmark = pytest.mark.slow


def worker_module():
  spec = importlib.util.spec_from_file_location("two_process_worker", WORKER)
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module


def free_port():
  with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    return s.getsockname()[1]


def test_two_processes_equal_one_process_with_two_devices_and_one_device(tmp_path, devices):
  port = free_port()
  env = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=1")
  procs = [subprocess.Popen([sys.executable, str(WORKER), str(i), str(port), str(tmp_path / f"p{i}.npz")], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for i in range(2)]
  outs = [p.communicate(timeout=300) for p in procs]
  for p, (_, err) in zip(procs, outs):
    assert p.returncode == 0, err[-3000:]
  got = [np.load(tmp_path / f"p{i}.npz") for i in range(2)]

  w = worker_module()
  update, state, v1, v2 = w.problem()
  one, one_metrics = jax.jit(update)(state, v1, v2)
  rep = jax.tree.map(lambda x: np.broadcast_to(np.asarray(x), (2,) + np.shape(x)), state)
  half = w.GLOBAL_BATCH // 2
  two, two_metrics = jax.pmap(lambda s, a, b: update(s, a, b, "d"), axis_name="d", devices=devices[:2])(
      rep, v1.reshape(2, half, 8, 8, 1), v2.reshape(2, half, 8, 8, 1))
  ref_params = w.flat(one["params"])
  # The SGD step moved the parameters (the comparison is not between two copies of the initial state).
  assert np.linalg.norm(ref_params - w.flat(state["params"])) > 1e-3 * np.linalg.norm(ref_params)
  np.testing.assert_allclose(w.flat(jax.tree.map(lambda x: x[0], two["params"])), ref_params, rtol=1e-5, atol=1e-7)
  np.testing.assert_allclose(np.asarray(two_metrics["loss"]), float(one_metrics["loss"]), rtol=1e-5)
  for g in got:  # each process holds the global-batch loss and the same parameters
    np.testing.assert_allclose(float(g["loss"]), float(one_metrics["loss"]), rtol=1e-5)
    np.testing.assert_allclose(float(g["accuracy"]), float(one_metrics["accuracy"]), rtol=1e-6)
    assert np.linalg.norm(g["params"] - ref_params) / np.linalg.norm(ref_params) < 1e-5
