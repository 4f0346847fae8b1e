"""Every file a run writes goes through etils.epath, so a ``gs://`` workdir stays one.

``pathlib.Path("gs://b/x")`` is the local path ``gs:/b/x``; ``Figure.savefig(path)`` and
``np.save(path)`` open local files. The studies, tasks and areas therefore build workdir paths with
``epath.Path`` and write through the path's own file object (``cs231n_jax.plotting.save_figure``,
``path.open("wb")``). Here a ``gs://`` location is served by fsspec's in-memory file system, and
the source is read for the calls that would bypass it.
"""

import ast
import os
import pathlib
import uuid

import numpy as np
import pytest
from etils import epath
from etils.epath import backend as epath_backend
from fsspec.implementations.memory import MemoryFileSystem

from cs231n_jax.config import load_config
from cs231n_jax.plotting import save_figure, subplots

ROOT = pathlib.Path(__file__).resolve().parents[1] / "cs231n_jax"
ROOMS = ("tasks", "studies", "techniques", "generative", "captioning", "text")


@pytest.fixture
def gs_workdir(monkeypatch, tmp_path):
  """``gs://<fresh bucket>/run`` served from memory; the test runs in an empty local directory, so
  a path that collapsed to a local ``gs:/...`` would show up there."""
  memory = MemoryFileSystem()
  monkeypatch.setattr(type(epath_backend.fsspec_backend), "_get_filesystem", lambda self, name: memory)
  monkeypatch.chdir(tmp_path)
  bucket = f"bucket-{uuid.uuid4().hex[:8]}"
  yield epath.Path(f"gs://{bucket}/run")
  for key in [k for k in memory.store if bucket in k]:
    del memory.store[key]
  memory.pseudo_dirs[:] = [d for d in memory.pseudo_dirs if bucket not in d]
  assert os.listdir(tmp_path) == []


def test_figures_and_arrays_are_written_to_a_gs_workdir(gs_workdir):
  gs_workdir.mkdir(parents=True, exist_ok=True)
  fig, ax = subplots()
  ax.plot([0, 1], [1, 0])
  save_figure(fig, gs_workdir / "figure.png")
  save_figure(fig, str(gs_workdir / "figure.svg"))  # a string path, the format from its suffix
  with (gs_workdir / "samples.npy").open("wb") as f:
    np.save(f, np.arange(6).reshape(2, 3))
  assert (gs_workdir / "figure.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
  assert b"<svg" in (gs_workdir / "figure.svg").read_bytes()[:500]
  with (gs_workdir / "samples.npy").open("rb") as f:
    np.testing.assert_array_equal(np.load(f), np.arange(6).reshape(2, 3))


def test_a_study_writes_its_files_into_a_gs_workdir(gs_workdir):
  from cs231n_jax.techniques import activation_stats

  c = load_config("techniques/activation_statistics.py")
  c.num_layers, c.width, c.num_examples, c.settings = 2, 8, 16, ("tanh_xavier", "relu_he")
  activation_stats.run_activation_statistics(c, str(gs_workdir))
  assert sorted(p.name for p in gs_workdir.iterdir()) == ["activation_statistics.png", "activation_statistics.txt"]
  assert "hidden layer 2 had mean" in (gs_workdir / "activation_statistics.txt").read_text()


def _local_file_calls(tree: ast.AST) -> list[tuple[int, str]]:
  """Calls that would turn a workdir into a local path or write to one directly."""
  found = []
  for node in ast.walk(tree):
    if not isinstance(node, ast.Call):
      continue
    f = node.func
    name = f.id if isinstance(f, ast.Name) else f.attr if isinstance(f, ast.Attribute) else ""
    owner = f.value.id if isinstance(f, ast.Attribute) and isinstance(f.value, ast.Name) else ""
    mentions_workdir = any("workdir" in n.id for a in node.args for n in ast.walk(a) if isinstance(n, ast.Name))
    if name == "Path" and owner in ("", "pathlib") and mentions_workdir:
      found.append((node.lineno, f"{ast.unparse(f)}(<workdir>): use epath.Path"))
    elif name == "savefig" and isinstance(f, ast.Attribute):
      found.append((node.lineno, "Figure.savefig: use cs231n_jax.plotting.save_figure"))
    elif name == "open" and isinstance(f, ast.Name) and mentions_workdir:
      found.append((node.lineno, "open(<workdir path>): use the epath path's .open"))
    elif owner in ("np", "numpy") and name in ("save", "savez", "savez_compressed", "load") and node.args \
        and not isinstance(node.args[0], ast.Name):
      found.append((node.lineno, f"np.{name}(<path>): pass a file from the epath path's .open"))
  return found


def test_no_workdir_file_bypasses_epath():
  found = []
  for room in ROOMS:
    for path in sorted((ROOT / room).rglob("*.py")):
      found += [f"{path.relative_to(ROOT.parent)}:{line}: {what}" for line, what in _local_file_calls(ast.parse(path.read_text()))]
  assert found == []


def test_the_source_check_finds_what_it_forbids():
  source = """
from pathlib import Path
import pathlib
def run(config, workdir):
  out = Path(workdir) / "x"
  pathlib.Path(workdir).mkdir()
  fig.savefig(out / "f.png", dpi=100)
  np.save(out / "a.npy", a)
  with open(workdir + "/t.txt", "w") as f:
    np.save(f, a)
  epath.Path(workdir).mkdir()
"""
  assert sorted(line for line, _ in _local_file_calls(ast.parse(source))) == [5, 6, 7, 8, 9]
