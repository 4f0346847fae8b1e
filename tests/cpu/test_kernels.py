"""The CPU convolution kernels (cs231n_jax/cpu/kernels.cc) compute lax.conv_general_dilated and
its derivatives of every order: float64 to rounding, on strides, paddings, kernel sizes and channel
counts that exercise every register block and tail; bitwise reproducible; built once and cached;
and the library falls back to XLA's convolution and Flax's batch norm, with a warning, when they
cannot be built. (The batch-norm kernels: test_batch_norm_kernels.py.)"""

import contextlib
import re

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax import lax

from cs231n_jax.cpu import compiling_for, rewrites
from cs231n_jax.cpu import kernels as cpu_kernels
from cs231n_jax.nn import norms


@pytest.fixture(autouse=True)
def traced_for_the_cpu():
  """The rewrites and kernels apply to functions traced for the CPU, as the engine's steps are."""
  with compiling_for("cpu"):
    yield


NHWC = ("NHWC", "HWIO", "NHWC")

# Every test here builds or runs the kernels: without a compiler there is nothing to test (the
# library's fallback to XLA is what the rest of the suite then runs on).
pytestmark = pytest.mark.skipif(cpu_kernels.compiler() is None,
                                reason="no C++ compiler (CXX, c++, g++, clang++ or ziglang): the CPU kernels cannot be built")


def _reference(x, w, strides, padding):
  return lax.conv_general_dilated(x, w, strides, padding, dimension_numbers=NHWC)


def _ours(x, w, strides, padding):
  return rewrites.conv_general_dilated(x, w, strides, padding, dimension_numbers=NHWC)


def _close(a, b, rtol):
  for u, v in zip(jax.tree.leaves(a), jax.tree.leaves(b)):
    scale = float(jnp.max(jnp.abs(v)))
    assert scale > 0
    np.testing.assert_allclose(np.asarray(u), np.asarray(v), rtol=0, atol=rtol * scale)


def test_the_kernels_are_built_on_this_machine():
  assert cpu_kernels.available()


# (batch, height, width, in channels, out channels, kernel, strides, padding): every register block
# (16 / 8 / 4 / 1 input channels, three taps at once for 1-3 input channels, 2 / 1 vectors of output
# channels, 16 / 8 / 4 / 1 output columns) and the scalar tails (output channels not a multiple of
# the vector), odd channels, 1x1, 3x5 and 7x7 kernels, asymmetric and negative padding, strides that
# do not divide the input (input-gradient phases that no tap reaches), one image (split into bands
# of output rows).
GEOMETRIES = [
    (3, 9, 9, 5, 16, (3, 3), (1, 1), "SAME"),
    (3, 10, 10, 4, 48, (7, 7), (2, 2), ((3, 2), (3, 2))),
    (2, 8, 8, 17, 32, (3, 3), (2, 2), "SAME"),
    (2, 7, 7, 3, 10, (1, 1), (1, 1), "VALID"),
    (2, 11, 11, 3, 32, (5, 5), (2, 1), ((2, 2), (1, 3))),
    (1, 12, 9, 8, 40, (3, 2), (3, 3), "VALID"),
    (9, 6, 6, 1, 8, (3, 3), (1, 1), ((-1, 2), (1, 0))),
    (2, 16, 16, 12, 64, (3, 3), (1, 1), "SAME"),
    (1, 20, 18, 20, 24, (3, 3), (1, 1), "SAME"),
    (2, 9, 8, 2, 20, (3, 5), (1, 2), ((1, 1), (2, 2))),
]


