"""One run per workdir (cs231n_jax.train.lock): a second run is refused in one line naming the
holder's host and PID (exit 3); a lock left by a killed process is taken over; two `cs231n-jax
train` processes started together on one workdir: one trains, the other is refused."""

import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from cs231n_jax.command_line import EXIT_BUSY, exit_code
from cs231n_jax.errors import WorkdirBusy
from cs231n_jax.train import lock

HOLD = ("import sys, time\nfrom cs231n_jax.train import lock\nlock.acquire(sys.argv[1])\n"
        "print('held', flush=True)\ntime.sleep(120)\n")


def hold_in_another_process(workdir):
  proc = subprocess.Popen([sys.executable, "-c", HOLD, str(workdir)], stdout=subprocess.PIPE, text=True)
  assert proc.stdout.readline().strip() == "held"
  return proc


def test_a_held_workdir_is_refused_naming_host_and_pid(tmp_path):
  holder = hold_in_another_process(tmp_path)
  try:
    with pytest.raises(WorkdirBusy) as e:
      lock.acquire(tmp_path)
    msg = str(e.value)
    assert "\n" not in msg and f"pid {holder.pid} on host {socket.gethostname()}" in msg and str(tmp_path) in msg
    assert exit_code(e.value) == EXIT_BUSY == 3
  finally:
    holder.kill()
    holder.wait()


def test_a_lock_left_by_a_killed_process_is_taken_over(tmp_path):
  holder = hold_in_another_process(tmp_path)
  holder.send_signal(signal.SIGKILL)
  holder.wait()
  with pytest.warns(RuntimeWarning, match=f"left by pid {holder.pid} on host .*no longer running"):
    path = lock.acquire(tmp_path)
  try:
    assert json.loads(path.read_text())["pid"] == os.getpid()
    assert lock.acquire(tmp_path) == path  # re-entrant within a process (the CLI and the loop)
    lock.release(path)
    assert lock.holds(tmp_path)
  finally:
    lock.release(path)
  assert not lock.holds(tmp_path) and path.read_text() == ""  # released cleanly: no holder named


def test_multi_host_locks_are_per_process(tmp_path):
  a = lock.acquire(tmp_path, process_index=0, process_count=2)
  b = lock.acquire(tmp_path, process_index=1, process_count=2)
  try:
    assert a.name == ".lock.0" and b.name == ".lock.1"
  finally:
    lock.release(a)
    lock.release(b)


def test_workdir_that_is_a_file_is_a_usage_error(tmp_path):
  from cs231n_jax.command_line import UsageError

  f = tmp_path / "file"
  f.write_text("x")
  with pytest.raises(UsageError, match="is a file, expected a directory"):
    lock.acquire(f)


CONFIG = Path(__file__).with_name("resume_config.py")


def test_two_runs_started_together_one_trains_the_other_is_refused(tmp_path):
  workdir = tmp_path / "run"
  cmd = [sys.executable, "-m", "cs231n_jax.cli", "train", "--config", str(CONFIG), "--workdir", str(workdir),
         "--config.data.view=8x8x1", "--config.model.hidden_dims=(16,)", "--config.train.num_steps=20",
         "--config.train.checkpoint_every=5", "--config.train.keep_checkpoints=2"]
  e = {**os.environ, "XLA_FLAGS": ""}
  procs = [subprocess.Popen(cmd, env=e, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
  outs = [p.communicate(timeout=300) for p in procs]
  codes = sorted(p.returncode for p in procs)
  assert codes == [0, EXIT_BUSY], [o[1][-2000:] for o in outs]
  winner = next(p for p in procs if p.returncode == 0)
  _, err = outs[[p.returncode for p in procs].index(EXIT_BUSY)]
  lines = [line for line in err.splitlines() if line.strip()]
  assert len(lines) == 1 and lines[0].startswith("cs231n-jax: error: --workdir: "), lines
  assert f"pid {winner.pid} on host {socket.gethostname()}" in lines[0]
  steps = sorted(int(p.name) for p in (workdir / "checkpoints").iterdir() if p.name.isdigit())
  assert steps == [15, 20]  # the winner's run, whole; never more than keep
  assert not list(workdir.glob("error*.log"))  # the refused run wrote nothing into the other's workdir
  assert json.loads((workdir / "results.json").read_text())["status"] == "trained"
