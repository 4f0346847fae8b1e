"""Every failure of `cs231n-jax` is one line on stderr with a documented exit code; the traceback
goes to <workdir>/error.log (or the terminal with --verbose). Hostile data files are refused."""

import os
import pickle
import sys
from pathlib import Path

import numpy as np
import pytest

from cs231n_jax import cli
from cs231n_jax.cli import main
from cs231n_jax.command_line import EXIT_INTERNAL, EXIT_USAGE
from cs231n_jax.data import cifar10
from cs231n_jax.errors import DataError
from cs231n_jax.safe_pickle import UnsafePickleError

TINY = str(Path(__file__).parents[1] / "train" / "resume_config.py")


def one_line(capsys, prefix="cs231n-jax: error: "):
  lines = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
  assert len(lines) == 1, lines
  assert lines[0].startswith(prefix), lines
  return lines[0]


def write_config(tmp_path, body):
  path = tmp_path / "bad_config.py"
  path.write_text(body)
  return str(path)


def test_get_config_that_raises(tmp_path, capsys):
  cfg = write_config(tmp_path, "def get_config():\n  x = 1\n  raise KeyError('lr')\n")
  assert main(["train", "--config", cfg, "--workdir", str(tmp_path / "w")]) == EXIT_USAGE
  line = one_line(capsys)
  assert f"--config: {cfg} line 3: get_config() raised KeyError" in line
  assert not (tmp_path / "w").exists()  # nothing made for a config that does not load


def test_config_importing_a_missing_module(tmp_path, capsys):
  cfg = write_config(tmp_path, "import no_such_module_xyz\n\ndef get_config():\n  return None\n")
  assert main(["train", "--config", cfg, "--workdir", str(tmp_path / "w")]) == EXIT_USAGE
  assert "imports 'no_such_module_xyz', which is not installed" in one_line(capsys)


def test_negative_width_fails_at_initialisation_in_one_line(tmp_path, capsys):
  assert main(["train", "--config", TINY, "--workdir", str(tmp_path / "w"), "--config.model.hidden_dims=(-5,)",
               "--config.data.view=8x8x1"]) == EXIT_USAGE
  line = one_line(capsys)
  assert "model: initialisation failed" in line and "model.hidden_dims = (-5,)" in line


def test_workdir_that_is_a_file(tmp_path, capsys):
  f = tmp_path / "f"
  f.write_text("")
  assert main(["train", "--config", TINY, "--workdir", str(f), "--config.data.view=8x8x1"]) == EXIT_USAGE
  assert f"--workdir: {f} is a file, expected a directory" in one_line(capsys)


def test_runner_override_limited_to_the_project(tmp_path, capsys):
  assert main(["train", "--config", TINY, "--workdir", str(tmp_path / "w"), "--config.runner=os:system"]) == EXIT_USAGE
  assert "--config.runner: expected a 'cs231n_jax.<module>:<function>'" in one_line(capsys)


def test_an_unexpected_error_is_one_line_exit_70_traceback_in_the_workdir(tmp_path, capsys, monkeypatch):
  def boom(*args, **kwargs):
    raise RuntimeError("boom\nsecond line")

  monkeypatch.setattr(cli, "run_experiment", boom)
  workdir = tmp_path / "w"
  assert main(["train", "--config", TINY, "--workdir", str(workdir)]) == EXIT_INTERNAL
  line = one_line(capsys, "cs231n-jax: internal error")
  assert "RuntimeError: boom" in line and f"(details in {workdir / 'error.log'})" in line
  log = (workdir / "error.log").read_text()
  assert "Traceback (most recent call last)" in log and "second line" in log
  assert main(["train", "--config", TINY, "--workdir", str(workdir), "--verbose"]) == EXIT_INTERNAL
  err = capsys.readouterr().err
  assert "Traceback (most recent call last)" in err and err.strip().splitlines()[-1].startswith("cs231n-jax: internal error")


def test_warnings_are_one_line_each_and_not_repeated(capsys):
  import warnings

  with cli.FailureLog(verbose=False):
    for _ in range(2):
      warnings.warn("checkpoint step 3 is unreadable\nmore", RuntimeWarning, stacklevel=1)
  lines = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
  assert lines == ["cs231n-jax: warning: checkpoint step 3 is unreadable"]


# -- CIFAR-10 files -----------------------------------------------------------------------------

def write_batch(path, data, labels, protocol=2):
  path.write_bytes(pickle.dumps({b"data": data, b"labels": labels, b"batch_label": b"x"}, protocol=protocol))


def cifar_folder(tmp_path, n=220, meta=None):
  folder = tmp_path / cifar10.FOLDER
  folder.mkdir()
  rng = np.random.default_rng(0)
  for name in (*cifar10.TRAIN_FILES, cifar10.TEST_FILE):
    write_batch(folder / name, rng.integers(0, 256, (n, 3072), dtype=np.uint8), [int(x) for x in rng.integers(0, 10, n)])
  names = [f"class{i}".encode() for i in range(10)]
  (folder / cifar10.META_FILE).write_bytes(meta if meta is not None else pickle.dumps({b"label_names": names}))
  return folder


def test_truncated_batches_meta_in_one_line_through_the_command(tmp_path, capsys):
  good = pickle.dumps({b"label_names": [f"c{i}".encode() for i in range(10)]})
  folder = cifar_folder(tmp_path, meta=good[: len(good) // 2])
  assert main(["train", "--config", TINY, "--workdir", str(tmp_path / "w"), "--config.data.name=cifar10",
               f"--config.data.dir={tmp_path}", f"--config.data.cache_dir={tmp_path / 'cache'}"]) == EXIT_USAGE
  line = one_line(capsys)
  assert f"{folder / cifar10.META_FILE}: not a CIFAR-10 pickle" in line


def test_string_labels_and_empty_batches_are_named(tmp_path):
  path = tmp_path / "b"
  write_batch(path, np.zeros((2, 3072), np.uint8), ["cat", "dog"])
  with pytest.raises(DataError, match=r"b'labels' must be integers in \[0, 10\), got str values"):
    cifar10.read_batch(path)
  write_batch(path, np.zeros((0, 3072), np.uint8), [])
  with pytest.raises(DataError, match="holds no images"):
    cifar10.read_batch(path)
  write_batch(path, np.zeros((2, 3072), np.uint8), [1, 2])
  images, labels = cifar10.read_batch(path)
  assert images.shape == (2, 32, 32, 3) and labels.tolist() == [1, 2]


class _Payload:
  def __init__(self, marker):
    self.marker = marker

  def __reduce__(self):
    return (os.system, (f"touch {self.marker}",))


def test_a_cifar_file_that_would_run_code_is_refused(tmp_path):
  marker = tmp_path / "pwned"
  path = tmp_path / "data_batch_1"
  path.write_bytes(pickle.dumps({b"data": _Payload(marker), b"labels": [1]}, protocol=2))
  with pytest.raises(UnsafePickleError, match=r"data_batch_1: refused to load global (posix|os)\.system"):
    cifar10.read_batch(path)
  meta = tmp_path / cifar10.META_FILE
  meta.write_bytes(pickle.dumps({b"label_names": _Payload(marker)}))
  with pytest.raises(UnsafePickleError, match="system"):
    cifar10.read_class_names(tmp_path)
  assert not marker.exists()


def test_the_module_docstring_documents_every_exit_code():
  from cs231n_jax import command_line

  for code in (0, 1, 2, 3, 4, 70):
    assert f"\n{code} " in command_line.__doc__
  assert sys.modules["cs231n_jax.command_line"].EXIT_USAGE == 2
