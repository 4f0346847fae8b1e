"""The babysitting study: its config errors name the field."""

import pytest

from cs231n_jax.config import load_config
from cs231n_jax.errors import ConfigError
from cs231n_jax.studies import babysitting


def test_bad_babysitting_config_names_the_field(tmp_path):
  c = load_config("techniques/babysitting.py")
  c.epochs = 0
  with pytest.raises(ConfigError, match="epochs: expected a positive integer, got 0"):
    babysitting.run_babysitting(c, str(tmp_path / "epochs"))
  c = load_config("techniques/babysitting.py")
  c.runs.lr_good.init = "xavier"  # was silently skipped: no run, no row, no error
  with pytest.raises(ConfigError, match=r"runs.lr_good.init: expected one of \('he', 'small'\), got 'xavier'"):
    babysitting.run_babysitting(c, str(tmp_path / "init"))
