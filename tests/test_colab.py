"""The notebooks' install cell (cs231n_jax/colab.py): which command it runs where, and the README's
Colab badges."""

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from cs231n_jax import colab

ROOT = Path(__file__).parents[1]
NOTEBOOKS = sorted((ROOT / "colab").glob("*.ipynb"))
PIP = [sys.executable, "-m", "pip", "install", "-q"]
CONSTRAINT = ["--constraint", colab.CONSTRAINTS_FILE]
# What Colab runtimes ship (versions made up for the test: only their being kept matters).
COLAB_CPU = {"jax": "0.7.2", "jaxlib": "0.7.2"}
COLAB_TPU = {"jax": "0.7.2", "jaxlib": "0.7.2", "libtpu": "0.0.21"}
COLAB_GPU = {"jax": "0.7.2", "jaxlib": "0.7.2", "jax-cuda12-plugin": "0.7.2", "jax-cuda12-pjrt": "0.7.2"}


def test_fresh_colab_cpu_runtime_installs_from_pypi_keeping_jax():
  assert colab.install_command("cs231n-jax", False, COLAB_CPU) == PIP + ["cs231n-jax"] + CONSTRAINT
  assert colab.constraints(COLAB_CPU) == "jax==0.7.2\njaxlib==0.7.2\n"


def test_tpu_runtime_keeps_jax_jaxlib_and_libtpu():
  assert colab.install_command("cs231n-jax", False, COLAB_TPU) == PIP + ["cs231n-jax"] + CONSTRAINT
  assert colab.constraints(COLAB_TPU).splitlines() == ["jax==0.7.2", "jaxlib==0.7.2", "libtpu==0.0.21"]


def test_gpu_runtime_keeps_the_cuda_plugin():
  assert set(colab.constraints(COLAB_GPU).splitlines()) >= {"jax-cuda12-plugin==0.7.2", "jax-cuda12-pjrt==0.7.2"}


@pytest.mark.parametrize("source", [
    "git+https://github.com/your-org/cs231n_jax",
    "git+https://github.com/your-org/cs231n_jax@v0.1.0",
    "/content/drive/MyDrive/cs231n_jax-0.1.0-py3-none-any.whl",
    "cs231n-jax==0.1.0",
])
def test_a_source_from_the_form_field_is_what_pip_installs(source):
  assert colab.install_command(f"  {source} ", False, COLAB_TPU) == PIP + [source] + CONSTRAINT


def test_blank_source_means_pypi():
  assert colab.install_command("", False, COLAB_CPU)[len(PIP)] == "cs231n-jax"


def test_inside_a_checkout_nothing_is_installed():
  assert colab.install_command("cs231n-jax", True, COLAB_TPU) is None
  assert colab.install_command("git+https://github.com/your-org/cs231n_jax", True, {}) is None


def test_without_jax_nothing_is_pinned():
  assert colab.install_command("cs231n-jax", False, {}) == PIP + ["cs231n-jax"]
  assert colab.constraints({}) == ""


def test_never_an_editable_install_or_another_pip_option():
  for versions in ({}, COLAB_TPU):
    assert "-e" not in colab.install_command("cs231n-jax", False, versions)
  with pytest.raises(ValueError, match="SOURCE"):
    colab.install_command("-e /content/cs231n_jax", False, COLAB_CPU)


def test_this_test_runs_in_a_checkout():
  assert colab.in_checkout()
  assert not colab.in_checkout(ROOT / "colab")


def test_installed_versions_reads_this_python():
  found = colab.installed_versions()
  import jax

  assert found["jax"] == jax.__version__
  assert set(found) <= set(colab.PINNED_DISTRIBUTIONS)


def test_setup_in_a_checkout_runs_nothing():
  assert colab.setup("cs231n-jax", run=lambda *a, **k: pytest.fail("pip ran inside the checkout")) is None


def test_setup_on_a_fresh_tpu_runtime_writes_the_constraints_and_runs_pip(monkeypatch, tmp_path):
  constraints = tmp_path / "constraints.txt"
  monkeypatch.setattr(colab, "in_checkout", lambda: False)
  monkeypatch.setattr(colab, "installed_versions", lambda: COLAB_TPU)
  monkeypatch.setattr(colab, "CONSTRAINTS_FILE", str(constraints))
  ran = []
  command = colab.setup("cs231n-jax", run=lambda cmd, check: ran.append((cmd, check)))
  assert ran == [(PIP + ["cs231n-jax", "--constraint", str(constraints)], True)]
  assert command == ran[0][0]
  assert constraints.read_text() == "jax==0.7.2\njaxlib==0.7.2\nlibtpu==0.0.21\n"


