"""Read a PyTorch ``.pth`` state dict into numpy arrays WITHOUT torch, through a restricted unpickler.

Two on-disk formats exist and both are read:

- the legacy format (``torch.save`` before 1.6, ``_use_new_zipfile_serialization=False``; both wheels'
  files are in it): a stream of pickles — magic number, protocol version, system info, the object
  (tensors refer to storages by ``persistent_id``), the list of storage keys — followed by each storage
  as an 8-byte little-endian element count and its raw bytes;
- the zip format (``torch.save`` since 1.6): ``<name>/data.pkl`` plus ``<name>/data/<key>`` per storage.

The unpickler resolves only the globals a state dict needs (:data:`ALLOWED_GLOBALS`: ``OrderedDict``,
``torch._utils._rebuild_tensor_v2`` / ``_rebuild_tensor`` / ``_rebuild_parameter`` and the typed storage
classes); any other global — the door a malicious pickle uses to run code — raises
:class:`UnsafePickleError` naming it. (The project has no shared restricted unpickler yet; this one
lives here.) Tensors are rebuilt with numpy strides from their storage, offset, size and stride.
"""

from __future__ import annotations

import collections
import io
import os
import pickle
import struct
import zipfile
from typing import Any

import numpy as np

from cs231n_jax.safe_pickle import UnsafePickleError  # one error for every refused pickle

LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
LEGACY_PROTOCOL = 1001
STORAGE_DTYPES = {
    "FloatStorage": np.float32, "DoubleStorage": np.float64, "HalfStorage": np.float16, "BFloat16Storage": None,
    "LongStorage": np.int64, "IntStorage": np.int32, "ShortStorage": np.int16, "CharStorage": np.int8,
    "ByteStorage": np.uint8, "BoolStorage": np.bool_,
}
TENSOR_REBUILDERS = ("_rebuild_tensor_v2", "_rebuild_tensor", "_rebuild_parameter")


class _StorageType:
  """Stands in for ``torch.FloatStorage`` etc.: only its numpy dtype matters."""

  def __init__(self, name: str):
    if STORAGE_DTYPES.get(name) is None:
      raise UnsafePickleError(f"storage type torch.{name}: not supported (expected one of "
                              f"{sorted(k for k, v in STORAGE_DTYPES.items() if v is not None)})")
    self.name, self.dtype = name, np.dtype(STORAGE_DTYPES[name])


class _Storage:
  """A storage whose bytes arrive later (legacy format) or are read on demand (zip format)."""

  def __init__(self, dtype: np.dtype, numel: int):
    self.dtype, self.numel, self.array = dtype, numel, None


def _rebuild_tensor(storage: _Storage, offset: int, size, stride, *unused) -> _LazyTensor:
  return _LazyTensor(storage, int(offset), tuple(size), tuple(stride))


def _rebuild_parameter(data, requires_grad=None, backward_hooks=None, *unused):
  del requires_grad, backward_hooks
  return data


class _LazyTensor:
  """A tensor view on a storage; :meth:`numpy` once every storage's bytes are known."""

  def __init__(self, storage: _Storage, offset: int, size: tuple[int, ...], stride: tuple[int, ...]):
    self.storage, self.offset, self.size, self.stride = storage, offset, size, stride

  def numpy(self) -> np.ndarray:
    base = self.storage.array
    if base is None:
      raise UnsafePickleError("a tensor refers to a storage the file does not contain")
    item = base.dtype.itemsize
    needed = self.offset + (sum((s - 1) * st for s, st in zip(self.size, self.stride)) + 1 if all(self.size) else 0)
    if needed > base.size:
      raise UnsafePickleError(f"a tensor of size {self.size} at offset {self.offset} overruns its storage of {base.size}")
    view = np.lib.stride_tricks.as_strided(base[self.offset:], shape=self.size, strides=[s * item for s in self.stride])
    return np.array(view)  # a contiguous copy


ALLOWED_GLOBALS = {
    ("collections", "OrderedDict"): collections.OrderedDict,
    **{("torch._utils", name): (_rebuild_parameter if name == "_rebuild_parameter" else _rebuild_tensor)
       for name in TENSOR_REBUILDERS},
    **{("torch", name): name for name in STORAGE_DTYPES},
}


