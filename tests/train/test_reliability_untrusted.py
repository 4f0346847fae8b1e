"""Hostile files outside the data readers: the CPU kernel cache is verified against its sidecar
before loading (a library whose bytes or build key changed is rebuilt, not loaded; one in a cache
other users can write is refused), and converted weights are read without running pickled code."""

import collections
import os
import pickle
import sys
import zipfile

import pytest

from cs231n_jax.cpu import kernels

FAKE_CXX = """import sys
args = sys.argv[1:]
if args == ["--version"]:
    print("fakecxx 1.0")
    sys.exit(0)
out = args[args.index("-o") + 1]
open(out, "wb").write(b"a library built from " + open(args[args.index("-o") - 1], "rb").read()[:32])
with open(sys.argv[0] + ".count", "a") as f:
    f.write("x")
"""


@pytest.fixture
def fake_cxx(tmp_path, monkeypatch):
  script = tmp_path / "fakecxx.py"
  script.write_text(FAKE_CXX)
  cache = tmp_path / "cache"
  monkeypatch.setenv("CS231N_JAX_KERNEL_CACHE", str(cache))
  builds = lambda: len((tmp_path / "fakecxx.py.count").read_text()) if (tmp_path / "fakecxx.py.count").exists() else 0
  return [sys.executable, str(script)], builds


def test_kernel_cache_is_verified_before_it_is_loaded(fake_cxx):
  cxx, builds = fake_cxx
  library = kernels.build(cxx)
  good = library.read_bytes()
  assert builds() == 1 and kernels.verify(library, kernels.build_key(cxx)) is None
  assert kernels.build(cxx) == library and builds() == 1  # verified: reused, not rebuilt

  library.write_bytes(good + b"\x90 injected")  # someone replaced the cached library
  assert kernels.verify(library, kernels.build_key(cxx)) == "its bytes do not match the sidecar's SHA-256"
  with pytest.warns(RuntimeWarning, match="is not loaded: its bytes do not match"):
    assert kernels.build(cxx) == library
  assert builds() == 2 and library.read_bytes() == good

  kernels.sidecar_path(library).write_text('{"build_key": "other", "library_sha256": "0"}')
  assert kernels.verify(library, kernels.build_key(cxx)) == "its sidecar names another source or build flags"
  kernels.sidecar_path(library).write_text("")
  assert kernels.verify(library, kernels.build_key(cxx)) == "it has no sidecar hash"
  with pytest.warns(RuntimeWarning, match="no sidecar hash"):
    kernels.build(cxx)
  assert builds() == 3 and kernels.verify(library, kernels.build_key(cxx)) is None


def test_a_cache_other_users_can_write_is_not_loaded(fake_cxx):
  cxx, _ = fake_cxx
  library = kernels.build(cxx)
  assert kernels.unsafe_location(library) is None
  os.chmod(library.parent, 0o777)
  try:
    assert "is writable by other users (mode 777)" in kernels.unsafe_location(library)
  finally:
    os.chmod(library.parent, 0o755)


class _Payload:
  def __init__(self, marker):
    self.marker = marker

  def __reduce__(self):
    return (os.system, (f"touch {self.marker}",))


def test_converted_weights_are_read_without_running_code(tmp_path):
  from cs231n_jax.convert import WeightMismatchError, load_state_dict

  marker = tmp_path / "pwned"
  path = tmp_path / "weights.pth"
  with zipfile.ZipFile(path, "w") as z:
    z.writestr("weights/data.pkl", pickle.dumps(collections.OrderedDict(w=_Payload(marker)), protocol=2))
    z.writestr("weights/byteorder", "little")
  with pytest.raises(WeightMismatchError, match=r"--weights: .*refused to load global (posix|os)\.system"):
    load_state_dict(path)
  assert not marker.exists()
