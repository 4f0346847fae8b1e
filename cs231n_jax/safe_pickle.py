"""A restricted unpickler for files the project did not write (CIFAR batches, PyTorch ``.pth`` weights).

``pickle.load`` runs whatever the file names: a ``data_batch_1`` or a ``resnet50.pth`` from the internet
can call ``os.system``. :func:`load` resolves only the globals in an allow-list and refuses any other with
a one-line :class:`UnsafePickleError` naming the global::

    from cs231n_jax import safe_pickle
    batch = safe_pickle.load(f, safe_pickle.NUMPY, encoding="bytes")      # numpy arrays, dicts, lists ...
    state_dict = safe_pickle.load_torch("resnet50.pth")                    # no torch needed

Plain containers and scalars (dict, list, tuple, set, bytes, str, int, float, bool, None) need no global
and always load. The allow-lists:

* :data:`NUMPY`: numpy array / dtype / scalar reconstruction (``numpy.core`` and ``numpy._core``
  spellings), ``_codecs.encode`` (how Python 3 pickles ``bytes`` at protocol 2) and the
  ``bytes`` / ``bytearray`` / ``set`` / ``frozenset`` constructors.
* :data:`COLLECTIONS`: ``collections.OrderedDict``.
* :data:`TORCH`: ``torch._utils._rebuild_tensor_v2`` / ``_rebuild_tensor`` / ``_rebuild_parameter`` and
  ``torch.*Storage``. These resolve to stand-ins defined here, never to torch: a tensor becomes a numpy
  array read from its storage, so reading weights neither imports torch nor runs its code.

:func:`load_torch` reads both on-disk formats of ``torch.save``: the zip format (since 1.6:
``<name>/data.pkl`` plus ``<name>/data/<key>`` per storage) and the legacy one (before 1.6, still
shipped in many weight files: a stream of pickles -- magic number, protocol, system info, the object,
the storage keys -- then each storage as an 8-byte element count and its raw bytes).

Reading never executes anything beyond these functions. A file that needs another global is refused,
not worked around: convert it to ``.npz`` with a trusted tool.
"""

from __future__ import annotations

import io
import os
import pickle
import struct
import zipfile
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import IO, Any

import numpy as np

from cs231n_jax.errors import DataError


class UnsafePickleError(DataError):
  """A pickle names a global outside the allow-list (it may be trying to run code)."""


def _numpy_globals() -> dict[tuple[str, str], Any]:
  table: dict[tuple[str, str], Any] = {
      ("numpy", "ndarray"): np.ndarray,
      ("numpy", "dtype"): np.dtype,
  }
  import numpy as _np
  core = getattr(_np, "_core", None)
  if core is None:  # numpy 1.x
    core = _np.core
  for mod in ("numpy.core.multiarray", "numpy._core.multiarray"):
    table[(mod, "_reconstruct")] = core.multiarray._reconstruct
    table[(mod, "scalar")] = core.multiarray.scalar
  for mod in ("numpy.core.numeric", "numpy._core.numeric"):
    table[(mod, "_frombuffer")] = core.numeric._frombuffer
  import codecs
  table[("_codecs", "encode")] = codecs.encode
  # Protocol 2 spells b"" as bytes() (and Python 2's module name); sets by their constructors.
  for mod in ("builtins", "__builtin__"):
    for name, fn in (("bytes", bytes), ("bytearray", bytearray), ("set", set), ("frozenset", frozenset)):
      table[(mod, name)] = fn
  # numpy 2 pickles a dtype as numpy.dtype(...) but also names the dtype classes for some types
  for name in dir(getattr(_np, "dtypes", object())):
    if name.endswith("DType"):
      table[("numpy.dtypes", name)] = getattr(_np.dtypes, name)
  return table


NUMPY: Mapping[tuple[str, str], Any] = _numpy_globals()
COLLECTIONS: Mapping[tuple[str, str], Any] = {("collections", "OrderedDict"): OrderedDict}


