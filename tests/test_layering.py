"""The design's arrows, read from the imports of every module (imports inside functions count).

- ``train/`` (the engine) imports no model, task, area or data code: only itself, ``errors``,
  ``plotting`` and ``cpu`` (the step builders say which platform they compile for).
- ``models/`` imports no optax, no ``train/``, no ``data/`` and no file-handling code.
- ``layers/`` and ``classifiers/`` (the course's from-scratch code) import only jax / numpy and
  each other (plus the standard library and ``errors``).
- Only ``train/checkpoint.py`` imports orbax.
- No import cycles between modules (a package's ``__init__`` re-exporting its children excepted).
"""

from __future__ import annotations

import ast
import pathlib
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1] / "cs231n_jax"
PACKAGE = "cs231n_jax"


def module_name(path: pathlib.Path) -> str:
  parts = path.relative_to(ROOT.parent).with_suffix("").parts
  return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in ROOT.rglob("*.py")}


def imports_of(name: str) -> set[str]:
  """Every module name ``name`` imports, absolute, anywhere in the file."""
  path = MODULES[name]
  package = name if path.name == "__init__.py" else name.rpartition(".")[0]
  out = set()
  for node in ast.walk(ast.parse(path.read_text())):
    if isinstance(node, ast.Import):
      out.update(a.name for a in node.names)
    elif isinstance(node, ast.ImportFrom):
      base = node.module or ""
      if node.level:
        parts = package.split(".")
        parts = parts[: len(parts) - (node.level - 1)]
        base = ".".join(parts + ([base] if base else []))
      out.add(base)
      out.update(f"{base}.{a.name}" for a in node.names)
  return out


def internal(target: str) -> str | None:
  """The project module ``target`` names (its longest known prefix), or None for third-party."""
  while target and target not in MODULES:
    target = target.rpartition(".")[0]
  return target or None


def room(name: str) -> str:
  parts = name.split(".")
  return parts[1] if len(parts) > 1 else ""


GRAPH = {m: {t for t in map(internal, imports_of(m)) if t and t != m} for m in MODULES}
THIRD_PARTY = {m: {i.split(".")[0] for i in imports_of(m) if not i.startswith(PACKAGE)} for m in MODULES}


def violations_of(rooms: tuple[str, ...], allowed_rooms: set[str], allowed_third_party: set[str] | None):
  found = []
  for m in sorted(MODULES):
    if room(m) not in rooms:
      continue
    found += [f"{m} -> {t}" for t in sorted(GRAPH[m]) if room(t) not in allowed_rooms]
    if allowed_third_party is not None:
      extra = THIRD_PARTY[m] - allowed_third_party - set(sys.stdlib_module_names) - {"__future__"}
      found += [f"{m} -> {t}" for t in sorted(extra)]
  return found


def test_the_engine_knows_no_model_task_area_or_data():
  assert violations_of(("train",), {"train", "errors", "plotting", "cpu"}, None) == []


def test_models_import_no_optax_engine_or_data():
  found = violations_of(("models",), {"models", "nn", "errors", "layers"}, None)
  found += [f"{m} -> optax" for m in MODULES if room(m) == "models" and "optax" in THIRD_PARTY[m]]
  assert found == []


def test_course_layers_and_classifiers_import_only_jax_and_numpy():
  assert violations_of(("layers",), {"layers", "errors"}, {"jax", "numpy"}) == []
  assert violations_of(("classifiers",), {"classifiers", "layers", "errors"}, {"jax", "numpy"}) == []


def test_only_the_checkpoint_module_imports_orbax():
  importers = sorted(m for m in MODULES if "orbax" in THIRD_PARTY[m])
  assert importers == ["cs231n_jax.train.checkpoint"]


def strongly_connected(graph: dict[str, set[str]]) -> list[list[str]]:
  """Tarjan's algorithm (iterative); components of more than one module."""
  index, low, stack, on_stack, out, counter = {}, {}, [], set(), [], [0]
  for root in graph:
    if root in index:
      continue
    work = [(root, iter(sorted(graph[root])))]
    index[root] = low[root] = counter[0]
    counter[0] += 1
    stack.append(root)
    on_stack.add(root)
    while work:
      v, children = work[-1]
      for w in children:
        if w not in index:
          index[w] = low[w] = counter[0]
          counter[0] += 1
          stack.append(w)
          on_stack.add(w)
          work.append((w, iter(sorted(graph[w]))))
          break
        if w in on_stack:
          low[v] = min(low[v], index[w])
      else:
        work.pop()
        if work:
          low[work[-1][0]] = min(low[work[-1][0]], low[v])
        if low[v] == index[v]:
          component = []
          while True:
            w = stack.pop()
            on_stack.discard(w)
            component.append(w)
            if w == v:
              break
          if len(component) > 1:
            out.append(sorted(component))
  return out


def test_no_import_cycles():
  # A package's __init__ importing its own children is a re-export, not a cycle.
  graph = {m: {t for t in ts if not t.startswith(m + ".")} for m, ts in GRAPH.items()}
  assert strongly_connected(graph) == []


@pytest.mark.parametrize("graph,expected", [
    ({"a": {"b"}, "b": {"a"}, "c": set()}, [["a", "b"]]),
    ({"a": {"b"}, "b": {"c"}, "c": set()}, []),
])
def test_the_cycle_finder_finds_cycles(graph, expected):
  assert strongly_connected(graph) == expected