class _Unpickler(pickle.Unpickler):

  def __init__(self, file, storages: dict[str, _Storage], read_storage=None):
    super().__init__(file)
    self.storages, self.read_storage = storages, read_storage

  def find_class(self, module: str, name: str) -> Any:
    if (module, name) not in ALLOWED_GLOBALS:
      raise UnsafePickleError(f"pickle global {module}.{name}: not allowed in a state dict (expected one of "
                              f"{sorted('.'.join(k) for k in ALLOWED_GLOBALS)})")
    value = ALLOWED_GLOBALS[(module, name)]
    return _StorageType(value) if isinstance(value, str) else value

  def persistent_load(self, pid):
    if not (isinstance(pid, tuple) and pid and pid[0] == "storage"):
      raise UnsafePickleError(f"persistent id {pid!r}: expected ('storage', ...)")
    storage_type, key, numel = pid[1], str(pid[2]), pid[4]
    if not isinstance(storage_type, _StorageType):
      raise UnsafePickleError(f"persistent id {pid!r}: expected a storage type")
    if key not in self.storages:
      self.storages[key] = _Storage(storage_type.dtype, int(numel))
      if self.read_storage is not None:
        self.storages[key].array = self.read_storage(key, storage_type.dtype)
    storage = self.storages[key]
    view = pid[5] if len(pid) > 5 else None
    if view is not None:
      raise UnsafePickleError("storage views (legacy view_metadata) are not supported")
    return storage


class _Plain(pickle.Unpickler):
  """The legacy header pickles hold only ints, strings and dicts: no global at all."""

  def find_class(self, module: str, name: str) -> Any:
    raise UnsafePickleError(f"pickle global {module}.{name}: not allowed in the file header")


def _materialise(obj: Any) -> Any:
  if isinstance(obj, _LazyTensor):
    return obj.numpy()
  if isinstance(obj, dict):
    return collections.OrderedDict((k, _materialise(v)) for k, v in obj.items())
  if isinstance(obj, (list, tuple)):
    return type(obj)(_materialise(v) for v in obj)
  return obj


def _load_legacy(f: io.BufferedIOBase) -> Any:
  magic = _Plain(f).load()
  if magic != LEGACY_MAGIC:
    raise UnsafePickleError("not a PyTorch file: the legacy magic number is missing")
  protocol = _Plain(f).load()
  if protocol != LEGACY_PROTOCOL:
    raise UnsafePickleError(f"legacy protocol version {protocol}: expected {LEGACY_PROTOCOL}")
  _Plain(f).load()  # sys_info: endianness and type sizes
  storages: dict[str, _Storage] = {}
  obj = _Unpickler(f, storages).load()
  keys = _Plain(f).load()
  for key in keys:
    storage = storages[str(key)]
    (numel,) = struct.unpack("<q", f.read(8))
    raw = f.read(numel * storage.dtype.itemsize)
    if len(raw) != numel * storage.dtype.itemsize:
      raise UnsafePickleError(f"storage {key}: the file ends before its {numel} elements")
    storage.array = np.frombuffer(raw, dtype=storage.dtype.newbyteorder("<"))
  return _materialise(obj)


def _load_zip(path: str | os.PathLike) -> Any:
  with zipfile.ZipFile(path) as archive:
    names = archive.namelist()
    pkl = [n for n in names if n.endswith("data.pkl")]
    if len(pkl) != 1:
      raise UnsafePickleError(f"{os.fspath(path)}: expected one data.pkl in the zip, found {len(pkl)}")
    prefix = pkl[0][: -len("data.pkl")]

    def read_storage(key: str, dtype: np.dtype) -> np.ndarray:
      return np.frombuffer(archive.read(f"{prefix}data/{key}"), dtype=dtype.newbyteorder("<"))

    with archive.open(pkl[0]) as f:
      obj = _Unpickler(io.BytesIO(f.read()), {}, read_storage).load()
  return _materialise(obj)


def load_pth(path: str | os.PathLike) -> dict[str, np.ndarray]:
  """A ``.pth`` state dict as ``{key: numpy array}`` in the file's order, without importing torch.

  A checkpoint wrapping its weights (``{"state_dict": ...}`` or ``{"model": ...}``) is unwrapped.
  """
  if not os.path.isfile(path):
    raise UnsafePickleError(f"weights: no such file {os.fspath(path)!r}")
  if zipfile.is_zipfile(path):
    obj = _load_zip(path)
  else:
    with open(path, "rb") as f:
      obj = _load_legacy(f)
  for wrapper in ("state_dict", "model"):
    if isinstance(obj, dict) and isinstance(obj.get(wrapper), dict):
      obj = obj[wrapper]
  if not isinstance(obj, dict) or not all(isinstance(v, np.ndarray) for v in obj.values()):
    raise UnsafePickleError(f"{os.fspath(path)}: holds a {type(obj).__name__}, expected a state dict of tensors")
  return dict(obj)
