"""Full and read-only disks: one line, exit 4, the process exits (no hang on orbax's threads), the
newest complete checkpoint kept and never more than `keep`, and the run resumes once there is room.

A full disk is a small tmpfs where the test can mount one (root), else a file-size limit
(RLIMIT_FSIZE) on the training process."""

import contextlib
import errno
import os
import resource
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from cs231n_jax.cli import main
from cs231n_jax.command_line import EXIT_STORAGE

CONFIG = str(Path(__file__).with_name("resume_config.py"))
# ~3.5 MB a checkpoint (fc_net 64-512-512-10 with batch norm: parameters, momentum, the best copy).
SIZES = ["--config.data.view=8x8x1", "--config.train.num_steps=40", "--config.train.eval_every=20",
         "--config.train.checkpoint_every=10", "--config.train.keep_checkpoints=2"]


def mount_tmpfs(target: Path, options: str) -> bool:
  target.mkdir(parents=True, exist_ok=True)
  if os.geteuid() != 0:
    return False
  return subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(target)], capture_output=True).returncode == 0


@contextlib.contextmanager
def mounted(target: Path, options: str):
  ok = mount_tmpfs(target, options)
  try:
    yield ok
  finally:
    if ok:
      subprocess.run(["umount", "-l", str(target)], capture_output=True)


def limit_file_size(limit):
  def preexec():
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG instead of killing
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
  return preexec


def steps_on_disk(workdir):
  d = Path(workdir) / "checkpoints"
  return sorted(int(p.name) for p in d.iterdir() if p.name.isdigit()) if d.exists() else []


def test_disk_full_during_a_save(tmp_path):
  disk = tmp_path / "disk"
  with mounted(disk, "size=6m") as small_tmpfs:
    workdir = disk / "run"
    cmd = [sys.executable, "-m", "cs231n_jax.cli", "train", "--config", CONFIG, "--workdir", str(workdir), *SIZES]
    p = subprocess.run(cmd, env={**os.environ, "XLA_FLAGS": ""}, capture_output=True, text=True, timeout=300,
                       preexec_fn=None if small_tmpfs else limit_file_size(1 << 20))
    assert p.returncode == EXIT_STORAGE, p.stderr[-3000:]  # and it exited: the timeout would have caught a hang
    lines = [line for line in p.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, lines
    reason = "no space left on device" if small_tmpfs else "file too large"
    assert lines[0].startswith("cs231n-jax: error: checkpoint step ") and f"save failed ({reason})" in lines[0], lines
    assert "the newest complete checkpoint is step" in lines[0] or "no complete checkpoint exists yet" in lines[0]
    log = Path(lines[0].rsplit("(details in ", 1)[1].rstrip(")"))
    assert "Traceback" in log.read_text()
    assert len(steps_on_disk(workdir)) <= 2
    if small_tmpfs:  # room again: the same command resumes from the newest complete checkpoint
      before = steps_on_disk(workdir)
      subprocess.run(["mount", "-o", "remount,size=64m", str(disk)], check=True)
      assert main(["train", "--config", CONFIG, "--workdir", str(workdir), *SIZES]) == 0
      assert steps_on_disk(workdir) == [30, 40] and before and before[-1] < 40
      assert not [p for p in (workdir / "checkpoints").iterdir() if "tmp" in p.name]  # the failed save cleaned up


def test_read_only_workdir(tmp_path, capsys, monkeypatch):
  ro = tmp_path / "ro"
  with mounted(ro, "size=1m,ro") as read_only_mount:
    if not read_only_mount:
      if os.geteuid() != 0:
        ro.chmod(0o555)
      else:  # root without mount: the filesystem answers every create under ro with EROFS
        real_open = os.open

        def refusing_open(path, flags, *args, **kwargs):
          if str(path).startswith(str(ro)) and flags & os.O_CREAT:
            raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(path))
          return real_open(path, flags, *args, **kwargs)

        monkeypatch.setattr(os, "open", refusing_open)
    assert main(["train", "--config", CONFIG, "--workdir", str(ro), *SIZES]) == EXIT_STORAGE
    lines = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith(f"cs231n-jax: error: --workdir: cannot create {ro}/.lock ("), lines
    assert "read-only file system" in lines[0] or "permission denied" in lines[0]
  ro.chmod(0o755)


def test_storage_errors_map_to_exit_4():
  from cs231n_jax.command_line import exit_code, one_line

  e = OSError(errno.ENOSPC, "No space left on device", "/w/metrics.jsonl")
  assert exit_code(e) == EXIT_STORAGE and one_line(e) == "/w/metrics.jsonl: no space left on device"
  assert exit_code(OSError(errno.EROFS, "Read-only file system")) == EXIT_STORAGE
  assert exit_code(RuntimeError("boom")) == 70


def test_metrics_rewrite_is_atomic_under_a_full_disk(tmp_path, monkeypatch):
  """A write that fails part-way leaves the previous complete file and no temporary."""
  from cs231n_jax.train import metrics

  path = tmp_path / "metrics.jsonl"
  metrics.write_whole(path, '{"step": 1}\n')
  real_fsync = os.fsync

  def full(fd):
    raise OSError(errno.ENOSPC, "No space left on device")

  monkeypatch.setattr(os, "fsync", full)
  with pytest.raises(OSError):
    metrics.write_whole(path, '{"step": 1}\n{"step": 2}\n')
  monkeypatch.setattr(os, "fsync", real_fsync)
  assert path.read_text() == '{"step": 1}\n' and [p.name for p in tmp_path.iterdir()] == ["metrics.jsonl"]