@pytest.mark.parametrize("geometry", GEOMETRIES, ids=lambda g: "x".join(map(str, g[:5])) + f"_s{g[6][0]}{g[6][1]}")
def test_values_and_derivatives_of_every_order_equal_xla_in_float64(geometry):
  n, h, w_, c, o, kernel, strides, padding = geometry
  with jax.enable_x64(True):
    keys = jax.random.split(jax.random.PRNGKey(0), 4)
    x = jax.random.normal(keys[0], (n, h, w_, c), jnp.float64)
    w = jax.random.normal(keys[1], (*kernel, c, o), jnp.float64)
    loss = lambda conv: (lambda x, w: jnp.sum(jnp.tanh(conv(x, w, strides, padding)) ** 2))
    jaxpr = str(jax.make_jaxpr(jax.grad(loss(_ours), (0, 1)))(x, w))
    assert "cs231n_conv2d_weight_grad" in jaxpr and "conv_general_dilated" not in jaxpr.replace("cs231n", "")
    _close(_ours(x, w, strides, padding), _reference(x, w, strides, padding), 1e-13)
    _close(jax.grad(loss(_ours), (0, 1))(x, w), jax.grad(loss(_reference), (0, 1))(x, w), 1e-13)
    _close(jax.jit(jax.grad(loss(_ours), (0, 1)))(x, w), jax.grad(loss(_reference), (0, 1))(x, w), 1e-13)
    # Forward mode, forward over reverse (Hessian-vector product) and reverse over reverse.
    tangents = (jax.random.normal(keys[2], x.shape, jnp.float64), jax.random.normal(keys[3], w.shape, jnp.float64))
    # (Compiled: one program each instead of hundreds of eager operations.)
    jvp = lambda conv: jax.jit(lambda: jax.jvp(lambda x, w: conv(x, w, strides, padding), (x, w), tangents)[1])()
    _close(jvp(_ours), jvp(_reference), 1e-13)
    hvp = lambda conv: jax.jit(lambda: jax.jvp(jax.grad(loss(conv), (0, 1)), (x, w), tangents)[1])()
    _close(hvp(_ours), hvp(_reference), 1e-12)
    grad_norm = lambda conv: (lambda x, w: sum(jnp.sum(g ** 2) for g in jax.grad(loss(conv), (0, 1))(x, w)))
    grad_grad = lambda conv: jax.jit(jax.grad(grad_norm(conv), (0, 1)))(x, w)
    _close(grad_grad(_ours), grad_grad(_reference), 1e-12)


def test_per_example_gradients_under_vmap():
  with jax.enable_x64(True):
    x = jax.random.normal(jax.random.PRNGKey(0), (4, 8, 8, 3), jnp.float64)
    w = jax.random.normal(jax.random.PRNGKey(1), (3, 3, 3, 16), jnp.float64)
    per_example = lambda conv: jax.vmap(jax.grad(lambda w, xi: jnp.sum(jnp.sin(conv(xi[None], w, (1, 1), "SAME")))),
                                        (None, 0))(w, x)
    _close(per_example(_ours), per_example(_reference), 1e-13)
    # A batch of batches with one kernel folds into one call (no loop); the gradients above loop.
    xs = jnp.stack([x, 2 * x], axis=1)
    batched = lambda conv: jax.vmap(lambda xi: conv(xi, w, (2, 1), "SAME"), in_axes=1)(xs)
    _close(batched(_ours), batched(_reference), 1e-13)
    jaxpr = str(jax.make_jaxpr(lambda xs: batched(_ours))(xs))
    assert "cs231n_conv2d" in jaxpr and "scan" not in jaxpr and "while" not in jaxpr


def test_float32_resnet_layer_agrees_to_float32_rounding():
  x = jax.random.normal(jax.random.PRNGKey(0), (16, 16, 16, 16))
  w = 0.1 * jax.random.normal(jax.random.PRNGKey(1), (3, 3, 16, 32))
  loss = lambda conv: (lambda x, w: jnp.sum(jnp.sin(conv(x, w, (2, 2), "SAME"))))
  step = lambda conv: jax.jit(jax.value_and_grad(loss(conv), (0, 1)))(x, w)
  _close(step(_ours), step(_reference), 1e-5)


def test_results_are_bitwise_reproducible():
  """The weight gradient sums the batch in fixed chunks, whatever thread runs which chunk."""
  x = jax.random.normal(jax.random.PRNGKey(0), (37, 8, 8, 16))
  g = jax.random.normal(jax.random.PRNGKey(1), (37, 8, 8, 32))
  w = jnp.zeros((3, 3, 16, 32))
  grad = jax.jit(lambda x, g: jax.vjp(lambda w: _ours(x, w, (1, 1), "SAME"), w)[1](g)[0])
  first = np.asarray(grad(x, g))
  for _ in range(5):
    np.testing.assert_array_equal(np.asarray(grad(x, g)), first)


def test_compiled_step_calls_the_kernels_and_no_xla_convolution():
  x, w = jnp.ones((2, 8, 8, 16)), jnp.ones((3, 3, 16, 16))
  lowered = jax.jit(jax.grad(lambda x, w: jnp.sum(_ours(x, w, (2, 2), "SAME") ** 2), (0, 1))).lower(x, w)
  compiled = lowered.compile().as_text()
  targets = re.findall(r'custom_call_target="([\w]+)"', compiled)
  assert set(targets) == {"cs231n_conv2d", "cs231n_conv2d_weight_grad"}, targets
  assert " convolution(" not in compiled