# -- PyTorch stand-ins -------------------------------------------------------------------------

class StorageType:
  """Stands in for ``torch.FloatStorage`` etc.: only carries the numpy dtype of the storage."""

  def __init__(self, name: str, dtype: Any):
    self.name, self.dtype = name, np.dtype(dtype)

  def __repr__(self) -> str:
    return f"StorageType({self.name})"


def _bfloat16():
  import ml_dtypes
  return ml_dtypes.bfloat16


_STORAGES = {
    "DoubleStorage": np.float64, "FloatStorage": np.float32, "HalfStorage": np.float16,
    "LongStorage": np.int64, "IntStorage": np.int32, "ShortStorage": np.int16, "CharStorage": np.int8,
    "ByteStorage": np.uint8, "BoolStorage": np.bool_,
}


class _Storage:
  """A typed storage; its bytes arrive with it (zip format) or after the pickle (legacy format)."""

  def __init__(self, dtype: np.dtype, numel: int):
    self.dtype, self.numel, self.array = dtype, int(numel), None


class _Tensor:
  """A tensor as the pickle describes it: a strided view of a storage, made an array by :func:`_materialise`."""

  def __init__(self, storage: _Storage, offset: int, size: tuple[int, ...], stride: tuple[int, ...]):
    self.storage, self.offset, self.size, self.stride = storage, offset, size, stride


def _rebuild_tensor_v2(storage: _Storage, storage_offset: int, size: tuple, stride: tuple, *unused: Any) -> _Tensor:
  """``torch._utils._rebuild_tensor_v2`` (and the legacy ``_rebuild_tensor``) without torch."""
  if not isinstance(storage, _Storage):
    raise UnsafePickleError("_rebuild_tensor_v2: expected a storage record as its first argument")
  size, stride, offset = tuple(int(s) for s in size), tuple(int(s) for s in stride), int(storage_offset)
  if any(s < 0 for s in size) or any(s < 0 for s in stride) or offset < 0:
    raise UnsafePickleError(f"_rebuild_tensor_v2: negative size {size} / stride {stride} / offset {offset}")
  return _Tensor(storage, offset, size, stride)


def _rebuild_parameter(data: Any, requires_grad: bool = False, backward_hooks: Any = None, *unused: Any) -> Any:
  return data


def _tensor_array(t: _Tensor) -> np.ndarray:
  base = t.storage.array
  if base is None:
    raise UnsafePickleError("a tensor refers to a storage the file does not contain")
  if t.size and all(n > 0 for n in t.size):
    last = t.offset + sum((n - 1) * s for n, s in zip(t.size, t.stride))
    if last >= base.shape[0]:
      raise UnsafePickleError(f"_rebuild_tensor_v2: size {t.size} stride {t.stride} reads past a storage of {base.shape[0]}")
  item = base.dtype.itemsize
  view = np.lib.stride_tricks.as_strided(base[t.offset:], shape=t.size, strides=tuple(s * item for s in t.stride),
                                         writeable=False)
  return np.array(view)  # a contiguous copy


def _materialise(obj: Any) -> Any:
  if isinstance(obj, _Tensor):
    return _tensor_array(obj)
  if isinstance(obj, OrderedDict):
    return OrderedDict((k, _materialise(v)) for k, v in obj.items())
  if isinstance(obj, dict):
    return {k: _materialise(v) for k, v in obj.items()}
  if isinstance(obj, (list, tuple)):
    return type(obj)(_materialise(v) for v in obj)
  return obj


def _torch_globals() -> dict[tuple[str, str], Any]:
  table: dict[tuple[str, str], Any] = {
      ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor_v2,
      ("torch._utils", "_rebuild_tensor"): _rebuild_tensor_v2,  # the legacy format's name
      ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
  }
  for name, dtype in _STORAGES.items():
    table[("torch", name)] = StorageType(name, dtype)
  table[("torch", "BFloat16Storage")] = StorageType("BFloat16Storage", _bfloat16())
  return table


