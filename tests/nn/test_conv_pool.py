"""conv_pool.Conv / max_pool compute what flax.linen.Conv / max_pool compute, with XLA's own
gradients (bitwise for the pool, ties included), in reverse and forward mode.

The convolution tests here cover XLA's own convolutions as the library writes them (inside
``cpu_kernels.disabled()``: the path where the CPU kernels are not built or do not apply); the
kernels themselves are tested in test_cpu_kernels.py."""

import re

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax import lax

from cs231n_jax.cpu import compiling_for, rewrites
from cs231n_jax.cpu import kernels as cpu_kernels
from cs231n_jax.cpu.rewrites import materialized, xla_default_lowering
from cs231n_jax.nn.conv_pool import Conv, max_pool


@pytest.fixture(autouse=True)
def traced_for_the_cpu():
  """The rewrites and kernels apply to functions traced for the CPU, as the engine's steps are."""
  with compiling_for("cpu"):
    yield


def _vjp(f, x, g):
  return jax.vjp(f, x)[1](g)[0]


@pytest.mark.parametrize("values", ["random", "ties", "relu_ties"])
def test_tiled_max_pool_gradient_is_bitwise_select_and_scatter(values):
  x = jax.random.normal(jax.random.PRNGKey(0), (3, 8, 6, 5))
  if values != "random":
    x = jnp.round(x)  # many equal values per window: the first maximum must get the gradient
  if values == "relu_ties":
    x = jax.nn.relu(x)
  g = jax.random.normal(jax.random.PRNGKey(1), (3, 4, 3, 5))
  ours, flax_pool = (lambda v: max_pool(v, (2, 2), strides=(2, 2))), (lambda v: nn.max_pool(v, (2, 2), strides=(2, 2)))
  np.testing.assert_array_equal(ours(x), flax_pool(x))
  np.testing.assert_array_equal(_vjp(ours, x, g), _vjp(flax_pool, x, g))
  # Under jit as well, and in forward mode (custom_jvp, not custom_vjp).
  np.testing.assert_array_equal(jax.jit(lambda v: _vjp(ours, v, g))(x), _vjp(flax_pool, x, g))
  t = jax.random.normal(jax.random.PRNGKey(2), x.shape)
  np.testing.assert_array_equal(jax.jvp(ours, (x,), (t,))[1], jax.jvp(flax_pool, (x,), (t,))[1])
  np.testing.assert_array_equal(jax.jit(ours)(x), flax_pool(x))


def test_tiled_max_pool_gradient_computes_the_maximum_once():
  x, g = jnp.ones((2, 8, 8, 3)), jnp.ones((2, 4, 4, 3))
  jaxpr = str(jax.make_jaxpr(lambda v: jax.vjp(lambda u: max_pool(u, (2, 2), strides=(2, 2)), v)[1](g))(x))
  assert jaxpr.count("reduce_max") == 1 and "reduce_window" not in jaxpr