def test_gradients_inside_scan_equal_the_unrolled_ones():
  conv = lambda x, w: _ours(x, w, (1, 1), "SAME")
  x = jax.random.normal(jax.random.PRNGKey(0), (4, 8, 8, 6))
  ws = 0.2 * jax.random.normal(jax.random.PRNGKey(1), (3, 3, 3, 6, 6))
  scanned = lambda x, ws: lax.scan(lambda h, w: (jnp.tanh(conv(h, w)), None), x, ws)[0].sum()

  def unrolled(x, ws):
    for w in ws:
      x = jnp.tanh(conv(x, w))
    return x.sum()

  grad = lambda f: jax.jit(jax.grad(f, argnums=(0, 1)))
  assert " convolution(" not in grad(scanned).lower(x, ws).compile().as_text()
  for a, b in zip(grad(scanned)(x, ws), grad(unrolled)(x, ws)):
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("case", ["bfloat16", "dilated", "grouped", "nchw"])
def test_convolutions_the_kernels_do_not_compute_stay_xlas(case):
  x = jax.random.normal(jax.random.PRNGKey(0), (2, 8, 8, 4))
  w = jax.random.normal(jax.random.PRNGKey(1), (3, 3, 4, 8))
  kwargs = dict(dimension_numbers=NHWC)
  if case == "bfloat16":
    x, w = x.astype(jnp.bfloat16), w.astype(jnp.bfloat16)
  elif case == "dilated":
    kwargs["rhs_dilation"] = (2, 2)
  elif case == "grouped":
    w, kwargs["feature_group_count"] = w[:, :, :2], 2
  else:
    x, kwargs["dimension_numbers"] = jnp.transpose(x, (0, 3, 1, 2)), ("NCHW", "HWIO", "NCHW")
  ours = lambda x, w: rewrites.conv_general_dilated(x, w, (1, 1), "SAME", **kwargs)
  ref = lambda x, w: lax.conv_general_dilated(x, w, (1, 1), "SAME", **kwargs)
  assert "cs231n_conv2d" not in str(jax.make_jaxpr(jax.grad(lambda x, w: ours(x, w).sum(), (0, 1)))(x, w))
  loss = lambda f: (lambda x, w: jnp.sum(jnp.sin(f(x, w).astype(jnp.float32))))
  _close(jax.grad(loss(ours), (0, 1))(x, w), jax.grad(loss(ref), (0, 1))(x, w), 1e-2 if case == "bfloat16" else 1e-5)


def test_disabled_traces_xlas_convolution():
  x, w = jnp.ones((2, 8, 8, 4)), jnp.ones((3, 3, 4, 8))
  with cpu_kernels.disabled():
    assert "cs231n_conv2d" not in str(jax.make_jaxpr(lambda x, w: _ours(x, w, (1, 1), "SAME"))(x, w))
  assert "cs231n_conv2d" in str(jax.make_jaxpr(lambda x, w: _ours(x, w, (1, 1), "SAME"))(x, w))


@pytest.fixture
def fresh_availability(monkeypatch, tmp_path):
  """available() decides once per process: forget that decision, build into an empty cache."""
  monkeypatch.setenv("CS231N_JAX_KERNEL_CACHE", str(tmp_path))
  cpu_kernels.available.cache_clear()
  yield tmp_path
  monkeypatch.undo()
  cpu_kernels.available.cache_clear()
  assert cpu_kernels.available()


@pytest.mark.slow
def test_build_is_cached_and_reused(fresh_availability):
  cxx = cpu_kernels.compiler()
  library = cpu_kernels.build(cxx)
  assert library.parent == fresh_availability and library.stat().st_size > 0
  modified = library.stat().st_mtime_ns
  assert cpu_kernels.build(cxx) == library and library.stat().st_mtime_ns == modified
  # No temporary left behind: the library and the lock file builds of it take.
  assert sorted(p.name for p in fresh_availability.iterdir()) == sorted([library.name, library.stem + ".lock"])


@pytest.mark.parametrize("cause", ["no_compiler", "broken_compiler", "opted_out"])
def test_without_kernels_the_library_warns_once_and_uses_xla(fresh_availability, monkeypatch, cause):
  if cause == "no_compiler":
    monkeypatch.setattr(cpu_kernels, "compiler", lambda: None)
  elif cause == "broken_compiler":
    monkeypatch.setenv("CXX", "false")  # runs, prints nothing, fails: a compiler that cannot build
    monkeypatch.setattr(cpu_kernels.subprocess, "run", _fake_run_without_version(cpu_kernels.subprocess.run))
  else:
    monkeypatch.setenv("CS231N_JAX_XLA_DEFAULTS", "1")
  if cause == "opted_out":
    assert not cpu_kernels.available()
  else:
    with pytest.warns(UserWarning, match="XLA's own kernel"):
      assert not cpu_kernels.available()
  x, w = jnp.ones((2, 8, 8, 4)), jnp.ones((3, 3, 4, 8))
  jaxpr = str(jax.make_jaxpr(jax.grad(lambda x, w: _ours(x, w, (1, 1), "SAME").sum(), (0, 1)))(x, w))
  assert "cs231n_conv2d" not in jaxpr and "conv_general_dilated" in jaxpr
  layer = norms.BatchNorm(use_running_average=False, relu=True)
  variables = layer.init(jax.random.PRNGKey(0), x)
  assert "cs231n_batch_norm" not in str(jax.make_jaxpr(lambda v, x: layer.apply(v, x, mutable=["batch_stats"]))(variables, x))
  assert list(fresh_availability.glob("*.so")) == []