TORCH: Mapping[tuple[str, str], Any] = _torch_globals()


# -- the unpickler -----------------------------------------------------------------------------

def _merge(allowed: Mapping[tuple[str, str], Any] | Iterable[Mapping[tuple[str, str], Any]]) -> dict:
  if isinstance(allowed, Mapping):
    return dict(allowed)
  table: dict = {}
  for part in allowed:
    table.update(part)
  return table


class RestrictedUnpickler(pickle.Unpickler):
  """An unpickler that resolves only ``allowed`` globals ((module, name) → object) and refuses the rest.

  ``persistent_load``, when given, resolves persistent ids (PyTorch's storage records); without it a
  persistent id is refused. ``source`` names the file in error messages.
  """

  def __init__(self, file: IO[bytes], allowed: Mapping | Iterable[Mapping], *, source: str = "pickle",
               persistent_load: Callable[[Any], Any] | None = None, encoding: str = "ASCII"):
    super().__init__(file, encoding=encoding)
    self._allowed = _merge(allowed)
    self._source = source
    self._persistent = persistent_load

  def find_class(self, module: str, name: str) -> Any:
    try:
      return self._allowed[(module, name)]
    except KeyError:
      raise UnsafePickleError(f"{self._source}: refused to load global {module}.{name} "
                              "(not a type this format contains; the file may try to run code)") from None

  def persistent_load(self, pid: Any) -> Any:
    if self._persistent is None:
      raise UnsafePickleError(f"{self._source}: refused a persistent id {str(pid)[:60]!r} (not expected in this format)")
    return self._persistent(pid)


def load(file: IO[bytes] | str | os.PathLike, allowed: Mapping | Iterable[Mapping] = NUMPY, *,
         encoding: str = "ASCII", source: str | None = None,
         persistent_load: Callable[[Any], Any] | None = None) -> Any:
  """Unpickle ``file`` (an open binary file or a path) resolving only ``allowed`` globals.

  Raises :class:`UnsafePickleError` (a ``DataError``: one line, naming the global) for anything else;
  other malformed input raises :class:`DataError` naming the file.
  """
  if isinstance(file, (str, os.PathLike)):
    with open(file, "rb") as f:
      return load(f, allowed, encoding=encoding, source=source or str(file), persistent_load=persistent_load)
  src = source or getattr(file, "name", "pickle")
  try:
    return RestrictedUnpickler(file, allowed, source=str(src), persistent_load=persistent_load, encoding=encoding).load()
  except UnsafePickleError:
    raise
  except Exception as e:  # pickle raises many types on garbage input
    raise DataError(f"{src}: not a readable pickle ({type(e).__name__}: {e})") from None


def loads(data: bytes, allowed: Mapping | Iterable[Mapping] = NUMPY, **kwargs: Any) -> Any:
  return load(io.BytesIO(data), allowed, **kwargs)


LEGACY_MAGIC = 0x1950A86A20F9469CFC6C  # torch.serialization's MAGIC_NUMBER
LEGACY_PROTOCOL = 1001


def load_torch(path: str | os.PathLike) -> Any:
  """Read a PyTorch ``.pth`` / ``.pt`` (zip or legacy format) without torch: tensors become numpy arrays.

  Only :data:`TORCH`, :data:`COLLECTIONS` and :data:`NUMPY` globals are allowed.
  """
  p = Path(path)
  if not p.is_file():
    raise DataError(f"weights: no such file {str(path)!r}")
  return _materialise(_load_zip(p) if zipfile.is_zipfile(p) else _load_legacy(p))


