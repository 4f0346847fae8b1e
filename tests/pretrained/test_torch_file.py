"""The restricted .pth reader: equal to torch.load on both wheels' legacy files and on a zip-format file,
and a pickle naming any other global is refused before anything runs."""

from __future__ import annotations

import importlib.util
import io
import pickle
import struct

import numpy as np
import pytest

from cs231n_jax.errors import DataError
from cs231n_jax.pretrained import networks
from cs231n_jax.pretrained.torch_file import load_pth
from cs231n_jax.safe_pickle import LEGACY_MAGIC, UnsafePickleError

needs_torch = pytest.mark.skipif(importlib.util.find_spec("torch") is None, reason="torch not installed: no torch.load to compare")


@needs_torch
@pytest.mark.parametrize("name", sorted(networks.SOURCES))
def test_the_wheels_files_read_as_torch_reads_them(name):
  import torch

  path = networks.weights_path(name)
  ours, theirs = load_pth(path), torch.load(path, map_location="cpu", weights_only=True)
  assert list(ours) == list(theirs)
  for key, value in theirs.items():
    assert ours[key].dtype == value.numpy().dtype and ours[key].shape == tuple(value.shape), key
    np.testing.assert_array_equal(ours[key], value.numpy())


@needs_torch
def test_a_zip_format_file_with_a_strided_view(tmp_path):
  import torch

  base = torch.arange(24, dtype=torch.float32).reshape(4, 6)
  state = {"w": base.t(), "b": base[1, 2:5], "n": torch.tensor(7), "h": torch.ones(3, dtype=torch.float64)}
  torch.save(state, tmp_path / "z.pth")
  ours = load_pth(tmp_path / "z.pth")
  for key, value in state.items():
    np.testing.assert_array_equal(ours[key], value.numpy())
    assert ours[key].dtype == value.numpy().dtype


class Evil:
  def __reduce__(self):
    import os

    return (os.system, ("echo pwned",))


def legacy_file(obj) -> bytes:
  out = io.BytesIO()
  for header in (LEGACY_MAGIC, 1001, {"little_endian": True}):
    pickle.dump(header, out, protocol=2)
  pickle.dump(obj, out, protocol=2)
  pickle.dump([], out, protocol=2)
  return out.getvalue()


def test_a_global_outside_the_allow_list_is_refused(tmp_path):
  path = tmp_path / "evil.pth"
  path.write_bytes(legacy_file({"x": Evil()}))
  with pytest.raises(UnsafePickleError, match=r"refused to load global posix\.system"):
    load_pth(path)


def test_a_file_that_is_not_a_state_dict(tmp_path):
  path = tmp_path / "list.pth"
  path.write_bytes(legacy_file([1, 2, 3]))
  with pytest.raises(DataError, match="holds a list, expected a state dict"):
    load_pth(path)
  (tmp_path / "junk.pth").write_bytes(pickle.dumps(5, protocol=2) + struct.pack("<q", 1))
  with pytest.raises(DataError, match="magic number"):
    load_pth(tmp_path / "junk.pth")
  with pytest.raises(DataError, match="no such file"):
    load_pth(tmp_path / "absent.pth")
