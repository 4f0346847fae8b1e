"""Read a PyTorch ``.pth`` state dict into numpy arrays WITHOUT torch.

The reading -- both on-disk formats (the wheels' files are in the legacy one), through the project's
restricted unpickler -- is :func:`cs231n_jax.safe_pickle.load_torch`; any global outside its allow-list
(the door a malicious pickle uses to run code) raises :class:`~cs231n_jax.safe_pickle.UnsafePickleError`
naming it. This module only unwraps a checkpoint to its state dict and checks that it is one.
"""

from __future__ import annotations

import os

import numpy as np

from cs231n_jax import safe_pickle
from cs231n_jax.errors import DataError


def load_pth(path: str | os.PathLike) -> dict[str, np.ndarray]:
  """A ``.pth`` state dict as ``{key: numpy array}`` in the file's order, without importing torch.

  A checkpoint wrapping its weights (``{"state_dict": ...}`` or ``{"model": ...}``) is unwrapped.
  """
  obj = safe_pickle.load_torch(path)
  for wrapper in ("state_dict", "model"):
    if isinstance(obj, dict) and isinstance(obj.get(wrapper), dict):
      obj = obj[wrapper]
  if not isinstance(obj, dict) or not all(isinstance(v, np.ndarray) for v in obj.values()):
    raise DataError(f"{os.fspath(path)}: holds a {type(obj).__name__}, expected a state dict of tensors")
  return dict(obj)
