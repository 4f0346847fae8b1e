"""The convolution's weight gradient on the CPU: a kernel compiled on this machine, as a JAX primitive.

XLA:CPU computes a convolution's weight gradient with Eigen kernels that jaxlib compiles for plain
AVX; on the CIFAR ResNets' 3x3 convolutions they reach 20-45 GFLOP/s of this machine's ~170
(docs/benchmarks.md, "The CPU goal"). ``cpu_kernels.cc`` computes the same sums, register-blocked
over channels, with the host's widest vectors: it is compiled here, once per source, compiler, jaxlib
and CPU (``-march=native``), into a cache directory, and called as an XLA FFI custom call that
splits the batch over XLA's own intra-op thread pool.

Two primitives carry it into autodiff, since a custom call has no derivatives of its own:

- ``conv2d_p(x, w)``: the 2-D NHWC x HWIO convolution, bilinear; lowered to XLA's convolution. Its
  transpose in ``w`` -- the weight gradient -- is ``weight_grad_p``.
- ``weight_grad_p(x, g)``: the weight gradient, bilinear; the custom call on CPU, XLA's own
  convolution elsewhere. Its transpose in ``g`` is ``conv2d_p`` again.

Transposes in ``x`` (needed only by higher-order derivatives) use ``lax``'s own rules, so every order
of forward and reverse differentiation works. ``conv_pool.conv_general_dilated`` writes the
convolution's weight tangent with ``conv2d_p`` on the CPU backend when :func:`available`.

``jax.export`` refuses custom calls (they carry no compatibility guarantee): to export a CPU program
with convolutions, trace it inside :func:`disabled` (XLA's own convolutions, portable).

No compiler, a failed build or ``CS231N_JAX_XLA_DEFAULTS=1``: :func:`available` is False (with one
warning naming the reason) and the library keeps XLA's own weight gradient. A compiler comes from
``$CXX``, else ``c++`` / ``g++`` / ``clang++`` on the ``PATH``, else the ``ziglang`` package
(``pip install ziglang``) if installed. The cache lives in ``$CS231N_JAX_KERNEL_CACHE`` or
``~/.cache/cs231n_jax/kernels``.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import hashlib
import importlib.util
import os
import pathlib
import platform
import shutil
import subprocess
import sys
import tempfile
import warnings
from typing import Iterator, Sequence

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax
from jax.extend import core
from jax.interpreters import ad, batching, mlir

SOURCE = pathlib.Path(__file__).with_name("cpu_kernels.cc")
CONV_TARGET = "cs231n_conv2d"
WEIGHT_GRAD_TARGET = "cs231n_conv2d_weight_grad"
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


def _cpu_signature() -> str:
  """What ``-march=native`` depends on: the CPU's model and feature flags."""
  try:
    text = pathlib.Path("/proc/cpuinfo").read_text()
    return "\n".join(line for line in text.splitlines()[:40] if line.startswith(("model name", "flags")))
  except OSError:
    return platform.processor() + platform.machine()


def cache_dir() -> pathlib.Path:
  return pathlib.Path(os.environ.get("CS231N_JAX_KERNEL_CACHE") or pathlib.Path.home() / ".cache/cs231n_jax/kernels")


def build(cxx: Sequence[str]) -> pathlib.Path:
  """Compiles ``cpu_kernels.cc`` (once per source, compiler, jaxlib and CPU) and returns the library.

  The library is written under a temporary name and renamed into place, so that a failed or
  concurrent build never leaves a broken library where a later process would load it."""
  version = subprocess.run([*cxx, "--version"], capture_output=True, text=True, check=True).stdout
  key = hashlib.sha256("\0".join([SOURCE.read_text(), " ".join(FLAGS), version, jax.__version__,
                                  jax.lib.__version__, _cpu_signature()]).encode()).hexdigest()[:16]
  target = cache_dir() / f"cpu_kernels-{key}.so"
  if target.exists():
    return target
  target.parent.mkdir(parents=True, exist_ok=True)
  with tempfile.TemporaryDirectory(dir=target.parent) as tmp:
    partial = pathlib.Path(tmp) / target.name
    command = [*cxx, *FLAGS, "-I", jax.ffi.include_dir(), str(SOURCE), "-o", str(partial), "-lpthread"]
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
      raise RuntimeError(f"{' '.join(command)} failed: {result.stderr.strip().splitlines()[-1:]}")
    os.replace(partial, target)
  return target