def _storage_loader(source: Path, storages: dict[str, _Storage], read: Callable[[str, np.dtype], np.ndarray] | None):
  """``persistent_load`` for torch's storage records: ``('storage', type, key, location, numel[, view])``."""

  def persistent(pid: Any) -> _Storage:
    if not (isinstance(pid, tuple) and len(pid) in (5, 6) and pid[0] == "storage" and isinstance(pid[1], StorageType)):
      raise UnsafePickleError(f"{source}: refused persistent id {str(pid)[:80]!r} (expected a torch storage record)")
    if len(pid) == 6 and pid[5] is not None:
      raise UnsafePickleError(f"{source}: storage views (the legacy view_metadata) are not supported")
    stype, key, numel = pid[1], str(pid[2]), pid[4]
    if key not in storages:
      storages[key] = _Storage(stype.dtype, numel)
      if read is not None:
        storages[key].array = read(key, stype.dtype)
    return storages[key]

  return persistent


def _load_zip(p: Path) -> Any:
  with zipfile.ZipFile(p) as z:
    names = z.namelist()
    pkl = [n for n in names if n.endswith("/data.pkl") or n == "data.pkl"]
    if len(pkl) != 1:
      raise DataError(f"{p}: expected one data.pkl record in the zip, found {len(pkl)}")
    prefix = pkl[0][: -len("data.pkl")]
    order = "little"
    if prefix + "byteorder" in names:
      order = z.read(prefix + "byteorder").decode(errors="replace").strip() or "little"
    if order not in ("little", "big"):
      raise DataError(f"{p}: byteorder record is {order!r}, expected 'little' or 'big'")

    def read(key: str, dtype: np.dtype) -> np.ndarray:
      record = f"{prefix}data/{key}"
      if record not in names:
        raise DataError(f"{p}: storage record {record} missing from the zip")
      numel = storages[key].numel
      raw = z.read(record)
      if len(raw) < numel * dtype.itemsize:
        raise DataError(f"{p}: storage {key} holds {len(raw)} bytes, expected {numel * dtype.itemsize}")
      return np.frombuffer(raw, dtype=dtype.newbyteorder("<" if order == "little" else ">"), count=numel).astype(dtype)

    storages: dict[str, _Storage] = {}
    with z.open(pkl[0]) as f:
      return load(f, (TORCH, COLLECTIONS, NUMPY), source=str(p), persistent_load=_storage_loader(p, storages, read),
                  encoding="utf-8")


def _load_legacy(p: Path) -> Any:
  with open(p, "rb") as f:
    try:
      magic = RestrictedUnpickler(f, {}, source=str(p)).load()  # an int: no global allowed
    except Exception:  # not a pickle, or a pickle naming a global: either way not this format
      magic = None
    if magic != LEGACY_MAGIC:
      raise DataError(f"{p}: not a PyTorch file (neither a zip nor the legacy format: its magic number is missing)")
    protocol = load(f, {}, source=str(p))
    if protocol != LEGACY_PROTOCOL:
      raise DataError(f"{p}: legacy protocol version {protocol}, expected {LEGACY_PROTOCOL}")
    sys_info = load(f, {}, source=str(p))  # endianness and type sizes: plain values, no global
    order = "<" if not isinstance(sys_info, dict) or sys_info.get("little_endian", True) else ">"
    storages: dict[str, _Storage] = {}
    obj = load(f, (TORCH, COLLECTIONS, NUMPY), source=str(p), persistent_load=_storage_loader(p, storages, None),
               encoding="utf-8")
    keys = load(f, {}, source=str(p))
    for key in keys:
      storage = storages.get(str(key))
      if storage is None:
        raise DataError(f"{p}: storage {key} is listed but no tensor refers to it")
      head = f.read(8)
      if len(head) != 8:
        raise DataError(f"{p}: the file ends before storage {key}")
      numel = struct.unpack("<q", head)[0]
      raw = f.read(numel * storage.dtype.itemsize)
      if numel < storage.numel or len(raw) != numel * storage.dtype.itemsize:
        raise DataError(f"{p}: storage {key}: the file ends before its {max(numel, storage.numel)} elements")
      storage.array = np.frombuffer(raw, dtype=storage.dtype.newbyteorder(order)).astype(storage.dtype)
  return obj
