"""The glibc malloc tunables the ``cs231n-jax`` command sets for itself, and why.

XLA:CPU allocates a compiled program's temporary buffer afresh on every execution: 57 MB for the
ThreeLayerConvNet's training step at batch 128, 289 MB for ResNet-20's. glibc serves allocations
that large with ``mmap`` and returns them with ``munmap``, so every step faults the whole buffer
back in, 4 KiB at a time, and the kernel zeroes each page: ~74,000 page faults per ResNet-20 step on
this project's 2-core machine. Two remedies, both set by the command (``docs/benchmarks.md``, "The
CPU goal", items 4 and 13):

- ``glibc.malloc.hugetlb=1``: glibc asks the kernel for transparent huge pages (``madvise``), and the
  same memory arrives in 2 MiB pages: ~400-1,200 faults per step, steps 8-20% faster.
- ``glibc.malloc.arena_max=1``, ``mmap_max=0`` and a ``trim_threshold`` of 1 TiB: large blocks come
  from the heap and freed memory stays there, so the next step reuses the same pages -- no faults
  at all, and with the huge pages another 6-14% off a step (ResNet-20 / -56's kernels and XLA
  zeroed ~0.5-1.4 GB of fresh pages per step). The process keeps its peak memory until it exits.

PyTorch in the same process gains as well, so ``bench peers`` stays a fair race.

glibc reads ``GLIBC_TUNABLES`` once, when a process starts, so a library cannot change it for the
process that imports it: the command re-executes itself once, with the tunables added. Notebooks and
other programs can start with :data:`TUNABLES` in their environment (``GLIBC_TUNABLES=...``).

Left alone: a ``GLIBC_TUNABLES`` that already names any ``glibc.malloc`` tunable (the user manages
malloc; ``glibc.malloc.hugetlb=0`` measures without), anything but Linux with glibc 2.35 or later
(the huge-page tunable's first release), a kernel whose transparent huge pages are ``never``, and
``CS231N_JAX_XLA_DEFAULTS=1`` (which turns off every runtime default of this library, the XLA flag
of :mod:`cs231n_jax.cpu.xla_flags` included).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Mapping

from cs231n_jax.cpu import jax_will_use_cpu
from cs231n_jax.cpu.xla_flags import OPT_OUT_ENV

HUGETLB = "glibc.malloc.hugetlb"
MALLOC = "glibc.malloc."
TUNABLES = f"{HUGETLB}=1:{MALLOC}arena_max=1:{MALLOC}mmap_max=0:{MALLOC}trim_threshold={1 << 40}"
FIRST_GLIBC = (2, 35)
THP_SETTING = Path("/sys/kernel/mm/transparent_hugepage/enabled")


def glibc_version() -> tuple[int, int] | None:
  """(major, minor) of the C library this process runs on, or None if it is not glibc."""
  try:
    name, version = os.confstr("CS_GNU_LIBC_VERSION").split()
    major, minor = version.split(".")[:2]
    return (int(major), int(minor)) if name == "glibc" else None
  except (AttributeError, OSError, ValueError):  # no confstr (not Unix), no such name, odd text
    return None


def transparent_huge_pages_possible() -> bool:
  """False only when the kernel says its transparent huge pages are ``never``."""
  try:
    return "[never]" not in THP_SETTING.read_text()
  except OSError:
    return True  # no such file to ask: let glibc find out


def tunables_to_set(environ: Mapping[str, str], glibc: tuple[int, int] | None) -> str | None:
  """The ``GLIBC_TUNABLES`` value to restart with (the user's tunables, then ours), or None to
  leave the process as it is."""
  if environ.get(OPT_OUT_ENV) == "1" or glibc is None or glibc < FIRST_GLIBC:
    return None
  current = environ.get("GLIBC_TUNABLES", "")
  if any(item.startswith(MALLOC) for item in current.split(":")):
    return None
  return f"{current}:{TUNABLES}" if current else TUNABLES


def restart_with_malloc_tunables() -> None:
  """Replace this process by the same command line with :data:`TUNABLES` added to
  ``GLIBC_TUNABLES``; return at once if there is nothing to add. Call it first thing, before any
  work: whatever ran before is run again."""
  if not sys.platform.startswith("linux") or not transparent_huge_pages_possible() or not jax_will_use_cpu():
    return  # the tunables were measured for XLA:CPU's buffers; a TPU or GPU host keeps glibc's defaults
  value = tunables_to_set(os.environ, glibc_version())
  if value is None:
    return
  sys.stdout.flush()
  sys.stderr.flush()
  os.execve(sys.executable, sys.orig_argv, {**os.environ, "GLIBC_TUNABLES": value})
