"""cs231n_jax.safe_pickle: the restricted unpickler refuses code, reads numpy pickles and .pth zips without torch."""

import collections
import os
import pickle
import subprocess
import sys
import zipfile

import numpy as np
import pytest

from cs231n_jax import safe_pickle
from cs231n_jax.errors import DataError


class _Evil:
  def __init__(self, marker):
    self.marker = marker

  def __reduce__(self):
    return (os.system, (f"touch {self.marker}",))


def test_malicious_pickle_is_refused_and_runs_nothing(tmp_path):
  marker = tmp_path / "pwned"
  data = pickle.dumps({b"data": _Evil(marker)}, protocol=2)
  with pytest.raises(safe_pickle.UnsafePickleError) as e:
    safe_pickle.loads(data, safe_pickle.NUMPY, source="data_batch_1")
  msg = str(e.value)
  assert "\n" not in msg and "data_batch_1" in msg
  assert "posix.system" in msg or "os.system" in msg
  assert not marker.exists()
  pickle.loads(data)  # the plain unpickler does run it: the test's payload is real
  assert marker.exists()


def test_malicious_pickle_in_a_fresh_process(tmp_path):
  """A subprocess loads the hostile file through safe_pickle: refused, the command never runs."""
  marker = tmp_path / "pwned"
  path = tmp_path / "evil.pkl"
  path.write_bytes(pickle.dumps(_Evil(marker)))
  code = ("import sys; from cs231n_jax import safe_pickle\n"
          "try:\n  safe_pickle.load(sys.argv[1])\nexcept safe_pickle.UnsafePickleError as e:\n  print(e); sys.exit(3)\n")
  r = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True, timeout=60)
  assert r.returncode == 3, r.stderr
  assert "refused to load global" in r.stdout and "system" in r.stdout
  assert not marker.exists()


@pytest.mark.parametrize("target", ["builtins.eval", "subprocess.Popen", "numpy.load", "torch.load", "builtins.getattr"])
def test_other_globals_refused(target):
  module, name = target.rsplit(".", 1)
  data = b"\x80\x02c" + module.encode() + b"\n" + name.encode() + b"\n."
  with pytest.raises(safe_pickle.UnsafePickleError, match=target.replace(".", r"\.")):
    safe_pickle.loads(data, (safe_pickle.NUMPY, safe_pickle.COLLECTIONS, safe_pickle.TORCH))


@pytest.mark.parametrize("protocol", [2, 4, 5])
def test_numpy_and_containers_round_trip(protocol):
  obj = {b"data": np.arange(12, dtype=np.uint8).reshape(3, 4), b"labels": [1, 2, 3], "f": np.float32(1.5),
         "x": np.arange(6.0).reshape(2, 3).T, "s": "str", "t": (1, None, True), "b": b"\x00\xff"}
  got = safe_pickle.loads(pickle.dumps(obj, protocol=protocol), safe_pickle.NUMPY)
  np.testing.assert_array_equal(got[b"data"], obj[b"data"])
  np.testing.assert_array_equal(got["x"], obj["x"])
  assert got[b"labels"] == [1, 2, 3] and got["f"] == np.float32(1.5) and got["t"] == (1, None, True)
  assert got["b"] == b"\x00\xff" and got["s"] == "str"


def test_ordered_dict_needs_collections():
  data = pickle.dumps(collections.OrderedDict(a=1))
  with pytest.raises(safe_pickle.UnsafePickleError, match="collections.OrderedDict"):
    safe_pickle.loads(data, safe_pickle.NUMPY)
  assert safe_pickle.loads(data, safe_pickle.COLLECTIONS) == {"a": 1}


def test_garbage_is_a_data_error():
  with pytest.raises(DataError, match="not a readable pickle"):
    safe_pickle.loads(b"\x80\x02garbage", safe_pickle.NUMPY, source="f.pkl")


def _fake_pth(path, pickled: bytes, records: dict):
  with zipfile.ZipFile(path, "w") as z:
    z.writestr("archive/data.pkl", pickled)
    z.writestr("archive/byteorder", "little")
    for k, v in records.items():
      z.writestr(f"archive/data/{k}", v)


def test_pth_with_hostile_global_refused(tmp_path):
  marker = tmp_path / "pwned"
  path = tmp_path / "evil.pth"
  _fake_pth(path, pickle.dumps({"w": _Evil(marker)}, protocol=2), {})
  with pytest.raises(safe_pickle.UnsafePickleError, match="system"):
    safe_pickle.load_torch(path)
  assert not marker.exists()


