"""Test set-up: JAX sees 8 host CPU devices, so sharded and pmap steps are tested for real.

The flag must be set before jax is imported anywhere in the test process.
"""

import os
import shutil
import tempfile

os.environ["XLA_FLAGS"] = (
    os.environ.get("XLA_FLAGS", "") + " --xla_force_host_platform_device_count=8"
).strip()
os.environ.setdefault("MPLBACKEND", "Agg")

# One persistent compilation cache per test run, shared by both xdist workers and by every process the
# tests start (CLI runs, notebook kernels, multi-process runs): a program compiled a second time — a
# killed run restarted, the same step in another process, a study run again to check it resumes — is
# loaded instead of compiled. It starts empty (as on CI) and is removed when the run ends. JAX reads
# these variables when it is imported, here and in the subprocesses, which inherit them.
_RUN_ID = os.environ.get("PYTEST_XDIST_TESTRUNUID") or f"{os.getpid()}"
COMPILATION_CACHE = os.path.join(tempfile.gettempdir(), f"cs231n_jax_tests_xla_cache_{os.getuid()}_{_RUN_ID}")
if os.environ.get("CS231N_JAX_TEST_COMPILATION_CACHE", "1") == "1":
  os.environ.setdefault("JAX_COMPILATION_CACHE_DIR", COMPILATION_CACHE)
  os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0")
  os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES", "0")

import cs231n_jax  # noqa: E402,F401  (sets the library's XLA:CPU flag, as a user's import does)

# isort: split
import jax  # noqa: E402
import pytest  # noqa: E402


@pytest.fixture(scope="session")
def devices():
  assert jax.device_count() == 8, "tests expect 8 simulated host devices"
  return jax.devices()


def pytest_sessionfinish(session):
  if not hasattr(session.config, "workerinput"):  # the controller (or the only process): after every worker
    shutil.rmtree(COMPILATION_CACHE, ignore_errors=True)