@pytest.mark.slow
def test_tiled_max_pool_with_leftover_rows_and_3x3_windows():
  x = jax.random.normal(jax.random.PRNGKey(0), (2, 7, 10, 3))  # 7 rows: the last one fits no window
  for window in ((2, 2), (3, 3), (2, 5)):
    g = jax.random.normal(jax.random.PRNGKey(1), (2, 7 // window[0], 10 // window[1], 3))
    ours = lambda v, w=window: max_pool(v, w, strides=w)
    ref = lambda v, w=window: nn.max_pool(v, w, strides=w)
    np.testing.assert_array_equal(ours(x), ref(x))
    np.testing.assert_array_equal(_vjp(ours, x, g), _vjp(ref, x, g))


@pytest.mark.parametrize("window,strides,padding", [((3, 3), (2, 2), "VALID"), ((2, 2), (2, 2), ((1, 1), (1, 1))),
                                                    ((3, 3), (1, 1), "SAME"), ((2, 2), None, "VALID")])
def test_other_pools_are_flax_max_pool(window, strides, padding):
  x = jax.random.normal(jax.random.PRNGKey(0), (2, 9, 9, 4))
  f = lambda v: max_pool(v, window, strides=strides, padding=padding)
  ref = lambda v: nn.max_pool(v, window, strides=strides, padding=padding)
  out = f(x)
  g = jax.random.normal(jax.random.PRNGKey(1), out.shape)
  np.testing.assert_array_equal(out, ref(x))
  np.testing.assert_array_equal(_vjp(f, x, g), _vjp(ref, x, g))
  assert "select_and_scatter" in str(jax.make_jaxpr(lambda v: _vjp(f, v, g))(x)) or "reduce_window" in str(
      jax.make_jaxpr(lambda v: _vjp(f, v, g))(x))


def _conv_pair(channels, dtype=jnp.float32, **kwargs):
  x = jax.random.normal(jax.random.PRNGKey(0), (2, 9, 9, channels), dtype)
  ours, ref = Conv(4, (3, 3), **kwargs), nn.Conv(4, (3, 3), **kwargs)
  v = ref.init(jax.random.PRNGKey(1), x)
  assert jax.tree.map(jnp.shape, ours.init(jax.random.PRNGKey(1), x)) == jax.tree.map(jnp.shape, v)
  return x, v, ours, ref


@pytest.mark.slow
@pytest.mark.parametrize("channels,kwargs", [(3, {}), (5, {"strides": 2, "padding": "VALID"}),
                                             (3, {"kernel_dilation": 2, "use_bias": False})])
def test_odd_channel_conv_equals_flax_conv_with_the_same_gradients(channels, kwargs):
  with jax.enable_x64(True), cpu_kernels.disabled():
    x, v, ours, ref = _conv_pair(channels, jnp.float64, **kwargs)
    assert "pad[" in str(jax.make_jaxpr(lambda x: ours.apply(v, x))(x))  # the hook is in use
    np.testing.assert_allclose(ours.apply(v, x), ref.apply(v, x), rtol=1e-12, atol=1e-12)
    loss = lambda m: (lambda p, x: jnp.sum(jnp.sin(m.apply(p, x))))
    (gp1, gx1), (gp2, gx2) = jax.grad(loss(ours), (0, 1))(v, x), jax.grad(loss(ref), (0, 1))(v, x)
    for a, b in zip(jax.tree.leaves((gp1, gx1)), jax.tree.leaves((gp2, gx2))):
      np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)
    # Forward mode and a Hessian-vector product (forward over reverse) work and agree too.
    t = jax.random.normal(jax.random.PRNGKey(3), x.shape, jnp.float64)
    np.testing.assert_allclose(jax.jvp(lambda x: ours.apply(v, x), (x,), (t,))[1],
                               jax.jvp(lambda x: ref.apply(v, x), (x,), (t,))[1], rtol=1e-12, atol=1e-12)
    hvp = lambda m: jax.jvp(lambda x: jax.grad(loss(m), 1)(v, x), (x,), (t,))[1]
    np.testing.assert_allclose(hvp(ours), hvp(ref), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("channels", [1, 2, 4])
@cpu_kernels.disabled()
def test_one_or_even_channels_are_the_plain_convolution_with_bitwise_gradients(channels):
  x, v, ours, ref = _conv_pair(channels)
  assert "pad[" not in str(jax.make_jaxpr(lambda x: ours.apply(v, x))(x))
  np.testing.assert_array_equal(ours.apply(v, x), ref.apply(v, x))
  # The weight gradient reads the input through the identity matmul (on this CPU backend) and is
  # still XLA's own convolution of the same numbers: equal, not just close.
  loss = lambda m: (lambda p, x: jnp.sum(jnp.sin(m.apply(p, x))))
  grads = lambda m: jax.jit(jax.grad(loss(m), (0, 1)))(v, x)
  assert "dot_general" in str(jax.make_jaxpr(jax.grad(loss(ours)))(v, x))
  for a, b in zip(jax.tree.leaves(grads(ours)), jax.tree.leaves(grads(ref))):
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("dtype", [jnp.float32, jnp.bfloat16, jnp.float16])
def test_materialized_is_the_identity(dtype):
  x = (jax.random.normal(jax.random.PRNGKey(0), (3, 5, 4, 7)) * 1e3).astype(dtype)
  x = x.at[0, 0, 0, :].set(0).at[1, 1, 1, 1].set(jnp.finfo(dtype).max).at[2, 2, 2, 2].set(jnp.finfo(dtype).tiny)
  for axis in (3, 1):
    out = jax.jit(materialized, static_argnums=1)(x, axis)
    assert out.dtype == x.dtype
    np.testing.assert_array_equal(np.asarray(out, np.float64), np.asarray(x, np.float64))


def _widest_transposing_fusion(compiled_text: str) -> int:
  """Operands of the widest fusion whose name says it transposes (XLA:CPU's layout copies)."""
  return max([m.group(1).count("%") for m in re.finditer(r"%transpose[\w.\-]*fusion[\w.\-]* = \S+ fusion\(([^)]*)\)",
                                                        compiled_text)] or [0])


@pytest.mark.slow
def test_weight_gradient_copies_no_longer_recompute_the_residual_stream():
  """The reason for materialized(): in a ResNet-20 gradient XLA:CPU's transposing copies for the
  weight gradients recompute a stage's residual stream (many operands); with it they narrow."""
  from cs231n_jax.models import get_model

  model = get_model("resnet20")
  x = jax.random.normal(jax.random.PRNGKey(0), (8, 32, 32, 3))
  v = model.init(jax.random.PRNGKey(1), x, train=False)

  def make_grad():
    def loss(p):
      return model.apply({**v, "params": p}, x, train=True, mutable=["batch_stats"])[0].sum()
    return jax.grad(loss)

  cpu_text = lambda f: jax.jit(f).lower(v["params"]).compile().as_text()
  with xla_default_lowering():
    before = _widest_transposing_fusion(cpu_text(make_grad()))
  with cpu_kernels.disabled():
    after = _widest_transposing_fusion(cpu_text(make_grad()))
  assert after < before, (after, before)


def test_grouped_convolution_is_untouched():
  x = jax.random.normal(jax.random.PRNGKey(0), (2, 6, 6, 3))
  ours, ref = Conv(6, (3, 3), feature_group_count=3), nn.Conv(6, (3, 3), feature_group_count=3)
  v = ref.init(jax.random.PRNGKey(1), x)
  np.testing.assert_array_equal(ours.apply(v, x), ref.apply(v, x))


def test_xla_default_lowering_switches_both_rewrites_off_while_tracing():
  x = jax.random.normal(jax.random.PRNGKey(0), (2, 8, 8, 3))
  conv = Conv(4, (3, 3))
  v = conv.init(jax.random.PRNGKey(1), x)
  make_f = lambda: (lambda x: jax.grad(lambda x: jnp.sum(max_pool(conv.apply(v, x), (2, 2), strides=(2, 2)) ** 2))(x))
  with xla_default_lowering():
    before = str(jax.make_jaxpr(make_f())(x))  # a fresh function: JAX caches traces by function
  with cpu_kernels.disabled():
    after_without_kernels = str(jax.make_jaxpr(make_f())(x))
  after = str(jax.make_jaxpr(make_f())(x))
  assert "select_and_scatter" in before and "pad[" not in before and "cs231n_conv2d" not in before
  assert "select_and_scatter" not in after_without_kernels and "pad[" in after_without_kernels
  assert "select_and_scatter" not in after and "cs231n_conv2d" in after


@pytest.mark.parametrize("strides", [(1, 1), (2, 2)])
@cpu_kernels.disabled()
def test_gradients_inside_scan_use_xla_cpus_own_convolution_layout(strides):
  """In a lax.scan body XLA:CPU does not copy a convolution's operands into its own layout (it did
  outside loops) and ran the convolution on a generic path, ~30x slower. Every convolution of the
  scanned gradient must read NHWC by HWIO into NHWC, and the gradients must equal the unrolled ones."""
  conv = lambda x, w: rewrites.conv_general_dilated(x, w, strides, "SAME", dimension_numbers=("NHWC", "HWIO", "NHWC"))
  pool_back = lambda y: jnp.repeat(jnp.repeat(y, strides[0], 1), strides[1], 2)  # keep the carry's shape

  def scanned(x, ws):
    return lax.scan(lambda h, w: (pool_back(jnp.tanh(conv(h, w))), None), x, ws)[0].sum()

  def unrolled(x, ws):
    for w in ws:
      x = pool_back(jnp.tanh(conv(x, w)))
    return x.sum()

  x = jax.random.normal(jax.random.PRNGKey(0), (4, 8, 8, 6))
  ws = 0.2 * jax.random.normal(jax.random.PRNGKey(1), (3, 3, 3, 6, 6))
  grad = lambda f: jax.jit(jax.grad(f, argnums=(0, 1)))
  compiled = grad(scanned).lower(x, ws).compile().as_text()
  labels = re.findall(r" convolution\([^\n]*dim_labels=(\S+?),", compiled)
  assert len(labels) == 3 and set(labels) == {"b01f_01io->b01f"}  # forward, input and weight gradient
  for a, b in zip(grad(scanned)(x, ws), grad(unrolled)(x, ws)):
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
