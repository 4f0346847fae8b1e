"""Test set-up: JAX sees 8 host CPU devices, so sharded and pmap steps are tested for real.

The flag must be set before jax is imported anywhere in the test process.
"""

import os

os.environ["XLA_FLAGS"] = (
    os.environ.get("XLA_FLAGS", "") + " --xla_force_host_platform_device_count=8"
).strip()
os.environ.setdefault("MPLBACKEND", "Agg")

import cs231n_jax  # noqa: E402,F401  (sets the library's XLA:CPU flag, as a user's import does)

# isort: split
import jax  # noqa: E402
import pytest  # noqa: E402


@pytest.fixture(scope="session")
def devices():
  assert jax.device_count() == 8, "tests expect 8 simulated host devices"
  return jax.devices()
