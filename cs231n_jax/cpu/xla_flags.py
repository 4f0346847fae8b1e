"""The XLA:CPU flag the library sets on import, and why.

XLA:CPU hands some operations to the YNNPACK library; which ones is the debug option
``xla_cpu_experimental_ynn_fusion_type``. jaxlib 0.10.2's default (read from its dumped debug
options) is ``individual_dot,individual_convolution,reduce``. Profiling the course's convnets on a
2-core CPU (``docs/benchmarks.md``, "The CPU goal") showed:

- YNNPACK's convolutions are 2-3x slower than XLA's own (Eigen) convolutions at these sizes, the
  weight gradient most of all (16 -> 16 channels at 32x32, batch 128: 25-30 ms against 13 ms).

So the library asks for ``individual_dot,reduce``: XLA's default without YNNPACK convolutions. A
ResNet-20 training step on this machine goes from ~0.7 s to ~0.45 s, small_vgg's from ~0.42 s to
~0.23 s. (Adding ``eltwise``, YNNPACK's element-wise fusions, was faster still, but this jaxlib then
fails to compile some programs -- "Instruction with unsupported layout in YNN fusion" for an LSTM
captioner's transposed weight -- so it is left out.)

The flag is set only for the jaxlib versions it was measured on (XLA aborts on a flag it does not
know, and experimental flags get renamed), only when the user's own ``XLA_FLAGS`` does not name it,
and not at all with ``CS231N_JAX_XLA_DEFAULTS=1``. XLA reads ``XLA_FLAGS`` once, when JAX starts its
first backend: import ``cs231n_jax`` before running any JAX computation.
"""

from __future__ import annotations

import os
import sys
import warnings

YNN_FUSION_OPTION = "xla_cpu_experimental_ynn_fusion_type"
LIBRARY_YNN_FUSION_TYPES = "individual_dot,reduce"
XLA_DEFAULT_YNN_FUSION_TYPES = "individual_dot,individual_convolution,reduce"  # jaxlib 0.10.2
TESTED_JAXLIB = ((0, 10), (0, 12))  # [first, last) minor releases that know the option
OPT_OUT_ENV = "CS231N_JAX_XLA_DEFAULTS"


def _version_tuple(version: str) -> tuple[int, int]:
  major, minor = version.split(".")[:2]
  return int(major), int(minor)


def with_library_flags(xla_flags: str, jaxlib_version: str) -> str:
  """``xla_flags`` (an ``XLA_FLAGS`` value) with the library's YNNPACK option appended, unless the
  flags already name that option or this jaxlib is outside the tested versions."""
  first, last = TESTED_JAXLIB
  if f"--{YNN_FUSION_OPTION}" in xla_flags or not first <= _version_tuple(jaxlib_version) < last:
    return xla_flags
  return f"{xla_flags} --{YNN_FUSION_OPTION}={LIBRARY_YNN_FUSION_TYPES}".strip()


def xla_default_compiler_options() -> dict[str, str]:
  """``jax.jit(..., compiler_options=...)`` that restore XLA's own choice for one compilation
  (the benchmarks' "XLA defaults" variant, measured in the same process). Compiler options take
  the enum's full names, where ``XLA_FLAGS`` takes the short ones."""
  names = [f"LIBRARY_FUSION_TYPE_{t.upper()}" for t in XLA_DEFAULT_YNN_FUSION_TYPES.split(",")]
  return {YNN_FUSION_OPTION: ",".join(names)}


def apply() -> None:
  """Set the library's flag in ``os.environ["XLA_FLAGS"]`` if JAX has not started a backend yet;
  if it has, warn (once) that the flag could not take effect."""
  if os.environ.get(OPT_OUT_ENV) == "1":
    return
  import jaxlib

  flags = os.environ.get("XLA_FLAGS", "")
  wanted = with_library_flags(flags, jaxlib.__version__)
  if wanted == flags:
    return
  # No backend can have started before jax is imported (and importing it here costs ~0.6 s, twice
  # for a command that restarts itself: cs231n_jax/cpu/malloc.py).
  if "jax" in sys.modules:
    from jax._src import xla_bridge

    if xla_bridge.backends_are_initialized():
      warnings.warn(f"cs231n_jax: JAX started before cs231n_jax was imported, so XLA:CPU keeps its default "
                    f"{YNN_FUSION_OPTION} (convnet training on CPU up to 2x slower); import cs231n_jax first "
                    f"or set XLA_FLAGS='--{YNN_FUSION_OPTION}={LIBRARY_YNN_FUSION_TYPES}'", stacklevel=3)
      return
  os.environ["XLA_FLAGS"] = wanted
