"""A non-editable install works: the wheel, installed into a fresh virtual environment, runs
`cs231n-jax list` and a one-epoch training run from a folder outside the checkout, finding the
experiment configs it ships (cs231n_jax.experiment_configs).

The fresh environment gets the dependencies by a .pth line naming this environment's
site-packages (so nothing is downloaded); the wheel itself is installed with --no-deps, and the
test checks that `cs231n_jax` is imported from the wheel's copy, not from the checkout.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]
# What a build reads: the metadata, setup.py's package list, the README (long description),
# LICENSE, the library and the experiment configs.
SOURCES = ("pyproject.toml", "setup.py", "README.md", "LICENSE", "cs231n_jax", "experiments")
KNOWN_CONFIG = "digits/two_layer_net.py"


def _run(cmd, cwd, env=None, timeout=120):
  proc = subprocess.run([str(c) for c in cmd], cwd=cwd, env=env, capture_output=True, text=True,
                        timeout=timeout)
  assert proc.returncode == 0, (
      f"{' '.join(map(str, cmd))} exited {proc.returncode}\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
  return proc.stdout


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
  """(bin folder of a fresh venv with the wheel installed, a folder outside the checkout, env)."""
  tmp = tmp_path_factory.mktemp("packaging")
  # Build from a copy, so the checkout gets no build/ or egg-info folders.
  src = tmp / "src"
  src.mkdir()
  ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
  for name in SOURCES:
    if (ROOT / name).is_dir():
      shutil.copytree(ROOT / name, src / name, ignore=ignore)
    else:
      shutil.copy2(ROOT / name, src / name)
  dist = tmp / "dist"
  _run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--disable-pip-version-check",
        "-w", dist, src], cwd=tmp, timeout=300)
  (wheel,) = dist.glob("cs231n_jax-*.whl")
  names = zipfile.ZipFile(wheel).namelist()
  assert f"cs231n_jax/experiment_configs/{KNOWN_CONFIG}" in names
  assert "cs231n_jax/cpu/kernels.cc" in names
  assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names)
  shipped = {n.removeprefix("cs231n_jax/experiment_configs/") for n in names
             if n.startswith("cs231n_jax/experiment_configs/")}
  in_checkout = {p.relative_to(ROOT / "experiments" / "configs").as_posix()
                 for p in (ROOT / "experiments" / "configs").rglob("*.py") if "__pycache__" not in p.parts}
  assert shipped == in_checkout

  venv = tmp / "venv"
  _run([sys.executable, "-m", "venv", "--without-pip", venv], cwd=tmp)
  python = venv / "bin" / "python"
  purelib = Path(_run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], cwd=tmp).strip())
  # A plain path line: this environment's .pth files (the checkout's editable finder) stay unread.
  (purelib / "_cs231n_jax_test_deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
  _run([sys.executable, "-m", "pip", "--python", python, "install", "--quiet", "--no-deps",
        "--disable-pip-version-check", wheel], cwd=tmp, timeout=300)

  outside = tmp / "elsewhere"
  outside.mkdir()
  env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "CS231N_JAX_CONFIGS", "XLA_FLAGS")}
  env["MPLBACKEND"] = "Agg"
  where = _run([python, "-c", "import cs231n_jax; print(cs231n_jax.__file__)"], cwd=outside, env=env)
  assert Path(where.strip()).is_relative_to(purelib), f"cs231n_jax imported from {where.strip()}, not the wheel"
  return venv / "bin", outside, env


@pytest.mark.slow
def test_the_wheel_lists_its_configs(installed):
  bin_dir, outside, env = installed
  out = _run([bin_dir / "cs231n-jax", "list"], cwd=outside, env=env)
  names = [ln for ln in out.splitlines() if ln and not ln.startswith(" ")]
  assert KNOWN_CONFIG in names, out[-2000:]
  assert "digits/three_layer_convnet.py" in names


@pytest.mark.slow
def test_the_wheel_trains_a_packaged_config(installed):
  bin_dir, outside, env = installed
  workdir = outside / "run"
  _run([bin_dir / "cs231n-jax", "train", "--config", KNOWN_CONFIG, "--workdir", workdir,
        "--config.train.num_epochs=1"], cwd=outside, env=env, timeout=300)
  results = json.loads((workdir / "results.json").read_text())
  assert results
