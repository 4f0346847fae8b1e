"""Arrays computed once from a data set and cached on disk (or any ``etils.epath`` filesystem,
e.g. ``gs://``): today the mean image of a training split, which for ImageNet means decoding and
resizing thousands of JPEGs — work that should not be repeated at every start on every host.

A cached array is a ``.npy`` file named by what it is and a hash of its key (the data set, split,
version, preprocessing and a fingerprint of the files or records), with the key beside it in a
``.json`` file for people. Lookup tries each directory in order; the first that can be written
receives a newly computed array (written to a temporary name, then renamed, so a reader never sees
half a file). Put the cache on storage every host sees (``data.cache_dir = "gs://..."``) and one
computation serves the whole pod from then on; on a host-local cache each host computes it once.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import uuid
from typing import Any, Callable, Mapping, Sequence

import numpy as np
from etils import epath

CACHE_ENV = "CS231N_JAX_CACHE"
DEFAULT_CACHE = "~/.cache/cs231n_jax"
HASH_CHARS = 16


def default_cache_dir() -> epath.Path:
  """``$CS231N_JAX_CACHE`` if set, else ``~/.cache/cs231n_jax``."""
  return epath.Path(os.path.expanduser(os.environ.get(CACHE_ENV) or DEFAULT_CACHE))


def cache_file_name(kind: str, key: Mapping[str, Any]) -> str:
  digest = hashlib.sha256(json.dumps(key, sort_keys=True, default=str).encode()).hexdigest()
  return f"{kind}-{digest[:HASH_CHARS]}.npy"


def fingerprint(*arrays: np.ndarray) -> str:
  """A short hash of some arrays' bytes (e.g. the first and last record of a split), so that a
  cache entry is not reused for other data that happens to share a name and a size."""
  h = hashlib.sha256()
  for a in arrays:
    a = np.ascontiguousarray(a)
    h.update(str((a.dtype.str, a.shape)).encode())
    h.update(a.tobytes())
  return h.hexdigest()[:HASH_CHARS]


def files_fingerprint(paths: Sequence[os.PathLike | str]) -> list[tuple[str, int, int]]:
  """(resolved path, size, modification time in ns) of each file: changes when a file does."""
  out = []
  for p in paths:
    st = os.stat(p)
    out.append((os.path.realpath(p), st.st_size, st.st_mtime_ns))
  return out


def load_array(path: epath.Path) -> np.ndarray | None:
  try:
    return np.load(io.BytesIO(path.read_bytes()), allow_pickle=False)
  except (OSError, ValueError, EOFError):  # missing, unreadable or half-written elsewhere
    return None


def save_array(directory: epath.Path, name: str, array: np.ndarray, key: Mapping[str, Any]) -> epath.Path | None:
  """Write ``array`` as ``directory/name`` (atomically); None when the directory cannot be written."""
  try:
    directory.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    tmp = directory / f".{name}.{uuid.uuid4().hex}.tmp"
    tmp.write_bytes(buffer.getvalue())
    tmp.rename(directory / name)
    (directory / name).with_suffix(".json").write_text(json.dumps(key, sort_keys=True, default=str, indent=1))
    return directory / name
  except OSError:
    return None


def cached_array(kind: str, key: Mapping[str, Any], compute: Callable[[], np.ndarray],
                 directories: Sequence[os.PathLike | str]) -> tuple[np.ndarray, epath.Path | None, bool]:
  """The array ``kind`` for ``key``: read from the first directory that has it, or computed by
  ``compute()`` and saved in the first directory that can be written.

  Returns ``(array, the file it is in or None, whether it was computed now)``.
  """
  name = cache_file_name(kind, key)
  dirs = [epath.Path(d) for d in directories]
  for d in dirs:
    found = load_array(d / name)
    if found is not None:
      return found, d / name, False
  array = np.asarray(compute())
  for d in dirs:
    path = save_array(d, name, array, key)
    if path is not None:
      return array, path, True
  return array, None, True
