"""docs/fidelity.md: every test it cites exists, every row has a known status."""
import ast
import pathlib
import re

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
TABLE = ROOT / "docs" / "fidelity.md"
STATUSES = ("reproduced", "not reproducible", "text error", "text inconsistency", "not covered", "not reached",
            "built", "chosen", "measured", "not a checkable", "nothing to reproduce", "immaterial")


def rows():
  for number, line in enumerate(TABLE.read_text().splitlines(), 1):
    cells = [c.strip() for c in re.split(r"(?<!\\)\|", line.strip().strip("|"))]  # "\\|" is a pipe inside a cell
    if line.startswith("|") and len(cells) == 4 and not set(cells[0]) <= set("-") and cells[0] != "inventory line":
      yield number, cells


def defined_functions(path):
  """Names of the test functions defined at any level of a test module."""
  tree = ast.parse(path.read_text())
  return {node.name for node in ast.walk(tree) if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))}


def test_every_cited_test_exists():
  cited = sorted({m.groups() for _, cells in rows() for m in re.finditer(r"`(tests/[\w/]+\.py)::(\w+)`", cells[3])})
  assert len(cited) > 100
  missing = []
  for path, name in cited:
    file = ROOT / path
    if not file.is_file() or name not in defined_functions(file):
      missing.append(f"{path}::{name}")
  assert not missing, missing


def test_every_cited_file_exists():
  cited = {m.group(1) for _, cells in rows() for m in re.finditer(r"`((?:cs231n_jax|experiments|tests|docs)/[\w/.-]+)`", cells[3])}
  missing = sorted(p for p in cited if not (ROOT / p).exists())
  assert not missing, missing


@pytest.mark.parametrize("check", ["status", "reference"])
def test_every_row_has_a_status_and_an_inventory_reference(check):
  bad = []
  for number, cells in rows():
    if check == "status" and not any(s in cells[2].lower() for s in STATUSES):
      bad.append((number, cells[2][:60]))
    if check == "reference" and not re.match(r"^(004a|004b|004c|003|002|000_001):\d+", cells[0]):
      bad.append((number, cells[0]))
  assert not bad, bad


def test_a_reproduced_row_names_a_test_or_a_measurement():
  bad = [number for number, cells in rows()
         if cells[2].lower().startswith("reproduced") and "tests/" not in cells[3] and "docs/results.md" not in cells[3]]
  assert not bad, bad


def test_every_inventory_row_has_four_cells():
  """A pipe inside a cell must be escaped (\\|), or the row silently gains a column."""
  bad = [number for number, line in enumerate(TABLE.read_text().splitlines(), 1)
         if line.startswith("| 0") and len(re.split(r"(?<!\\)\|", line.strip().strip("|"))) != 4]
  assert not bad, bad
