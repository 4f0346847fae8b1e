"""The checks table of the geometry study: every check passes and the table is written."""

from cs231n_jax.studies import geometry


def test_checks_table(tmp_path):
  config = geometry.base_config()
  config.figures = False
  results = geometry.run(config, str(tmp_path))
  assert results["all_passed"], [c for c in results["checks"] if not c["passed"]]
  assert len(results["checks"]) == 10
  text = (tmp_path / "geometry_checks.md").read_text()
  assert text.startswith("| check | measured | goal | passed |") and "NO" not in text