def _fake_run_without_version(run):
  """`false --version` fails; answer it so that build() gets as far as the compile step."""
  def fake(command, *args, **kwargs):
    if command[-1] == "--version":
      return run(["echo", "false 1.0"], *args, **kwargs)
    return run(command, *args, **kwargs)
  return fake


def test_export_gets_xlas_convolutions_without_being_asked():
  """jax.export refuses custom calls: a program lowered for export (for the CPU, a TPU or a GPU)
  gets XLA's own convolution from the kernels' CPU lowering, with no disabled() needed."""
  f = lambda x, w: _ours(x, w, (1, 1), "SAME")
  args = (jax.ShapeDtypeStruct((2, 8, 8, 4), jnp.float32), jax.ShapeDtypeStruct((3, 3, 4, 8), jnp.float32))
  assert "cs231n_conv2d" in jax.jit(f).lower(*args).as_text()  # jit on this CPU: the kernel
  grad = jax.jit(jax.grad(lambda x, w: f(x, w).sum(), (0, 1)))
  for platforms in (["cpu"], ["tpu"], ["cuda"], ["cpu", "tpu"]):
    text = jax.export.export(grad, platforms=platforms)(*args).mlir_module()
    assert "custom_call" not in text and "stablehlo.convolution" in text, platforms
  exported = jax.export.export(jax.jit(f))(*args)
  x = jax.random.normal(jax.random.PRNGKey(0), (2, 8, 8, 4))
  w = jax.random.normal(jax.random.PRNGKey(1), (3, 3, 4, 8))
  restored = jax.export.deserialize(exported.serialize())
  np.testing.assert_allclose(restored.call(x, w), _reference(x, w, (1, 1), "SAME"), rtol=1e-5, atol=1e-5)


def test_the_build_waits_for_another_process_and_gives_up_after_its_timeout(tmp_path, monkeypatch):
  import fcntl

  monkeypatch.setenv("CS231N_JAX_KERNEL_CACHE", str(tmp_path))
  cxx = cpu_kernels.compiler()
  key_probe = []
  monkeypatch.setattr(cpu_kernels, "_build_lock", _recording_lock(cpu_kernels._build_lock, key_probe))
  with pytest.raises(TimeoutError, match="waited 1 s for another process"):
    with _held_lock(fcntl):
      cpu_kernels.build(cxx, timeout=1.0)
  assert key_probe and not list(tmp_path.glob("*.so"))  # nothing built while the lock was held


def _recording_lock(lock, seen):
  def record(path, timeout):
    seen.append(path)
    return lock(path, timeout)
  return record


@contextlib.contextmanager
def _held_lock(fcntl):
  """Holds the lock file a build of this cache takes (as another process building it would)."""
  with open(cpu_kernels.library_path(cpu_kernels.compiler()).with_suffix(".lock"), "w") as handle:
    fcntl.flock(handle, fcntl.LOCK_EX)
    try:
      yield
    finally:
      fcntl.flock(handle, fcntl.LOCK_UN)


def test_the_cache_key_follows_the_cpu_on_x86_and_arm():
  x86 = "processor\t: 0\nmodel name\t: AMD EPYC\nflags\t\t: fpu avx2 avx512f\n\nprocessor\t: 1\nflags\t: other"
  arm = ("processor\t: 0\nBogoMIPS\t: 50.00\nFeatures\t: fp asimd sve2\nCPU implementer\t: 0x41\n"
         "CPU architecture: 8\nCPU variant\t: 0x0\nCPU part\t: 0xd4f\nCPU revision\t: 1\n")
  assert cpu_kernels._cpu_signature(x86, "x86_64") == "x86_64\nmodel name\t: AMD EPYC\nflags\t\t: fpu avx2 avx512f"
  arm_signature = cpu_kernels._cpu_signature(arm, "aarch64")
  assert "Features\t: fp asimd sve2" in arm_signature and "CPU part\t: 0xd4f" in arm_signature
  assert cpu_kernels._cpu_signature(arm.replace("sve2", "sve"), "aarch64") != arm_signature


@pytest.mark.parametrize("version,tested", [("0.10.2", True), ("0.10.9", True), ("0.11.0", False),
                                            ("0.9.1", False), ("0.10.2rc1", True)])
def test_the_kernels_run_only_on_the_tested_jax_versions(version, tested):
  assert cpu_kernels.jax_version_tested(version) is tested
