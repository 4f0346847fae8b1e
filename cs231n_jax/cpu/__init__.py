"""The optional CPU speed-ups, in one package: the XLA:CPU flag (:mod:`.xla_flags`), the malloc
tunables the command restarts with (:mod:`.malloc`), the convolution / batch-norm kernels compiled on
this machine (:mod:`.kernels`, ``kernels.cc``) and the ways ``nn.conv_pool`` / ``nn.norms`` write a
convolution, a max-pool gradient and a batch norm for XLA:CPU.

They act only on programs traced for the CPU: the rewrites are applied while :func:`compiling_for`
names ``"cpu"`` -- which the engine's step builders do when the devices they compile for are CPUs
(:func:`traced_for`) -- and nowhere else. A function traced outside that context (a user's
``jax.jit`` or ``jax.export`` of a model, for a TPU, a GPU or the CPU) is plain Flax, whatever the
host's default backend. Inside it, the kernels are still chosen in their primitives' CPU lowering (a
program exported with ``jax.export`` gets XLA's own computation). The flag only touches XLA:CPU's
options, and the command restarts with the malloc tunables only when :func:`jax_will_use_cpu`.
``CS231N_JAX_XLA_DEFAULTS=1`` switches all of them off.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import importlib.util
import os
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping, Sequence

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


# The platform the function being traced now is compiled for, as its compiler said (None: not said).
_target_platform: contextvars.ContextVar[str | None] = contextvars.ContextVar("cs231n_jax_target_platform", default=None)


@contextlib.contextmanager
def compiling_for(platform: str | None) -> Iterator[None]:
  """Within this context, functions traced are compiled for ``platform`` (``"cpu"``, ``"tpu"``,
  ``"gpu"``...): the CPU rewrites apply when it is ``"cpu"``. Read while tracing; JAX caches traces
  by function, so trace a function object here that is not traced elsewhere (:func:`traced_for`)."""
  token = _target_platform.set(platform)
  try:
    yield
  finally:
    _target_platform.reset(token)


def targets_cpu() -> bool:
  """Whether the function being traced now is compiled for the CPU (see :func:`compiling_for`)."""
  return _target_platform.get() == "cpu"


def platform_of(devices: Sequence[Any]) -> str:
  """The one platform of ``devices`` (``jax.Device`` objects); a one-line error if they mix."""
  platforms = sorted({d.platform for d in devices})
  if len(platforms) != 1:
    raise ValueError(f"devices: expected devices of one platform, got {platforms}")
  return platforms[0]


def traced_for(platform: str, fn: Callable) -> Callable:
  """``fn``, traced within :func:`compiling_for` ``(platform)``: what a compiler that knows its
  devices (the engine's step builders, the benchmarks) hands to ``jax.jit`` / ``jax.pmap``."""
  @functools.wraps(fn)
  def wrapped(*args, **kwargs):
    with compiling_for(platform):
      return fn(*args, **kwargs)
  return wrapped
