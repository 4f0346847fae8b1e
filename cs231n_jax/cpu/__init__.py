"""The optional CPU speed-ups, in one package: the XLA:CPU flag (:mod:`.xla_flags`), the malloc
tunables the command restarts with (:mod:`.malloc`) and the convolution / batch-norm kernels
compiled on this machine (:mod:`.kernels`, ``kernels.cc``). All of them act only where JAX runs on
the CPU: the kernels are chosen in the CPU lowering of their primitives (a program lowered for a
TPU or GPU, or for ``jax.export``, gets XLA's own computation), the flag only touches XLA:CPU's
options, and the command restarts with the malloc tunables only when :func:`jax_will_use_cpu`.
``CS231N_JAX_XLA_DEFAULTS=1`` switches all of them off.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path
from typing import Callable, Mapping

# Accelerator plugins and the device nodes that show the hardware is there: a plugin alone (a
# jax[cuda] install on a machine without a GPU) leaves JAX on the CPU.
ACCELERATORS = (
    (("libtpu",), ("/dev/accel0", "/dev/vfio/0")),
    (("jax_cuda12_plugin", "jax_cuda13_plugin"), ("/dev/nvidia0", "/dev/nvidiactl")),
    (("jax_rocm60_plugin", "jax_rocm7_plugin"), ("/dev/kfd",)),
)


def jax_will_use_cpu(environ: Mapping[str, str] | None = None,
                     installed: Callable[[str], bool] | None = None,
                     exists: Callable[[str], bool] | None = None) -> bool:
  """Whether JAX's default backend will be the CPU, decided without starting a backend (which would
  fix XLA's flags and, on a TPU host, take the chips): ``JAX_PLATFORMS`` if set, else whether an
  accelerator plugin is installed and its device is present."""
  environ = os.environ if environ is None else environ
  installed = installed or (lambda name: importlib.util.find_spec(name) is not None)
  exists = exists or (lambda path: Path(path).exists())
  platforms = environ.get("JAX_PLATFORMS") or environ.get("JAX_PLATFORM_NAME") or ""
  if platforms.strip():
    return platforms.split(",")[0].strip().lower() == "cpu"
  return not any(any(map(installed, plugins)) and any(map(exists, devices)) for plugins, devices in ACCELERATORS)
