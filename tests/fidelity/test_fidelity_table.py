"""docs/fidelity.md: every row names its inventory line and one of the table's statuses; every test and
file it cites exists; the summary counts are the rows' counts."""
import ast
import collections
import functools
import pathlib
import re

ROOT = pathlib.Path(__file__).resolve().parents[2]
TABLE = ROOT / "docs" / "fidelity.md"
INVENTORIES = ("004a", "004b", "004c", "003", "002", "000_001")
STATUSES = ("reproduced", "built", "measured", "text error corrected", "not reproducible here", "not covered",
            "not a checkable number")
PIPE = re.compile(r"(?<!\\)\|")  # "\|" is a pipe inside a cell


def cells_of(line):
  return [c.strip() for c in PIPE.split(line.strip().strip("|"))]


def rows():
  """(line number, [inventory line, the course says, status, where]) for every row of the inventory tables."""
  for number, line in enumerate(TABLE.read_text().splitlines(), 1):
    if re.match(r"^\| (" + "|".join(INVENTORIES) + r"):\d", line):
      yield number, cells_of(line)


def status_of(cell):
  text = cell.lstrip("*")
  return next((s for s in STATUSES if text.startswith(s)), None)


@functools.cache
def defined_functions(path):
  """Names of the functions defined at any level of a test module."""
  tree = ast.parse(path.read_text())
  return {node.name for node in ast.walk(tree) if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))}


def test_every_row_has_four_cells_a_status_and_something_to_check_it_by():
  table = list(rows())
  assert len(table) > 300
  assert {cells[0].split(":")[0] for _, cells in table} == set(INVENTORIES)
  bad = [(number, cells[:3]) for number, cells in table if len(cells) != 4 or status_of(cells[2]) is None]
  assert not bad, bad
  # A reproduced or measured row says where: a test, docs/results.md or docs/benchmarks.md.
  bad = [number for number, cells in table if status_of(cells[2]) in ("reproduced", "measured")
         and not re.search(r"tests/|docs/results\.md|docs/benchmarks\.md", cells[3])]
  assert not bad, bad


def test_every_cited_test_exists():
  cited = sorted({m.groups() for _, cells in rows() for m in re.finditer(r"`(tests/[\w/]+\.py)::(\w+)`", cells[3])})
  assert len(cited) > 200
  missing = [f"{path}::{name}" for path, name in cited
             if not (ROOT / path).is_file() or name not in defined_functions(ROOT / path)]
  assert not missing, missing


def test_every_cited_file_exists():
  cited = {m.group(1) for _, cells in rows()
           for m in re.finditer(r"`((?:cs231n_jax|experiments|tests|docs)/[\w/.-]+)`", cells[3])}
  missing = sorted(p for p in cited if not (ROOT / p).exists())
  assert not missing, missing


def test_the_summary_counts_are_the_rows_counts():
  counts = collections.defaultdict(collections.Counter)
  for _, cells in rows():
    counts[cells[0].split(":")[0]][status_of(cells[2])] += 1
  summary = {}
  for line in TABLE.read_text().splitlines():
    cells = cells_of(line)
    if cells[0] in INVENTORIES + ("all",) and len(cells) == len(STATUSES) + 2:
      summary[cells[0]] = [int(c) for c in cells[1:]]
  assert set(summary) == set(INVENTORIES) | {"all"}
  for name in INVENTORIES:
    assert summary[name] == [sum(counts[name].values())] + [counts[name][s] for s in STATUSES], name
  assert summary["all"] == [sum(summary[n][i] for n in INVENTORIES) for i in range(len(STATUSES) + 1)]


def test_every_quoted_results_section_exists():
  """`docs/results.md` "Section" in a row names a heading of docs/results.md (a prefix or part of it)."""
  headings = [line.lstrip("#").strip() for line in (ROOT / "docs" / "results.md").read_text().splitlines()
              if line.startswith("#")]
  quoted = {name for _, cells in rows() for m in re.finditer(r'`docs/results\.md`((?: "[^"]+",?)+)', cells[3])
            for name in re.findall(r'"([^"]+)"', m.group(1))}
  assert len(quoted) > 20
  missing = sorted(name for name in quoted if not any(name.rstrip("…").strip() in h for h in headings))
  assert not missing, missing