@functools.cache
def available() -> bool:
  """Whether the weight-gradient kernel is built, loaded and registered with XLA for the CPU."""
  if os.environ.get("CS231N_JAX_XLA_DEFAULTS") == "1":
    return False
  cxx = compiler()
  if cxx is None:
    warnings.warn("cs231n_jax: no C++ compiler (CXX, c++, g++, clang++ or the ziglang package): "
                  "convolution weight gradients use XLA's own kernel on the CPU", stacklevel=2)
    return False
  try:
    library = ctypes.cdll.LoadLibrary(str(build(cxx)))
    jax.ffi.register_ffi_target(CONV_TARGET, jax.ffi.pycapsule(library.Conv2d), platform="cpu")
    jax.ffi.register_ffi_target(WEIGHT_GRAD_TARGET, jax.ffi.pycapsule(library.ConvWeightGrad), platform="cpu")
  except (OSError, AttributeError, RuntimeError, subprocess.SubprocessError) as error:
    warnings.warn(f"cs231n_jax: building the CPU convolution kernel failed ({error}): convolution "
                  "weight gradients use XLA's own kernel on the CPU", stacklevel=2)
    return False
  return True


_switch = {"enabled": True}


@contextlib.contextmanager
def disabled() -> Iterator[None]:
  """Within this context, convolutions traced by ``conv_pool`` use XLA's own kernels (the "before"
  of a benchmark, or a bitwise comparison with ``flax.linen.Conv``). Read while tracing: trace a
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


def _input_grad(g, w, *, x_shape, strides, padding):
  """The input gradient of ``conv(x, w)`` at the output cotangent ``g``, as a unit-stride convolution
  that ``conv2d_p`` (the CPU kernel) computes: of ``g`` -- spread out to the unit-stride output's
  positions, zeros between, when the convolution is strided -- with the kernel flipped in space and
  its channel axes swapped. Strided, this multiplies zeros (4x the work at stride 2), which the
  kernel still does faster than XLA:CPU's own transposed convolution (~3x on ResNet-20's)."""
  (kh, kw), (h, wd), (oh, ow) = w.shape[:2], x_shape[1:3], g.shape[1:3]
  (top, bottom), (left, right) = padding
  full_h, full_w = h + top + bottom - kh + 1, wd + left + right - kw + 1  # the unit-stride output
  if tuple(strides) != (1, 1):
    sh, sw = strides
    g = lax.pad(g, jnp.zeros((), g.dtype), ((0, 0, 0), (0, full_h - (oh - 1) * sh - 1, sh - 1),
                                            (0, full_w - (ow - 1) * sw - 1, sw - 1), (0, 0, 0)))
  flipped = jnp.swapaxes(w[::-1, ::-1], 2, 3)
  pads = ((kh - 1 - top, h - full_h + top), (kw - 1 - left, wd - full_w + left))
  return conv2d_p.bind(g, flipped, strides=(1, 1), padding=pads)


conv2d_p = core.Primitive("cs231n_conv2d")
weight_grad_p = core.Primitive("cs231n_conv2d_weight_grad")


def _shaped(fn, *args, **params):
  out = jax.eval_shape(functools.partial(fn, **params), *args)
  return jax.core.ShapedArray(out.shape, out.dtype)


conv2d_p.def_impl(lambda x, w, **params: (_conv_on_cpu if jax.default_backend() == "cpu" else _conv)(x, w, **params))
conv2d_p.def_abstract_eval(functools.partial(_shaped, _conv))
mlir.register_lowering(conv2d_p, mlir.lower_fun(_conv, multiple_results=False))
mlir.register_lowering(conv2d_p, mlir.lower_fun(_conv_on_cpu, multiple_results=False), platform="cpu")

weight_grad_p.def_impl(lambda x, g, **params: (_weight_grad_on_cpu if jax.default_backend() == "cpu"
                                                else _weight_grad_by_xla)(x, g, **params))
weight_grad_p.def_abstract_eval(functools.partial(_shaped, _weight_grad_by_xla))
mlir.register_lowering(weight_grad_p, mlir.lower_fun(_weight_grad_by_xla, multiple_results=False))
mlir.register_lowering(weight_grad_p, mlir.lower_fun(_weight_grad_on_cpu, multiple_results=False),
                       platform="cpu")

# conv2d_p(x, w): transposed in x, XLA's input gradient; in w, the kernel's weight gradient.
ad.defbilinear(
    conv2d_p,
    lambda ct, x, w, *, strides, padding: _input_grad(ct, w, x_shape=x.aval.shape, strides=strides,
                                                      padding=padding),
    lambda ct, x, w, *, strides, padding: weight_grad_p.bind(x, ct, strides=strides, padding=padding,
                                                             kernel_size=w.aval.shape[:2]))
# weight_grad_p(x, g) = d<conv(x, w), g>/dw: transposed in g, conv(x, .); in x, XLA's input gradient
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