def test_setup_with_a_missing_wheel_says_to_mount_drive(monkeypatch):
  monkeypatch.setattr(colab, "in_checkout", lambda: False)
  with pytest.raises(FileNotFoundError, match="drive.mount"):
    colab.setup("/content/drive/MyDrive/missing-0.1.0-py3-none-any.whl",
                run=lambda *a, **k: pytest.fail("pip ran for a missing file"))


def test_setup_explains_a_pip_conflict(monkeypatch, tmp_path):
  monkeypatch.setattr(colab, "in_checkout", lambda: False)
  monkeypatch.setattr(colab, "installed_versions", lambda: COLAB_TPU)
  monkeypatch.setattr(colab, "CONSTRAINTS_FILE", str(tmp_path / "c.txt"))

  def conflict(cmd, check):
    raise subprocess.CalledProcessError(1, cmd)

  with pytest.raises(RuntimeError, match="libtpu==0.0.21"):
    colab.setup("cs231n-jax", run=conflict)


def test_colab_module_needs_only_the_standard_library():
  code = "import sys; import cs231n_jax.colab; print(sorted(m for m in ('jax', 'numpy', 'flax') if m in sys.modules))"
  out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
  assert out.strip() == "[]"


# -- the notebooks' first code cell ---------------------------------------------------------------


def first_code_cell(path):
  return next("".join(c["source"]) for c in json.loads(path.read_text())["cells"] if c["cell_type"] == "code")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_every_notebook_starts_with_the_install_cell(path):
  cell = first_code_cell(path)
  assert 'SOURCE = "cs231n-jax"  #@param {type:"string"}' in cell
  assert "from cs231n_jax import colab; colab.setup(SOURCE)" in cell
  assert '"--no-deps", SOURCE' in cell  # the bootstrap installs the package alone
  assert "TPU" in cell  # says what it does on a TPU runtime
  assert '"-e"' not in cell and "/content/" not in cell


def test_the_install_cell_runs_here_and_installs_nothing(tmp_path):
  """The cell, executed as the notebook runner does (working directory colab/): uses the checkout."""
  code = first_code_cell(NOTEBOOKS[0])
  out = subprocess.run([sys.executable, "-c", code], cwd=ROOT / "colab", capture_output=True, text=True,
                       check=True).stdout
  assert "using the checkout" in out


# -- README badges ------------------------------------------------------------------------------

BADGE = re.compile(r"\(https://colab\.research\.google\.com/github/([^/]+/[^/]+)/blob/([^/]+)/colab/([^)]+)\)")


def test_every_notebook_has_its_badge_in_the_readme():
  readme = (ROOT / "README.md").read_text()
  assert colab.badges_table() in readme  # regenerate with: python -m cs231n_jax.colab --write-readme
  for path in NOTEBOOKS:
    assert colab.badge(path.name) in readme, path.name


def test_every_badge_points_at_an_existing_notebook_of_the_one_repository():
  badges = BADGE.findall((ROOT / "README.md").read_text())
  assert len(badges) == len(NOTEBOOKS)
  for repo, branch, name in badges:
    assert (repo, branch) == (colab.COLAB_REPO, colab.COLAB_BRANCH)
    assert (ROOT / "colab" / name).is_file(), name


def test_the_repository_is_set_in_one_place():
  hits = [p for p in (ROOT / "cs231n_jax").rglob("*.py") if colab.COLAB_REPO in p.read_text()]
  assert hits == [ROOT / "cs231n_jax" / "colab.py"]


def test_badges_follow_the_setting(tmp_path):
  readme = tmp_path / "README.md"
  readme.write_text(f"intro\n{colab.README_BEGIN}\nold\n{colab.README_END}\nrest\n")
  assert colab.write_readme(readme, ROOT)
  text = readme.read_text()
  assert text.startswith("intro\n") and text.endswith("\nrest\n") and "old" not in text
  assert not colab.write_readme(readme, ROOT)  # idempotent
  assert "github/someone/else/blob" in colab.badges_table(ROOT, repo="someone/else")
