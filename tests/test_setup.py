"""The set-up promises: README starts with the two commands; CI runs the README's test command;
the Makefile installs from the pinned constraints."""

from pathlib import Path

ROOT = Path(__file__).parents[1]


def test_readme_starts_with_the_two_commands():
  first = ROOT.joinpath("README.md").read_text().splitlines()[:2]
  assert [line.strip() for line in first] == ["make demo", "make test"]


def test_ci_runs_the_readme_test_command():
  ci = ROOT.joinpath(".ci", "run").read_text()
  assert any(line.strip() == "make test" for line in ci.splitlines())


def test_makefile_installs_the_pinned_set():
  makefile = ROOT.joinpath("Makefile").read_text()
  assert "-c requirements/constraints.txt" in makefile
  pins = ROOT.joinpath("requirements", "constraints.txt").read_text()
  for package in ("jax==", "flax==", "optax==", "orbax-checkpoint==", "chex=="):
    assert package in pins