def test_pth_strided_view_out_of_bounds_refused(tmp_path):
  # hand-built pickle: _rebuild_tensor_v2(storage of 4 floats, 0, (10,), (1,), False, OrderedDict())
  body = (b"\x80\x02ctorch._utils\n_rebuild_tensor_v2\n((X\x07\x00\x00\x00storagectorch\nFloatStorage\n"
          b"X\x01\x00\x00\x000X\x03\x00\x00\x00cpuK\x04tQK\x00K\n\x85K\x01\x85\x89ccollections\nOrderedDict\n)RtR.")
  path = tmp_path / "oob.pth"
  _fake_pth(path, body, {"0": np.zeros(4, np.float32).tobytes()})
  with pytest.raises(safe_pickle.UnsafePickleError, match="reads past"):
    safe_pickle.load_torch(path)


def test_a_pickle_that_is_neither_torch_format_is_refused(tmp_path):
  path = tmp_path / "old.pth"
  path.write_bytes(pickle.dumps({"a": 1}))
  with pytest.raises(DataError, match="neither a zip nor the legacy format"):
    safe_pickle.load_torch(path)


def test_legacy_format_read_without_torch(tmp_path):
  # torch < 1.6's stream: magic, protocol, sys info, the object (storages by persistent id), keys, storages.
  class Pickler(pickle.Pickler):
    def persistent_id(self, obj):
      return obj if isinstance(obj, tuple) and obj and obj[0] == "storage" else None

  class FloatStorage:  # pickled as the global torch.FloatStorage
    __module__, __qualname__ = "torch", "FloatStorage"

  import io
  import struct
  import types

  torch_utils = types.ModuleType("torch._utils")
  rebuild = lambda *a: None  # noqa: E731
  rebuild.__module__, rebuild.__qualname__ = "torch._utils", "_rebuild_tensor_v2"
  torch_utils._rebuild_tensor_v2 = rebuild
  fake_torch = types.ModuleType("torch")
  fake_torch.FloatStorage = FloatStorage
  saved = {k: sys.modules.get(k) for k in ("torch", "torch._utils")}
  sys.modules.update({"torch": fake_torch, "torch._utils": torch_utils})
  try:
    class Tensor:
      def __init__(self, storage, offset, size, stride):
        self.args = (storage, offset, size, stride, False, collections.OrderedDict())

      def __reduce__(self):
        return (rebuild, self.args)

    storage = ("storage", FloatStorage, "0", "cpu", 6)
    state = collections.OrderedDict(w=Tensor(storage, 0, (2, 3), (1, 2)), b=Tensor(storage, 4, (2,), (1,)))
    out = io.BytesIO()
    for header in (safe_pickle.LEGACY_MAGIC, safe_pickle.LEGACY_PROTOCOL, {"little_endian": True}):
      pickle.dump(header, out, protocol=2)
    Pickler(out, protocol=2).dump(state)
    pickle.dump(["0"], out, protocol=2)
  finally:
    for k, v in saved.items():
      sys.modules.pop(k) if v is None else sys.modules.__setitem__(k, v)
  values = np.arange(6, dtype=np.float32)
  out.write(struct.pack("<q", 6) + values.tobytes())
  path = tmp_path / "legacy.pth"
  path.write_bytes(out.getvalue())
  d = safe_pickle.load_torch(path)
  assert list(d) == ["w", "b"]
  np.testing.assert_array_equal(d["w"], values[:6].reshape(3, 2).T)  # strides (1, 2): a transposed view
  np.testing.assert_array_equal(d["b"], values[4:6])
  path.write_bytes(out.getvalue()[:-8])  # the last storage cut short
  with pytest.raises(DataError, match="the file ends before its 6 elements"):
    safe_pickle.load_torch(path)


def test_real_torch_file_read_without_torch(tmp_path):
  torch = pytest.importorskip("torch", reason="torch not installed")
  w = torch.arange(12.0).reshape(3, 4).t()  # a non-contiguous view: exercises strides
  sd = collections.OrderedDict(w=w, b=torch.nn.Parameter(torch.ones(2, dtype=torch.bfloat16)),
                               n=torch.tensor([3], dtype=torch.int64), v=torch.arange(10.0)[2:5])
  path = tmp_path / "m.pth"
  torch.save(sd, path)
  # in a process that cannot import torch
  code = ("import sys; sys.modules['torch'] = None\nfrom cs231n_jax import safe_pickle\nimport numpy as np\n"
          "d = safe_pickle.load_torch(sys.argv[1])\n"
          "np.save(sys.argv[2], np.concatenate([d['w'].ravel(), d['b'].astype(np.float32), d['n'].astype(np.float32), d['v']]))\n"
          "print(list(d), d['w'].shape, d['b'].dtype, d['n'].dtype)")
  out = tmp_path / "out.npy"
  r = subprocess.run([sys.executable, "-c", code, str(path), str(out)], capture_output=True, text=True, timeout=60)
  assert r.returncode == 0, r.stderr
  assert "['w', 'b', 'n', 'v'] (4, 3) bfloat16 int64" in r.stdout
  want = np.concatenate([w.numpy().ravel(), np.ones(2, np.float32), [3.0], np.arange(10.0)[2:5]])
  np.testing.assert_array_equal(np.load(out), want.astype(np.float32))
