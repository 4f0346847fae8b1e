"""Convolutions and batch norm on the CPU: kernels compiled on this machine, as JAX primitives.

XLA:CPU computes a convolution's weight gradient with Eigen kernels that jaxlib compiles for plain
AVX; on the CIFAR ResNets' 3x3 convolutions they reach 20-45 GFLOP/s of this machine's ~170
(docs/benchmarks.md, "The CPU goal"); and it spends ~10 passes over the activation on batch norm,
the residual add and the ReLU of a residual block. ``kernels.cc`` computes the convolution,
its weight gradient and batch norm (forward and backward) with the host's widest vectors: it is
compiled here, once per source, compiler, jaxlib and CPU (``-march=native``), into a cache
directory, and called as XLA FFI custom calls that split the work over XLA's own intra-op thread pool.

Two primitives carry it into autodiff, since a custom call has no derivatives of its own:

- ``conv2d_p(x, w)``: the 2-D NHWC x HWIO convolution, bilinear; the custom call on CPU, XLA's
  convolution elsewhere. Its transpose in ``w`` -- the weight gradient -- is ``weight_grad_p``.
- ``weight_grad_p(x, g)``: the weight gradient, bilinear; the custom call on CPU, XLA's own
  convolution elsewhere. Its transpose in ``g`` is ``conv2d_p`` again.

Transposes in ``x`` -- the input gradient -- are ``conv2d_p`` of the output gradient with the kernel
flipped (one per phase of the input when strided, :func:`_input_grad`), so every order of forward
and reverse differentiation works and runs on the kernels. ``rewrites.conv_general_dilated`` uses
``conv2d_p`` in functions traced for the CPU (:func:`cs231n_jax.cpu.compiling_for`) when
:func:`in_use`. Batch norm (:func:`batch_norm`, used by
``norms.BatchNorm`` in training) has three primitives of its own; see its section below.

The kernels are chosen by the lowering platform: every primitive's default lowering is XLA's own
computation, and its CPU lowering the custom call -- except in a program lowered for ``jax.export``,
which refuses custom calls (they carry no compatibility guarantee) and gets XLA's computation too.
The build runs once per machine, in the background from the first import of the layers on a CPU host
(:func:`build_in_background`), under a file lock and with a timeout; only JAX versions in
:data:`TESTED_JAX` use the kernels.

No compiler, a failed build or ``CS231N_JAX_XLA_DEFAULTS=1``: :func:`available` is False (with one
warning naming the reason) and the library keeps XLA's convolutions and Flax's batch norm. A
compiler comes from ``$CXX``, else ``c++`` / ``g++`` / ``clang++`` on the ``PATH``, else the
``ziglang`` package (``pip install ziglang``) if installed. The cache lives in ``$CS231N_JAX_KERNEL_CACHE`` or
``~/.cache/cs231n_jax/kernels``.

Loading a shared object runs its code, so a cached library is verified before it is loaded: its
sidecar (the build's lock file, ``cpu_kernels-<key>.lock``, written at the end of the build) holds
the SHA-256 of the build key (source, flags, compiler, jaxlib, CPU) and of the library's bytes. A
library whose bytes or key do not match, or that has no sidecar, is rebuilt rather than loaded; one
in a cache writable by other users (or owned by another) is not loaded at all (XLA's kernels are used).
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import hashlib
import importlib.util
import json
import os
import pathlib
import platform
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from typing import Iterator, Sequence

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax
from jax.extend import core
from jax.interpreters import ad, batching, mlir

SOURCE = pathlib.Path(__file__).with_name("kernels.cc")
CONV_TARGET = "cs231n_conv2d"
WEIGHT_GRAD_TARGET = "cs231n_conv2d_weight_grad"
BATCH_NORM_TARGET = "cs231n_batch_norm"
BATCH_NORM_GRAD_TARGET = "cs231n_batch_norm_grad"
NHWC = ("NHWC", "HWIO", "NHWC")
SUPPORTED_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))
FLAGS = ("-O3", "-march=native", "-std=c++17", "-shared", "-fPIC")


# ----------------------------------------------------------------------------- building and loading


def compiler() -> list[str] | None:
  """The C++ compiler command to build with, or None when this machine has none."""
  if os.environ.get("CXX"):
    return os.environ["CXX"].split()
  for name in ("c++", "g++", "clang++"):
    if path := shutil.which(name):
      return [path]
  if importlib.util.find_spec("ziglang") is not None:
    return [sys.executable, "-m", "ziglang", "c++"]
  return None


CPU_SIGNATURE_KEYS = ("model name", "flags",  # x86
                      "Features", "CPU implementer", "CPU architecture", "CPU variant", "CPU part")  # ARM


def _cpu_signature(cpuinfo: str | None = None, machine: str | None = None) -> str:
  """What ``-march=native`` depends on: the machine, the CPU's model and its feature flags (x86's
  ``model name`` / ``flags``, ARM's ``Features`` and part numbers), from the first CPU's entry."""
  if cpuinfo is None:
    try:
      cpuinfo = pathlib.Path("/proc/cpuinfo").read_text()
    except OSError:
      cpuinfo = platform.processor()
  first_cpu = cpuinfo.split("\n\n")[0]
  lines = [line for line in first_cpu.splitlines() if line.startswith(CPU_SIGNATURE_KEYS)]
  return "\n".join([machine or platform.machine(), *lines])


def cache_dir() -> pathlib.Path:
  return pathlib.Path(os.environ.get("CS231N_JAX_KERNEL_CACHE") or pathlib.Path.home() / ".cache/cs231n_jax/kernels")


BUILD_TIMEOUT_S = 600  # the compile, and the wait for another process's compile of the same library


@contextlib.contextmanager
def _build_lock(path: pathlib.Path, timeout: float):
  """An exclusive lock on ``path`` (``fcntl``; other processes building the same library wait);
  yields the open file (the sidecar is written through it)."""
  import fcntl

  deadline = time.monotonic() + timeout
  with open(path, "a+") as handle:  # "a+": taking the lock must not erase the sidecar it holds
    while True:
      try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        break
      except BlockingIOError:
        if time.monotonic() > deadline:
          raise TimeoutError(f"waited {timeout:.0f} s for another process building {path.stem}") from None
        time.sleep(0.2)
    try:
      yield handle
    finally:
      fcntl.flock(handle, fcntl.LOCK_UN)


def build_key(cxx: Sequence[str]) -> str:
  """SHA-256 of everything the library is built from: source, flags, compiler, jax / jaxlib, CPU."""
  version = subprocess.run([*cxx, "--version"], capture_output=True, text=True, check=True, timeout=60).stdout
  return hashlib.sha256("\0".join([SOURCE.read_text(), " ".join(FLAGS), version, jax.__version__,
                                   jax.lib.__version__, _cpu_signature()]).encode()).hexdigest()


def library_path(cxx: Sequence[str]) -> pathlib.Path:
  """Where the library for this source, compiler, jaxlib and CPU lives in the cache (its lock file,
  which is also its sidecar, is the same name with ``.lock``)."""
  return cache_dir() / f"cpu_kernels-{build_key(cxx)[:16]}.so"


def _file_sha256(path: pathlib.Path) -> str:
  h = hashlib.sha256()
  with open(path, "rb") as f:
    for chunk in iter(lambda: f.read(1 << 20), b""):
      h.update(chunk)
  return h.hexdigest()


def sidecar_path(library: pathlib.Path) -> pathlib.Path:
  return library.with_suffix(".lock")


def unsafe_location(library: pathlib.Path) -> str | None:
  """Why loading ``library`` would run code another user could have put there (None if it is safe)."""
  for p in (library.parent, library):
    st = p.stat()
    if hasattr(os, "getuid") and st.st_uid != os.getuid():
      return f"{p} is owned by another user (uid {st.st_uid})"
    if st.st_mode & 0o022:
      return f"{p} is writable by other users (mode {st.st_mode & 0o777:o})"
  return None


def verify(library: pathlib.Path, key: str) -> str | None:
  """Why the cached ``library`` must not be loaded as it is (None when its sidecar vouches for it)."""
  try:
    record = json.loads(sidecar_path(library).read_text() or "{}")
  except (OSError, ValueError):
    record = {}
  if not isinstance(record, dict) or "library_sha256" not in record:
    return "it has no sidecar hash"
  if record.get("build_key") != key:
    return "its sidecar names another source or build flags"
  if record["library_sha256"] != _file_sha256(library):
    return "its bytes do not match the sidecar's SHA-256"
  return None


def _write_sidecar(handle, library: pathlib.Path, key: str) -> None:
  handle.seek(0)
  handle.truncate()
  handle.write(json.dumps({"build_key": key, "library_sha256": _file_sha256(library), "flags": list(FLAGS)}))
  handle.flush()
  os.fsync(handle.fileno())


def build(cxx: Sequence[str], timeout: float = BUILD_TIMEOUT_S) -> pathlib.Path:
  """Compiles ``kernels.cc`` (once per source, compiler, jaxlib and CPU) and returns the library.

  One process compiles while others wait on a file lock; the compile is announced on stderr (it
  takes tens of seconds, once per machine) and gives up after ``timeout`` seconds. The library is
  written under a temporary name and renamed into place, so that a failed or concurrent build
  never leaves a broken library where a later process would load it."""
  key = build_key(cxx)
  target = cache_dir() / f"cpu_kernels-{key[:16]}.so"
  if target.exists() and verify(target, key) is None:
    return target
  target.parent.mkdir(parents=True, exist_ok=True)
  with _build_lock(sidecar_path(target), timeout) as handle:
    if target.exists():
      problem = verify(target, key)
      if problem is None:  # another process built it while this one waited
        return target
      warnings.warn(f"cs231n_jax: the cached CPU kernel library {target} is not loaded: {problem}; rebuilding it",
                    RuntimeWarning, stacklevel=2)
    print(f"cs231n_jax: compiling the CPU kernels into {target.parent} (once per machine, ~30 s)",
          file=sys.stderr, flush=True)
    with tempfile.TemporaryDirectory(dir=target.parent) as tmp:
      partial = pathlib.Path(tmp) / target.name
      command = [*cxx, *FLAGS, "-I", jax.ffi.include_dir(), str(SOURCE), "-o", str(partial), "-lpthread"]
      result = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
      if result.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed: {result.stderr.strip().splitlines()[-1:]}")
      os.replace(partial, target)
    _write_sidecar(handle, target, key)
  return target


# The JAX versions these primitives (jax.extend.core, jax.interpreters' ad / batching / mlir, the
# FFI) were tested with, [first, last): outside it the library keeps XLA's own path.
TESTED_JAX = ((0, 10, 2), (0, 11, 0))


def jax_version_tested(version: str = jax.__version__) -> bool:
  parts = tuple(int("".join(c for c in p if c.isdigit()) or 0) for p in version.split(".")[:3])
  return TESTED_JAX[0] <= parts < TESTED_JAX[1]


_decision_lock = threading.Lock()


@functools.cache
def _decide() -> bool:
  if os.environ.get("CS231N_JAX_XLA_DEFAULTS") == "1":
    return False
  if not jax_version_tested():
    warnings.warn(f"cs231n_jax: the CPU kernels were tested with JAX {TESTED_JAX[0]} to before {TESTED_JAX[1]}, "
                  f"this is {jax.__version__}: convolutions and batch norm use XLA's own kernels on the CPU",
                  stacklevel=3)
    return False
  cxx = compiler()
  if cxx is None:
    warnings.warn("cs231n_jax: no C++ compiler (CXX, c++, g++, clang++ or the ziglang package): "
                  "convolutions and batch norm use XLA's own kernels on the CPU", stacklevel=3)
    return False
  try:
    path = build(cxx)
    unsafe = unsafe_location(path)
    if unsafe:
      raise RuntimeError(f"not loading {path.name}: {unsafe}")
    library = ctypes.cdll.LoadLibrary(str(path))
    jax.ffi.register_ffi_target(CONV_TARGET, jax.ffi.pycapsule(library.Conv2d), platform="cpu")
    jax.ffi.register_ffi_target(WEIGHT_GRAD_TARGET, jax.ffi.pycapsule(library.ConvWeightGrad), platform="cpu")
    jax.ffi.register_ffi_target(BATCH_NORM_TARGET, jax.ffi.pycapsule(library.BatchNorm), platform="cpu")
    jax.ffi.register_ffi_target(BATCH_NORM_GRAD_TARGET, jax.ffi.pycapsule(library.BatchNormGrad), platform="cpu")
  except (OSError, AttributeError, RuntimeError, TimeoutError, subprocess.SubprocessError) as error:
    warnings.warn(f"cs231n_jax: building the CPU kernels failed ({error}): convolutions and batch "
                  "norm use XLA's own kernels on the CPU", stacklevel=3)
    return False
  return True


def available() -> bool:
  """Whether the kernels are built, loaded and registered with XLA for the CPU (decided once per
  process, with one warning when they cannot be; a build started by :func:`build_in_background`
  is waited for, not repeated)."""
  with _decision_lock:
    return _decide()


available.cache_clear = _decide.cache_clear  # tests forget the decision


def build_in_background() -> threading.Thread:
  """Decide (and if needed compile) now, in a daemon thread, so that the first trace of a
  convolution waits at most for what is left instead of compiling inside the trace.
  :mod:`cs231n_jax.cpu.rewrites` (imported by every layer that uses the kernels) calls it on
  import when JAX will run on the CPU."""
  thread = threading.Thread(target=available, name="cs231n_jax-cpu-kernels", daemon=True)
  thread.start()
  return thread


_switch = {"enabled": True}


@contextlib.contextmanager
def disabled() -> Iterator[None]:
  """Within this context, convolutions traced by ``rewrites`` and ``norms.BatchNorm`` use XLA's own
  kernels (the "before" of a benchmark, or a bitwise comparison with ``flax.linen``). Read while tracing: trace a
  fresh function object here (JAX caches traces by function)."""
  previous = _switch["enabled"]
  _switch["enabled"] = False
  try:
    yield
  finally:
    _switch["enabled"] = previous


def in_use() -> bool:
  """Whether convolutions traced now go to the kernels (not switched off, built and registered)."""
  return _switch["enabled"] and available()


def supports(lhs: jax.Array, rhs: jax.Array, dn: lax.ConvDimensionNumbers, lhs_dilation, rhs_dilation,
             feature_group_count: int, batch_group_count: int, preferred_element_type) -> bool:
  """Whether a ``lax.conv_general_dilated`` call is one the kernel computes: 2-D, NHWC x HWIO ->
  NHWC (Flax's layout), undilated, ungrouped, float32 or float64."""
  return (lhs.ndim == 4 and dn == lax.conv_dimension_numbers(lhs.shape, rhs.shape, NHWC)
          and all(d == 1 for d in (lhs_dilation or (1, 1))) and all(d == 1 for d in (rhs_dilation or (1, 1)))
          and feature_group_count == 1 and batch_group_count == 1
          and preferred_element_type in (None, lhs.dtype) and lhs.dtype == rhs.dtype
          and np.dtype(lhs.dtype) in SUPPORTED_DTYPES)


# ----------------------------------------------------------------------------- the primitives
# ``strides`` is (sh, sw) and ``padding`` ((top, bottom), (left, right)), explicit, as hashable tuples.


def _conv(x, w, *, strides, padding):
  return lax.conv_general_dilated(x, w, strides, padding, dimension_numbers=NHWC)


def _weight_grad_by_xla(x, g, *, strides, padding, kernel_size):
  w = jax.ShapeDtypeStruct((*kernel_size, x.shape[-1], g.shape[-1]), x.dtype)
  return jax.linear_transpose(lambda w: _conv(x, w, strides=strides, padding=padding), w)(g)[0]


def _input_grad_by_xla(g, w, *, x_shape, strides, padding):
  x = jax.ShapeDtypeStruct(x_shape, g.dtype)
  return jax.linear_transpose(lambda x: _conv(x, w, strides=strides, padding=padding), x)(g)[0]


def _by_kernel(target, out, a, b, *, strides, padding):
  (top, _), (left, _) = padding
  return jax.ffi.ffi_call(target, out)(a, b, stride_h=np.int64(strides[0]), stride_w=np.int64(strides[1]),
                                       pad_top=np.int64(top), pad_left=np.int64(left))


def _conv_on_cpu(x, w, *, strides, padding):
  if not available():
    return _conv(x, w, strides=strides, padding=padding)
  out = jax.eval_shape(functools.partial(_conv, strides=strides, padding=padding), x, w)
  return _by_kernel(CONV_TARGET, out, x, w, strides=strides, padding=padding)


def _weight_grad_on_cpu(x, g, *, strides, padding, kernel_size):
  if not available():
    return _weight_grad_by_xla(x, g, strides=strides, padding=padding, kernel_size=kernel_size)
  out = jax.ShapeDtypeStruct((*kernel_size, x.shape[-1], g.shape[-1]), x.dtype)
  return _by_kernel(WEIGHT_GRAD_TARGET, out, x, g, strides=strides, padding=padding)


def _phase(phase, stride, taps, pad, grad_size, phase_size):
  """One axis of a strided convolution's input gradient, restricted to the input positions
  ``i = m * stride + phase``: those receive the taps ``k = first + t * stride`` (t < count) from the
  output positions ``o = m + shift - t``. Returns ``first``, ``count`` and the padding of the
  unit-stride convolution (of the output cotangent with those taps, flipped) that gives positions
  m < ``phase_size``."""
  first = (phase + pad) % stride
  count = max(0, -(-(taps - first) // stride))
  shift = (phase + pad - first) // stride
  low = count - 1 - shift
  return first, count, (low, phase_size - grad_size - low + count - 1)


def _input_grad(g, w, *, x_shape, strides, padding):
  """The input gradient of ``conv(x, w)`` at the output cotangent ``g``, by the kernel: a unit-stride
  convolution of ``g`` with the kernel flipped in space and its channel axes swapped. Strided, one
  such convolution per phase of the input (the positions with the same remainder modulo the
  stride), each with the taps that reach that phase, interleaved: the convolution's own FLOPs,
  where spreading ``g`` out with zeros between would multiply zeros (4x the work at stride 2)."""
  (kh, kw), (h, wd) = w.shape[:2], x_shape[1:3]
  (sh, sw), ((top, _), (left, _)) = strides, padding
  rows, cols = -(-h // sh), -(-wd // sw)  # positions per phase; the last phases may need one fewer
  phases = []
  for phase_h in range(sh):
    first_h, count_h, pads_h = _phase(phase_h, sh, kh, top, g.shape[1], rows)
    for phase_w in range(sw):
      first_w, count_w, pads_w = _phase(phase_w, sw, kw, left, g.shape[2], cols)
      if count_h == 0 or count_w == 0:  # no tap reaches these positions (kernel smaller than stride)
        phases.append(jnp.zeros((g.shape[0], rows, cols, w.shape[2]), g.dtype))
      else:
        taps = w[first_h::sh, first_w::sw][:count_h, :count_w]
        flipped = jnp.swapaxes(taps[::-1, ::-1], 2, 3)
        phases.append(conv2d_p.bind(g, flipped, strides=(1, 1), padding=(pads_h, pads_w)))
  if len(phases) == 1:  # unit stride: the one phase is the whole input
    return phases[0]
  dx = jnp.stack(phases, axis=3).reshape(g.shape[0], rows, cols, sh, sw, w.shape[2])
  dx = dx.transpose(0, 1, 3, 2, 4, 5).reshape(g.shape[0], rows * sh, cols * sw, w.shape[2])
  return dx[:, :h, :wd]


conv2d_p = core.Primitive("cs231n_conv2d")
weight_grad_p = core.Primitive("cs231n_conv2d_weight_grad")


def _cpu_lowering(on_cpu, portable, multiple_results):
  """The CPU lowering: the kernel's custom call, except in a program lowered for ``jax.export``,
  which refuses custom calls (they carry no compatibility guarantee) and gets ``portable``, XLA's
  own computation of the same values -- so exporting needs no :func:`disabled`."""
  kernel = mlir.lower_fun(on_cpu, multiple_results=multiple_results)
  xla = mlir.lower_fun(portable, multiple_results=multiple_results)

  def rule(ctx, *args, **params):
    for_export = ctx.module_context.lowering_parameters.for_export
    return (xla if for_export else kernel)(ctx, *args, **params)

  return rule


def _shaped(fn, *args, **params):
  out = jax.eval_shape(functools.partial(fn, **params), *args)
  return jax.core.ShapedArray(out.shape, out.dtype)


conv2d_p.def_impl(lambda x, w, **params: (_conv_on_cpu if jax.default_backend() == "cpu" else _conv)(x, w, **params))
conv2d_p.def_abstract_eval(functools.partial(_shaped, _conv))
mlir.register_lowering(conv2d_p, mlir.lower_fun(_conv, multiple_results=False))
mlir.register_lowering(conv2d_p, _cpu_lowering(_conv_on_cpu, _conv, False), platform="cpu")

weight_grad_p.def_impl(lambda x, g, **params: (_weight_grad_on_cpu if jax.default_backend() == "cpu"
                                                else _weight_grad_by_xla)(x, g, **params))
weight_grad_p.def_abstract_eval(functools.partial(_shaped, _weight_grad_by_xla))
mlir.register_lowering(weight_grad_p, mlir.lower_fun(_weight_grad_by_xla, multiple_results=False))
mlir.register_lowering(weight_grad_p, _cpu_lowering(_weight_grad_on_cpu, _weight_grad_by_xla, False), platform="cpu")

# conv2d_p(x, w): transposed in x, the input gradient (by the kernel); in w, the weight gradient.
ad.defbilinear(
    conv2d_p,
    lambda ct, x, w, *, strides, padding: _input_grad(ct, w, x_shape=x.aval.shape, strides=strides,
                                                      padding=padding),
    lambda ct, x, w, *, strides, padding: weight_grad_p.bind(x, ct, strides=strides, padding=padding,
                                                             kernel_size=w.aval.shape[:2]))
# weight_grad_p(x, g) = d<conv(x, w), g>/dw: transposed in g, conv(x, .); in x, the input gradient
# of conv(., ct) at the cotangent g.
ad.defbilinear(
    weight_grad_p,
    lambda ct, x, g, *, strides, padding, kernel_size: _input_grad(g, ct, x_shape=x.aval.shape,
                                                                   strides=strides, padding=padding),
    lambda ct, x, g, *, strides, padding, kernel_size: conv2d_p.bind(x, ct, strides=strides, padding=padding))


def _batch_sequentially(primitive, args, dims, **params):
  """vmap: one call per example (the kernel itself takes one batch of images)."""
  size = next(a.shape[d] for a, d in zip(args, dims) if d is not None)
  moved = [jnp.broadcast_to(a[None], (size, *a.shape)) if d is None else jnp.moveaxis(a, d, 0)
           for a, d in zip(args, dims)]
  return lax.map(lambda a: primitive.bind(*a, **params), moved), 0


def _batch_conv(args, dims, **params):
  """vmap of the convolution: a batch of inputs with one kernel folds into the kernel's own batch."""
  (x, w), (x_dim, w_dim) = args, dims
  if w_dim is not None:
    return _batch_sequentially(conv2d_p, args, dims, **params)
  x = jnp.moveaxis(x, x_dim, 0)
  out = conv2d_p.bind(x.reshape(-1, *x.shape[2:]), w, **params)
  return out.reshape(*x.shape[:2], *out.shape[1:]), 0


batching.primitive_batchers[conv2d_p] = _batch_conv
batching.primitive_batchers[weight_grad_p] = functools.partial(_batch_sequentially, weight_grad_p)


def conv2d(x: jax.Array, w: jax.Array, strides: Sequence[int], padding: Sequence[tuple[int, int]]) -> jax.Array:
  """``lax.conv_general_dilated(x, w, strides, padding)`` in NHWC x HWIO, differentiated in ``w`` by the
  kernel (see the module docstring); ``padding`` explicit."""
  return conv2d_p.bind(x, w, strides=tuple(int(s) for s in strides),
                       padding=tuple((int(lo), int(hi)) for lo, hi in padding))


# ----------------------------------------------------------------------------- batch norm (training)
# Batch norm over every axis but the last, with the batch's biased variance (Flax's nn.BatchNorm in
# training), then optionally a residual added and a ReLU:
#   y = act(z + residual),  z = (x - mean) / sqrt(var + eps) * scale + bias.
# XLA:CPU spends ~10 passes over the activation on batch norm, the residual add and the ReLU of a
# ResNet block, forward and backward (several fusions and reductions); the kernels take 4.
#
# Three primitives carry it into autodiff (``residual`` present or not is the parameter ``residual``):
# - ``batch_norm_p(x, scale, bias[, residual]) -> (y, mean, var)``: the layer, reached only through
#   the ``custom_jvp`` function :func:`batch_norm`, whose rule gives the tangents;
# - ``batch_norm_tangent_p(x, scale, bias, mean, var[, residual], dx, dscale, dbias[, dresidual]) -> dy``:
#   y's tangent, linear in the trailing tangents; transposed, ``batch_norm_cotangent_p``;
# - ``batch_norm_cotangent_p(x, scale, bias, mean, var[, residual], dy) -> (dx, dscale, dbias[, dresidual])``:
#   the backward pass, linear in dy; transposed, ``batch_norm_tangent_p``.
# So reverse mode runs the forward and backward kernels; forward mode, every higher order and vmap
# use the jnp references below (correct, not sped up).


def _reduction_axes(x):
  return tuple(range(x.ndim - 1))


def _pre_activation(x, scale, bias, mean, var, residual, epsilon):
  z = (x - mean) * (lax.rsqrt(var + epsilon) * scale) + bias
  return z if residual is None else z + residual


def _mask(relu, pre, value):
  """``value`` where the ReLU passes (``pre > 0``), zero elsewhere; ``value`` itself without a ReLU."""
  return jnp.where(pre > 0, value, jnp.zeros_like(value)) if relu else value


def _split(args, n_primal, residual):
  """(x, scale, bias, mean, var, residual or None) and the rest of a tangent / cotangent primitive's operands."""
  primal = list(args[:n_primal + residual])
  if not residual:
    primal.append(None)
  return primal, list(args[n_primal + residual:])


def _batch_norm_reference(*args, epsilon, relu, residual):
  x, scale, bias = args[:3]
  r = args[3] if residual else None
  axes = _reduction_axes(x)
  mean = jnp.mean(x, axes)
  var = jnp.mean(jnp.square(x - mean), axes)
  pre = _pre_activation(x, scale, bias, mean, var, r, epsilon)
  return _mask(relu, pre, pre), mean, var


def _batch_norm_tangent_reference(*args, epsilon, relu, residual):
  (x, scale, bias, mean, var, r), tangents = _split(args, 5, residual)
  dx, dscale, dbias = tangents[:3]
  axes = _reduction_axes(x)
  inv_std = lax.rsqrt(var + epsilon)
  xhat = (x - mean) * inv_std
  dxhat = (dx - jnp.mean(dx, axes) - xhat * jnp.mean(dx * xhat, axes)) * inv_std
  dpre = dxhat * scale + xhat * dscale + dbias + (tangents[3] if residual else 0)
  return _mask(relu, _pre_activation(x, scale, bias, mean, var, r, epsilon), dpre)


def _batch_norm_cotangent_reference(*args, epsilon, relu, residual):
  (x, scale, bias, mean, var, r), (dy,) = _split(args, 5, residual)
  axes = _reduction_axes(x)
  inv_std = lax.rsqrt(var + epsilon)
  xhat = (x - mean) * inv_std
  g = _mask(relu, _pre_activation(x, scale, bias, mean, var, r, epsilon), dy)
  dbias, dscale = jnp.sum(g, axes), jnp.sum(g * xhat, axes)
  m = x.size // x.shape[-1]
  dx = scale * inv_std * (g - dbias / m - xhat * (dscale / m))
  return (dx, dscale, dbias, g) if residual else (dx, dscale, dbias)




def _kernel_params(epsilon, relu, residual):
  return dict(epsilon=np.float64(epsilon), relu=np.int64(relu), residual=np.int64(residual))


def _batch_norm_on_cpu(*args, epsilon, relu, residual):
  if not available():
    return _batch_norm_reference(*args, epsilon=epsilon, relu=relu, residual=residual)
  x, scale, bias = args[:3]
  r = args[3] if residual else jnp.zeros((1,), x.dtype)
  out = jax.eval_shape(functools.partial(_batch_norm_reference, epsilon=epsilon, relu=relu, residual=residual), *args)
  return tuple(jax.ffi.ffi_call(BATCH_NORM_TARGET, out)(x, scale, bias, r, **_kernel_params(epsilon, relu, residual)))


def _batch_norm_cotangent_on_cpu(*args, epsilon, relu, residual):
  if not available():
    return _batch_norm_cotangent_reference(*args, epsilon=epsilon, relu=relu, residual=residual)
  (x, scale, bias, mean, var, r), (dy,) = _split(args, 5, residual)
  like_x, per_channel = jax.ShapeDtypeStruct(x.shape, x.dtype), jax.ShapeDtypeStruct(scale.shape, x.dtype)
  out = (like_x, per_channel, per_channel, like_x if residual else jax.ShapeDtypeStruct((1,), x.dtype))
  dx, dscale, dbias, dr = jax.ffi.ffi_call(BATCH_NORM_GRAD_TARGET, out)(
      x, scale, bias, mean, var, r if residual else jnp.zeros((1,), x.dtype), dy,
      **_kernel_params(epsilon, relu, residual))
  return (dx, dscale, dbias, dr) if residual else (dx, dscale, dbias)


def _define(primitive, reference, on_cpu=None, multiple_results=False):
  """Abstract evaluation, lowerings, JVP and vmap of ``primitive`` from its jnp ``reference``;
  ``on_cpu`` (the kernel) replaces the reference's lowering on the CPU backend."""
  primitive.multiple_results = multiple_results

  def shaped(*args, **params):
    out = jax.eval_shape(functools.partial(reference, **params), *args)
    avals = [jax.core.ShapedArray(o.shape, o.dtype) for o in (out if multiple_results else [out])]
    return avals if multiple_results else avals[0]

  def jvp(primals, tangents, **params):
    tangents = tuple(ad.instantiate_zeros(t) for t in tangents)
    return jax.jvp(functools.partial(reference, **params), tuple(primals), tangents)

  def batch(args, dims, **params):
    out = jax.vmap(functools.partial(reference, **params), in_axes=dims)(*args)
    return out, ([0] * len(out) if multiple_results else 0)

  primitive.def_impl(lambda *args, **params: (on_cpu if on_cpu and jax.default_backend() == "cpu"
                                              else reference)(*args, **params))
  primitive.def_abstract_eval(shaped)
  mlir.register_lowering(primitive, mlir.lower_fun(reference, multiple_results=multiple_results))
  if on_cpu:
    mlir.register_lowering(primitive, _cpu_lowering(on_cpu, reference, multiple_results), platform="cpu")
  ad.primitive_jvps[primitive] = jvp
  batching.primitive_batchers[primitive] = batch


batch_norm_p = core.Primitive("cs231n_batch_norm")
batch_norm_tangent_p = core.Primitive("cs231n_batch_norm_tangent")
batch_norm_cotangent_p = core.Primitive("cs231n_batch_norm_cotangent")
_define(batch_norm_p, _batch_norm_reference, _batch_norm_on_cpu, multiple_results=True)
_define(batch_norm_tangent_p, _batch_norm_tangent_reference)
_define(batch_norm_cotangent_p, _batch_norm_cotangent_reference, _batch_norm_cotangent_on_cpu, multiple_results=True)


def _transpose_tangent(ct, *args, residual, **params):
  n_primal = 5 + residual
  primal, linear = args[:n_primal], args[n_primal:]
  if type(ct) is ad.Zero:
    return [None] * len(args)
  cts = batch_norm_cotangent_p.bind(*primal, ct, residual=residual, **params)
  return [None] * n_primal + [c if ad.is_undefined_primal(a) else None for a, c in zip(linear, cts)]


def _transpose_cotangent(cts, *args, residual, **params):
  primal = args[:-1]
  if all(type(c) is ad.Zero for c in cts):
    return [None] * len(args)
  tangents = [ad.instantiate_zeros(c) for c in cts]
  return [None] * len(primal) + [batch_norm_tangent_p.bind(*primal, *tangents, residual=residual, **params)]


ad.primitive_transposes[batch_norm_tangent_p] = _transpose_tangent
ad.primitive_transposes[batch_norm_cotangent_p] = _transpose_cotangent


@functools.partial(jax.custom_jvp, nondiff_argnums=(4, 5))
def _batch_norm(x, scale, bias, residual, epsilon, relu):
  operands = (x, scale, bias) if residual is None else (x, scale, bias, residual)
  return tuple(batch_norm_p.bind(*operands, epsilon=epsilon, relu=relu, residual=residual is not None))


@_batch_norm.defjvp
def _batch_norm_jvp(epsilon, relu, primals, tangents):
  x, scale, bias, residual = primals
  dx, dscale, dbias, dresidual = tangents
  y, mean, var = _batch_norm(x, scale, bias, residual, epsilon, relu)
  has_residual = residual is not None
  operands = [x, scale, bias, mean, var] + ([residual] if has_residual else []) + [dx, dscale, dbias]
  dy = batch_norm_tangent_p.bind(*operands, *([dresidual] if has_residual else []), epsilon=epsilon, relu=relu,
                                 residual=has_residual)
  axes = _reduction_axes(x)
  return (y, mean, var), (dy, jnp.mean(dx, axes), 2 * jnp.mean((x - mean) * dx, axes))


def batch_norm(x: jax.Array, scale: jax.Array, bias: jax.Array, epsilon: float, relu: bool = False,
               residual: jax.Array | None = None) -> tuple[jax.Array, jax.Array, jax.Array]:
  """Training-mode batch norm of ``x`` over every axis but the last, plus ``residual`` if given,
  then a ReLU if ``relu``: ``act((x - mean) / sqrt(var + epsilon) * scale + bias + residual)``.

  Returns ``(y, mean, var)``: the output and the batch's mean and biased variance (what Flax's
  ``nn.BatchNorm`` folds into its running averages). Differentiable to every order; reverse mode
  runs the CPU kernels where :func:`available`, on the CPU backend."""
  if residual is not None and (residual.shape != x.shape or residual.dtype != x.dtype):
    raise ValueError(f"residual: expected shape {x.shape} and dtype {x.dtype} (x's), "
                     f"got {residual.shape} {residual.dtype}")
  return _batch_norm(x, scale, bias, residual, float(epsilon), bool(relu))
