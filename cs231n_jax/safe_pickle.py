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
* :data:`TORCH`: ``torch._utils._rebuild_tensor_v2`` / ``_rebuild_parameter`` and ``torch.*Storage``.
  These resolve to stand-ins defined here, never to torch: a tensor becomes a numpy array read from
  the ``.pth`` zip's ``data/<key>`` record, so reading weights neither imports torch nor runs its code.

Reading never executes anything beyond these functions. A file that needs another global is refused,
not worked around: convert it to ``.npz`` with a trusted tool.
"""

from __future__ import annotations

import io
import os
import pickle
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


def _rebuild_tensor_v2(storage: np.ndarray, storage_offset: int, size: tuple, stride: tuple,
                       requires_grad: bool = False, backward_hooks: Any = None, metadata: Any = None) -> np.ndarray:
  """``torch._utils._rebuild_tensor_v2`` without torch: the strided view of a 1-D storage, copied."""
  if not isinstance(storage, np.ndarray) or storage.ndim != 1:
    raise UnsafePickleError("_rebuild_tensor_v2: expected a storage record as its first argument")
  size, stride = tuple(int(s) for s in size), tuple(int(s) for s in stride)
  if any(s < 0 for s in size) or any(s < 0 for s in stride) or storage_offset < 0:
    raise UnsafePickleError(f"_rebuild_tensor_v2: negative size {size} / stride {stride} / offset {storage_offset}")
  if size and all(s > 0 for s in size):
    last = storage_offset + sum((n - 1) * s for n, s in zip(size, stride))
    if last >= storage.shape[0]:
      raise UnsafePickleError(f"_rebuild_tensor_v2: size {size} stride {stride} reads past a storage of {storage.shape[0]}")
  base = storage[storage_offset:]
  item = storage.dtype.itemsize
  view = np.lib.stride_tricks.as_strided(base, shape=size, strides=tuple(s * item for s in stride), writeable=False)
  return np.array(view)


def _rebuild_parameter(data: np.ndarray, requires_grad: bool = False, backward_hooks: Any = None) -> np.ndarray:
  return data


def _torch_globals() -> dict[tuple[str, str], Any]:
  table: dict[tuple[str, str], Any] = {
      ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor_v2,
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


def load_torch(path: str | os.PathLike) -> Any:
  """Read a PyTorch (>= 1.6, zip format) ``.pth`` / ``.pt`` without torch: tensors become numpy arrays.

  Only :data:`TORCH`, :data:`COLLECTIONS` and :data:`NUMPY` globals are allowed. The legacy (pre-1.6,
  non-zip) format is refused with a message saying how to re-save it.
  """
  p = Path(path)
  if not zipfile.is_zipfile(p):
    raise DataError(f"{p}: not a zip-format PyTorch file (the legacy format is not read; "
                    "re-save with torch >= 1.6 or as .npz)")
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
    storages: dict[str, np.ndarray] = {}

    def persistent(pid: Any) -> np.ndarray:
      if not (isinstance(pid, tuple) and len(pid) == 5 and pid[0] == "storage" and isinstance(pid[1], StorageType)):
        raise UnsafePickleError(f"{p}: refused persistent id {str(pid)[:80]!r} (expected a torch storage record)")
      _, stype, key, _location, numel = pid
      key = str(key)
      if key not in storages:
        record = f"{prefix}data/{key}"
        if record not in names:
          raise DataError(f"{p}: storage record {record} missing from the zip")
        dtype = stype.dtype.newbyteorder("<" if order == "little" else ">")
        raw = z.read(record)
        if len(raw) < int(numel) * dtype.itemsize:
          raise DataError(f"{p}: storage {key} holds {len(raw)} bytes, expected {int(numel) * dtype.itemsize}")
        storages[key] = np.frombuffer(raw, dtype=dtype, count=int(numel)).astype(stype.dtype)
      return storages[key]

    with z.open(pkl[0]) as f:
      return load(f, (TORCH, COLLECTIONS, NUMPY), source=str(p), persistent_load=persistent, encoding="utf-8")
